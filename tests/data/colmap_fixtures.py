"""Write tiny COLMAP models (binary and text, COLMAP's byte layout written out here independently of the
reader) and LLFF ``poses_bounds.npy`` scenes, with the ground truth the tests compare against."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from scipy.spatial.transform import Rotation

MODEL_IDS = {
    "SIMPLE_PINHOLE": 0,
    "PINHOLE": 1,
    "SIMPLE_RADIAL": 2,
    "RADIAL": 3,
    "OPENCV": 4,
    "OPENCV_FISHEYE": 5,
    "FULL_OPENCV": 6,
}


@dataclass
class Cam:
    camera_id: int
    model: str
    width: int
    height: int
    params: list


@dataclass
class Img:
    image_id: int
    name: str
    camera_id: int
    w2c: np.ndarray  # [3, 4]
    points2d: list = field(default_factory=list)  # (x, y, point3D_id)


def look_at_w2c(eye, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-to-camera ``[3, 4]`` (OpenCV axes: x right, y down, z forward)."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    rot = np.stack([x, y, z])  # rows: camera axes in world
    return np.concatenate([rot, -rot @ eye[:, None]], axis=1)


def quaternion_wxyz(rot: np.ndarray) -> np.ndarray:
    x, y, z, w = Rotation.from_matrix(rot).as_quat()
    return np.array([w, x, y, z])


def write_model(
    folder: Path, cameras: list[Cam], images: list[Img], points: dict[int, np.ndarray] | None, binary: bool = True
) -> Path:
    """COLMAP's cameras / images / points3D files (points None: no points3D file)."""
    folder.mkdir(parents=True, exist_ok=True)
    tracks: dict[int, list[tuple[int, int]]] = {pid: [] for pid in (points or {})}
    for im in images:
        for idx, (_, _, pid) in enumerate(im.points2d):
            if pid >= 0 and pid in tracks:
                tracks[pid].append((im.image_id, idx))
    if binary:
        data = struct.pack("<Q", len(cameras))
        for c in cameras:
            data += struct.pack("<iiQQ", c.camera_id, MODEL_IDS[c.model], c.width, c.height)
            data += struct.pack(f"<{len(c.params)}d", *c.params)
        (folder / "cameras.bin").write_bytes(data)
        data = struct.pack("<Q", len(images))
        for im in images:
            q = quaternion_wxyz(im.w2c[:, :3])
            data += struct.pack("<i7di", im.image_id, *q, *im.w2c[:, 3], im.camera_id)
            data += im.name.encode() + b"\x00" + struct.pack("<Q", len(im.points2d))
            for x, y, pid in im.points2d:
                data += struct.pack("<ddq", x, y, pid)
        (folder / "images.bin").write_bytes(data)
        if points is not None:
            data = struct.pack("<Q", len(points))
            for pid, xyz in points.items():
                data += struct.pack("<Q3d3Bd", pid, *xyz, 128, 128, 128, 0.5)
                data += struct.pack("<Q", len(tracks[pid]))
                for image_id, idx in tracks[pid]:
                    data += struct.pack("<ii", image_id, idx)
            (folder / "points3D.bin").write_bytes(data)
    else:
        lines = ["# Camera list with one line of data per camera:"]
        lines += [
            f"{c.camera_id} {c.model} {c.width} {c.height} " + " ".join(repr(float(p)) for p in c.params)
            for c in cameras
        ]
        (folder / "cameras.txt").write_text("\n".join(lines) + "\n")
        lines = ["# Image list with two lines of data per image:"]
        for im in images:
            q = quaternion_wxyz(im.w2c[:, :3])
            lines.append(
                " ".join(repr(float(v)) for v in (*q, *im.w2c[:, 3])).join([f"{im.image_id} ", ""])
                + f" {im.camera_id} {im.name}"
            )
            lines.append(" ".join(f"{x!r} {y!r} {pid}" for x, y, pid in im.points2d))
        (folder / "images.txt").write_text("\n".join(lines) + "\n")
        if points is not None:
            lines = ["# 3D point list with one line of data per point:"]
            for pid, xyz in points.items():
                track = " ".join(f"{a} {b}" for a, b in tracks[pid])
                x, y, z = (float(v) for v in xyz)
                lines.append(f"{pid} {x!r} {y!r} {z!r} 128 128 128 0.5 {track}".rstrip())
            (folder / "points3D.txt").write_text("\n".join(lines) + "\n")
    return folder


