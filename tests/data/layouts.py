"""Write tiny datasets in each on-disk layout nerfplex reads (MonoSDF / sdfstudio, NSVF, IDR / NeuS DTU,
instant-ngp), from a rendered procedural scene, so that the parsers can be checked end to end:
the images agree with the cameras, and what a parser returns can be compared with what was written.

Used by the tests in this folder (through ``conftest.py``) and by ``tests/test_all_configs.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from nerfplex.data.procedural import make_procedural_scene
from nerfplex.data.scene import SceneData, SceneSplit, concat_splits

SIZE = 16


def tiny_scene(kind: str = "object", size: int = SIZE, n_train: int = 4, n_test: int = 2) -> SceneData:
    """A rendered procedural scene (object: RGBA on transparent; room: opaque, cameras inside)."""
    return make_procedural_scene(kind, size, n_train, n_test, seed=3)


def all_views(scene: SceneData) -> SceneSplit:
    """Train views then test views."""
    return concat_splits(scene.train, scene.test)


def to_u8(image: torch.Tensor) -> np.ndarray:
    return (image.clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.uint8)


def intrinsics_matrix(split: SceneSplit, i: int) -> np.ndarray:
    cams = split.cameras
    k = np.eye(4)
    k[0, 0], k[1, 1], k[0, 2], k[1, 2] = (float(t[i]) for t in (cams.fx, cams.fy, cams.cx, cams.cy))
    return k


def c2w4(split: SceneSplit, i: int) -> np.ndarray:
    m = np.eye(4)
    m[:3, :4] = split.cameras.c2w[i].double().numpy()
    return m


def z_depth(split: SceneSplit, i: int) -> np.ndarray:
    """``[H, W]`` z-depth of view ``i`` from its ray-distance depth (``inf`` stays ``inf``)."""
    cams = split.cameras
    u = np.arange(cams.width) + 0.5
    v = np.arange(cams.height) + 0.5
    x = (u[None, :] - float(cams.cx[i])) / float(cams.fx[i])
    y = (v[:, None] - float(cams.cy[i])) / float(cams.fy[i])
    return split.depth[i, ..., 0].double().numpy() / np.sqrt(x * x + y * y + 1.0)


# ----------------------------------------------------------------------------- MonoSDF / sdfstudio
def write_monosdf(
    views: SceneSplit,
    root: Path,
    *,
    aabb=((-1, -1, -1), (1, 1, 1)),
    near: float = 0.05,
    far: float = 6.0,
    mono: bool = True,
    mono_mask: bool = False,
    sensor_depth: bool = False,
    world_to_gt: bool = False,
) -> Path:
    """``root/meta_data.json`` + ``NNNNNN_rgb.png`` (+ ``_depth.npy``, ``_normal.npy`` [, ``_mask.npy``]),
    as MonoSDF's Replica / tnt_advanced archives; the colours are written as opaque RGB."""
    root.mkdir(parents=True, exist_ok=True)
    frames = []
    height, width = views.rgb.shape[1:3]
    for i in range(len(views)):
        stem = f"{i:06d}"
        iio.imwrite(root / f"{stem}_rgb.png", to_u8(views.rgb[i]))
        frame = {
            "rgb_path": f"{stem}_rgb.png",
            "camtoworld": c2w4(views, i).tolist(),
            "intrinsics": intrinsics_matrix(views, i).tolist(),
        }
        if mono:
            rng = np.random.default_rng(i)
            np.save(root / f"{stem}_depth.npy", rng.random((height, width)).astype(np.float32))
            normal = np.zeros((3, height, width), dtype=np.float32)
            normal[2] = 0.0  # camera-axis normal (0, 0, -1) facing the camera: stored as n / 2 + 0.5
            normal[0] = normal[1] = 0.5
            np.save(root / f"{stem}_normal.npy", normal)
            frame["mono_depth_path"] = f"{stem}_depth.npy"
            frame["mono_normal_path"] = f"{stem}_normal.npy"
            if mono_mask:
                np.save(root / f"{stem}_mask.npy", rng.random((height, width)) > 0.3)
        if sensor_depth:
            np.save(root / f"{stem}_sensor_depth.npy", z_depth(views, i).astype(np.float32))
            frame["sensor_depth_path"] = f"{stem}_sensor_depth.npy"
        frames.append(frame)
    meta = {
        "camera_model": "OPENCV",
        "height": int(height),
        "width": int(width),
        "has_mono_prior": mono,
        "scene_box": {
            "aabb": [list(aabb[0]), list(aabb[1])],
            "near": near,
            "far": far,
            "radius": 1.0,
            "collider_type": "box",
        },
        "frames": frames,
    }
    if world_to_gt:
        meta["worldtogt"] = np.diag([2.0, 2.0, 2.0, 1.0]).tolist()
    (root / "meta_data.json").write_text(json.dumps(meta, indent=1))
    return root