def project(cam: Cam, w2c: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """COLMAP's pixel coordinates ``[P, 2]`` of world points (OPENCV-family distortion written out here)."""
    pc = xyz @ w2c[:, :3].T + w2c[:, 3]
    x, y = pc[:, 0] / pc[:, 2], pc[:, 1] / pc[:, 2]
    p = list(cam.params)
    k1 = k2 = p1 = p2 = k3 = 0.0
    if cam.model == "SIMPLE_PINHOLE":
        fx = fy = p[0]
        cx, cy = p[1], p[2]  # noqa: E702
    elif cam.model == "PINHOLE":
        fx, fy, cx, cy = p
    elif cam.model == "SIMPLE_RADIAL":
        fx = fy = p[0]
        cx, cy, k1 = p[1], p[2], p[3]  # noqa: E702
    elif cam.model == "RADIAL":
        fx = fy = p[0]
        cx, cy, k1, k2 = p[1], p[2], p[3], p[4]  # noqa: E702
    elif cam.model == "OPENCV":
        fx, fy, cx, cy, k1, k2, p1, p2 = p
    elif cam.model == "OPENCV_FISHEYE":  # observations only need to be plausible: pinhole part
        fx, fy, cx, cy = p[:4]
    else:
        fx, fy, cx, cy, k1, k2, p1, p2, k3 = p[:9]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([fx * xd + cx, fy * yd + cy], axis=1)


@dataclass
class ColmapScene:
    root: Path
    cameras: list[Cam]
    images: list[Img]
    points: dict[int, np.ndarray]


def make_colmap_scene(
    root: Path,
    *,
    n_images: int = 10,
    size=(24, 16),
    model: str = "OPENCV",
    params=None,
    binary: bool = True,
    with_points: bool = True,
    n_points: int = 200,
    write_images: bool = True,
    seed: int = 0,
    two_cameras: bool = False,
) -> ColmapScene:
    """A ring of cameras around random points; names shuffled in id order so name order != id order."""
    rng = np.random.default_rng(seed)
    w, h = size
    if params is None:
        params = {
            "SIMPLE_PINHOLE": [20.0, 12.0, 8.0],
            "PINHOLE": [20.0, 22.0, 12.5, 7.5],
            "SIMPLE_RADIAL": [20.0, 12.0, 8.0, 0.05],
            "RADIAL": [20.0, 12.0, 8.0, 0.05, -0.01],
            "OPENCV": [20.0, 21.0, 12.3, 7.8, 0.04, -0.01, 0.002, -0.001],
            "FULL_OPENCV": [20.0, 21.0, 12.3, 7.8, 0.04, -0.01, 0.002, -0.001, 0.003, 0.0, 0.0, 0.0],
            "OPENCV_FISHEYE": [20.0, 21.0, 12.0, 8.0, 0.1, 0.0, 0.0, 0.0],
        }[model]
    cams = [Cam(1, model, w, h, list(params))]
    if two_cameras:
        cams.append(Cam(2, model, w, h, [v * 1.1 if i < 2 else v for i, v in enumerate(params)]))
    xyz = rng.uniform(-1.0, 1.0, size=(n_points, 3))
    points = {int(100 + i): xyz[i] for i in range(n_points)}
    order = rng.permutation(n_images)
    images = []
    for k in range(n_images):
        angle = 2 * math.pi * k / n_images
        eye = (4 * math.cos(angle) + 7.0, 4 * math.sin(angle) - 3.0, 1.5 + 0.2 * math.sin(3 * angle))
        w2c = look_at_w2c(eye, target=(7.0, -3.0, 0.0))
        # the model's world is offset and rotated so normalisation has work to do
        tilt = Rotation.from_euler("xyz", [0.3, -0.2, 0.5]).as_matrix()
        w2c = np.concatenate([w2c[:, :3] @ tilt.T, w2c[:, 3:]], axis=1)
        cam = cams[k % len(cams)]
        world = (xyz + np.array([7.0, -3.0, 0.0])) @ tilt.T
        pix = project(cam, w2c, world)
        points2d = [(float(u), float(v), pid) for (u, v), pid in zip(pix, points) if 0 <= u < w and 0 <= v < h]
        points2d.append((1.0, 1.0, -1))  # an unmatched 2D point
        images.append(Img(k + 1, f"frame_{order[k]:03d}.png", cam.camera_id, w2c, points2d))
    world_points = {pid: (p + np.array([7.0, -3.0, 0.0])) @ tilt.T for pid, p in points.items()}
    write_model(root / "sparse" / "0", cams, images, world_points if with_points else None, binary)
    if write_images:
        (root / "images").mkdir(parents=True, exist_ok=True)
        for im in images:
            iio.imwrite(root / "images" / im.name, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return ColmapScene(root, cams, images, world_points)


def write_llff(
    root: Path,
    c2w_llff: np.ndarray,
    bounds: np.ndarray,
    hwf: tuple[float, float, float],
    size: tuple[int, int],
    seed: int = 0,
    small: int | None = None,
) -> list[np.ndarray]:
    """``poses_bounds.npy`` from LLFF-axis poses ``[N, 3, 4]`` + bounds ``[N, 2]``, and N images."""
    rng = np.random.default_rng(seed)
    n = len(c2w_llff)
    hwf_col = np.broadcast_to(np.array(hwf, dtype=np.float64)[None, :, None], (n, 3, 1))
    mats = np.concatenate([c2w_llff, hwf_col], axis=2)  # [N, 3, 5]
    np.save(root / "poses_bounds.npy", np.concatenate([mats.reshape(n, 15), bounds], axis=1))
    (root / "images").mkdir(parents=True, exist_ok=True)
    images = []
    for i in range(n):
        image = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        iio.imwrite(root / "images" / f"IMG_{i:04d}.png", image)
        images.append(image)
        if small:
            (root / f"images_{small}").mkdir(exist_ok=True)
            iio.imwrite(root / f"images_{small}" / f"IMG_{i:04d}.png", image[::small, ::small])
    return images