# ----------------------------------------------------------------------------- NSVF
def write_nsvf(
    scene: SceneData, root: Path, *, test_prefix: str = "1_", matrix_intrinsics: bool = True, bbox=None
) -> Path:
    """``root/{rgb,pose}/{0_,test_prefix}NNNN``, ``intrinsics.txt``, ``bbox.txt`` (cameras share the
    first training view's intrinsics). RGBA images keep their alpha."""
    (root / "rgb").mkdir(parents=True, exist_ok=True)
    (root / "pose").mkdir(exist_ok=True)
    for prefix, split in (("0_", scene.train), (test_prefix, scene.test)):
        for i in range(len(split)):
            image = split.rgb[i]
            if split.alpha is not None:
                a = split.alpha[i]
                image = torch.cat([torch.where(a > 0, image / a.clamp_min(1e-8), image), a], dim=-1)
            iio.imwrite(root / "rgb" / f"{prefix}{i:04d}.png", to_u8(image))
            np.savetxt(root / "pose" / f"{prefix}{i:04d}.txt", c2w4(split, i))
    k = intrinsics_matrix(scene.train, 0)
    if matrix_intrinsics:
        np.savetxt(root / "intrinsics.txt", k)
    else:  # NSVF synthetic / DeepVoxels: "f cx cy 0." then more lines
        (root / "intrinsics.txt").write_text(
            f"{k[0, 0]} {k[0, 2]} {k[1, 2]} 0.\n0. 0. 0.\n1.\n"
            f"{scene.train.cameras.height} {scene.train.cameras.width}\n"
        )
    box = scene.aabb.double().numpy() if bbox is None else np.asarray(bbox, dtype=np.float64)
    (root / "bbox.txt").write_text(" ".join(f"{v:.6f}" for v in box.reshape(-1)) + " 0.1\n")
    return root


# ----------------------------------------------------------------------------- DTU (IDR / NeuS)
DTU_SCALE_MAT = np.array([[300.0, 0, 0, -20.0], [0, 300.0, 0, 35.0], [0, 0, 300.0, 640.0], [0, 0, 0, 1]])
"""Maps the unit sphere to a millimetre world, as DTU's scale matrices do."""


def write_dtu(
    views: SceneSplit,
    root: Path,
    *,
    background=(0.4, 0.5, 0.6),
    camera_file="cameras_sphere.npz",
    projective_scales=None,
) -> Path:
    """``root/image/NNN.png`` (opaque photos: colour over ``background``), ``root/mask/NNN.png`` (alpha)
    and ``cameras_sphere.npz`` with ``world_mat_i = s_i K [R | t] scale_mat⁻¹``, ``scale_mat_i``."""
    (root / "image").mkdir(parents=True, exist_ok=True)
    (root / "mask").mkdir(exist_ok=True)
    bg = torch.tensor(background)
    arrays = {}
    scales = projective_scales or [2.0 if i % 3 else -1.5 for i in range(len(views))]
    for i in range(len(views)):
        alpha = views.alpha[i] if views.alpha is not None else torch.ones_like(views.rgb[i][..., :1])
        iio.imwrite(root / "image" / f"{i:03d}.png", to_u8(views.rgb[i] + (1 - alpha) * bg))
        iio.imwrite(root / "mask" / f"{i:03d}.png", to_u8(alpha.expand(-1, -1, 3)))
        c2w = c2w4(views, i)
        w2c = np.linalg.inv(c2w)
        k = intrinsics_matrix(views, i)
        p_norm = k @ w2c  # 4x4 with last row 0 0 0 1
        arrays[f"world_mat_{i}"] = scales[i] * p_norm @ np.linalg.inv(DTU_SCALE_MAT)
        arrays[f"scale_mat_{i}"] = DTU_SCALE_MAT
    np.savez(root / camera_file, **arrays)
    return root


# ----------------------------------------------------------------------------- instant-ngp
def write_ngp(
    views: SceneSplit,
    root: Path,
    *,
    ext: str = ".jpg",
    distortion=(0.05, -0.02, 0.001, -0.002),
    per_frame_first: bool = True,
) -> Path:
    """``root/transforms.json`` (OpenGL poses, top-level ``fl_x fl_y cx cy w h k1 k2 p1 p2``,
    ``aabb_scale``; frame 0 overrides its focal length and ``k1``) + ``root/images/NNNN{ext}``."""
    from nerfplex.cameras import OPENGL_TO_OPENCV

    (root / "images").mkdir(parents=True, exist_ok=True)
    cams = views.cameras
    frames = []
    for i in range(len(views)):
        name = f"images/{i:04d}{ext}"
        image = views.rgb[i] + (1 - views.alpha[i]) if views.alpha is not None else views.rgb[i]
        iio.imwrite(root / name, to_u8(image))
        c2w = c2w4(views, i)
        c2w[:3, :3] = c2w[:3, :3] @ OPENGL_TO_OPENCV.double().numpy()
        frames.append({"file_path": name, "transform_matrix": c2w.tolist()})
    k1, k2, p1, p2 = distortion
    meta = {
        "fl_x": float(cams.fx[0]),
        "fl_y": float(cams.fy[0]),
        "cx": float(cams.cx[0]),
        "cy": float(cams.cy[0]),
        "w": cams.width,
        "h": cams.height,
        "k1": k1,
        "k2": k2,
        "p1": p1,
        "p2": p2,
        "aabb_scale": 2,
        "frames": frames,
    }
    if per_frame_first:
        frames[0].update(fl_x=float(cams.fx[0]) * 1.1, k1=2 * k1)
    (root / "transforms.json").write_text(json.dumps(meta, indent=1))
    return root
