"""LLFF scenes (``poses_bounds.npy`` + ``images/``: NeRF's forward-facing scenes, Mip-NeRF 360) -> SceneData.

Layout::

    scene/
      poses_bounds.npy        [N, 17] float: per image a 3x5 matrix [R | t | (H, W, focal)] flattened
                              row-major, then the near / far depth bounds of what it sees
      images/ (+ images_4/ images_8/ ...)   N photographs in sorted name order

Read as the NeRF authors' ``load_llff_data`` does (LLFF's rotation columns are (down, right, backwards);
they become (right, up, backwards), OpenGL axes, and then nerfplex's OpenCV axes):

* scale: positions and bounds times ``1 / (0.75 * min(bounds))`` (``bd_factor = 0.75``);
* recentre: every pose is expressed in the frame of the average pose (mean centre, mean viewing axis,
  mean up), so the scene lies along ``-z`` of the world;
* intrinsics: ``focal`` from the file (for an ``images_N/`` folder, ``focal / N`` and the principal point
  at the centre of those images, as NeRF); without ``images_N/`` the full images are area-downscaled;
* split: images sorted by name, every ``test_every``-th held out (``llffhold = 8``);
* bounds: ``scene.extras["bounds"]`` ``[N, 2]`` per image (scaled). Without NDC, ``near = 0.9 min``,
  ``far = max`` times the ray length per unit depth at the image corner (nerfplex's bounds are
  distances along unit rays, NeRF's are depths); the box holds every camera's frustum between them.
* ``ndc=True`` (forward-facing scenes, NeRF's default for LLFF): rays are warped to NDC with near plane 1
  (:mod:`nerfplex.ndc`, applied by :class:`nerfplex.cameras.Cameras`); the box is the NDC slab
  ``z' in [-1, 1]`` around every ray, near 0, so clipping to it samples NeRF's ``t' in [0, 1]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nerfplex.cameras import OPENGL_TO_OPENCV, Cameras
from nerfplex.data.files import read_npy
from nerfplex.data.image_stack import check_downscale, read_image_stack
from nerfplex.data.images import read_image
from nerfplex.data.scene import SceneData, SceneSplit
from nerfplex.errors import NerfplexError
from nerfplex.ndc import NDCSpace, ndc_rays

__all__ = ["load_llff", "llff_to_opengl", "recentre", "LLFF_TEST_EVERY", "BD_FACTOR", "IMAGE_SUFFIXES"]

LLFF_TEST_EVERY = 8
"""NeRF's ``llffhold``."""
BD_FACTOR = 0.75
"""NeRF's ``bd_factor``: the nearest bound becomes ``1 / 0.75``."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
"""NeRF reads files ending in JPG / jpg / png (any case here)."""


def llff_to_opengl(poses: np.ndarray) -> np.ndarray:
    """LLFF's ``[N, 3, 4]`` (rotation columns down, right, backwards) -> OpenGL axes (right, up, backwards)."""
    return np.concatenate([poses[:, :, 1:2], -poses[:, :, 0:1], poses[:, :, 2:]], axis=2)


def recentre(c2w_gl: np.ndarray) -> np.ndarray:
    """NeRF's ``recenter_poses``: ``[N, 3, 4]`` OpenGL poses in the frame of their average pose."""
    centre = c2w_gl[:, :, 3].mean(0)
    forward = c2w_gl[:, :, 2].sum(0)
    forward /= np.linalg.norm(forward)
    up = c2w_gl[:, :, 1].sum(0)
    right = np.cross(up, forward)
    right /= np.linalg.norm(right)
    up = np.cross(forward, right)
    avg = np.eye(4)
    avg[:3] = np.stack([right, up / np.linalg.norm(up), forward, centre], axis=1)
    full = np.concatenate([c2w_gl, np.broadcast_to([0.0, 0.0, 0.0, 1.0], (len(c2w_gl), 1, 4))], axis=1)
    return (np.linalg.inv(avg) @ full)[:, :3]


def load_llff(
    root: str | Path, *, downscale: int = 1, test_every: int = LLFF_TEST_EVERY, ndc: bool = False
) -> SceneData:
    """Load an LLFF scene folder (module docstring)."""
    factor = check_downscale(downscale)
    root = Path(root)
    if isinstance(test_every, bool) or not isinstance(test_every, int) or test_every < 2:
        raise NerfplexError(f"test_every must be an integer >= 2, got {test_every!r}.")
    array = read_npy(root / "poses_bounds.npy", "LLFF poses file")
    if array.ndim != 2 or array.shape[1] != 17 or not np.issubdtype(array.dtype, np.number):
        raise NerfplexError(
            f"{root / 'poses_bounds.npy'} has shape {array.shape} ({array.dtype}); LLFF's file "
            f"is [N, 17] numbers (a 3x5 pose-and-hwf matrix and 2 bounds per image)."
        )
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise NerfplexError(f"{root / 'poses_bounds.npy'} holds NaN or infinite values; re-create it.")
    poses, bounds = array[:, :15].reshape(-1, 3, 5), array[:, 15:]
    if (bounds <= 0).any() or (bounds[:, 1] < bounds[:, 0]).any():
        bad = int(np.flatnonzero((bounds <= 0).any(1) | (bounds[:, 1] < bounds[:, 0]))[0])
        raise NerfplexError(
            f"{root / 'poses_bounds.npy'}: image {bad} has bounds {bounds[bad].tolist()}; near "
            f"and far depths must be positive with near <= far."
        )
    hwf = poses[0, :, 4]
    if (poses[:, :, 4] <= 0).any():
        raise NerfplexError(f"{root / 'poses_bounds.npy'}: the (H, W, focal) column must be positive.")

    full_paths = _image_files(root / "images", root)
    if len(full_paths) != len(poses):
        raise NerfplexError(
            f"{root / 'images'} holds {len(full_paths)} images but poses_bounds.npy has "
            f"{len(poses)} poses; LLFF pairs them in sorted name order, so the counts must match. "
            f"Remove extra files or restore missing ones."
        )
    small = root / f"images_{factor}"
    use_small = factor > 1 and small.is_dir()
    paths = _image_files(small, root) if use_small else full_paths
    if use_small and len(paths) != len(poses):
        raise NerfplexError(
            f"{small} holds {len(paths)} images but poses_bounds.npy has {len(poses)} poses; "
            f"re-create {small.name}/ or remove it (the full images are then downscaled)."
        )
    full_h, full_w = read_image(full_paths[0]).shape[:2]
    focal = hwf[2]
    if abs(full_w / hwf[1] - full_h / hwf[0]) > 0.01:
        raise NerfplexError(
            f"{full_paths[0]} is {full_w}x{full_h} but poses_bounds.npy says {hwf[1]:g}x{hwf[0]:g}"
            f" (W x H) with another aspect ratio; the images do not belong to these poses."
        )
    focal = focal * full_w / hwf[1]  # images/ smaller than the file's size: scale the focal with them

    c2w_gl = llff_to_opengl(poses[:, :, :4])
    scale = 1.0 / (bounds.min() * BD_FACTOR)
    c2w_gl[:, :, 3] *= scale
    bounds = bounds * scale
    c2w_gl = recentre(c2w_gl)
    c2w = c2w_gl.copy()
    c2w[:, :, :3] = c2w_gl[:, :, :3] @ OPENGL_TO_OPENCV.double().numpy()

    warned: set[str] = set()
    order = list(range(len(paths)))
    ids = {"train": [i for i in order if i % test_every], "test": [i for i in order if i % test_every == 0]}
    splits = {}
    for key, chosen in ids.items():
        stack = read_image_stack(
            [paths[i] for i in chosen], 1 if use_small else factor, warned, label=str(paths[0].parent)
        )
        if use_small:  # NeRF: focal / factor, principal point at the centre of the small images
            fx = focal / factor
            width, height = stack.width, stack.height
            cx, cy = width / 2.0, height / 2.0
        else:
            fx = focal / factor
            width, height = stack.width // factor, stack.height // factor
            cx, cy = stack.width / 2.0 / factor, stack.height / 2.0 / factor
        n = len(chosen)
        full = lambda v, n=n: torch.full((n,), float(v))  # noqa: E731
        space = NDCSpace(width / (2.0 * fx), height / (2.0 * fx), 1.0) if ndc else None
        cameras = Cameras(
            torch.from_numpy(c2w[chosen]).float(), full(fx), full(fx), full(cx), full(cy), width, height, None, space
        )
        splits[key] = SceneSplit(stack.rgb, stack.alpha, cameras, [paths[i].stem for i in chosen])
    all_cameras = torch.cat([splits["train"].cameras.c2w, splits["test"].cameras.c2w])
    reference = splits["train"].cameras
    if ndc:
        near, far, aabb = _ndc_bounds(reference, all_cameras)
    else:
        near, far, aabb = _frustum_bounds(reference, c2w, bounds)
    return SceneData(
        train=splits["train"],
        test=splits["test"],
        near=near,
        far=far,
        aabb=torch.tensor(aabb, dtype=torch.float32),
        name=root.name,
        extras={"layout": "llff", "bounds": torch.from_numpy(bounds).float(), "ndc": ndc, "llff_scale": scale},
    )


def _image_files(folder: Path, root: Path) -> list[Path]:
    """NeRF's ``sorted(os.listdir(...))`` of image files (plain name order)."""
    if not folder.is_dir():
        raise NerfplexError(
            f"{root} has poses_bounds.npy but no {folder.name}/ folder; put the photographs "
            f"(in the order of the poses) there."
        )
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise NerfplexError(f"{folder} holds no .jpg / .png images; put the LLFF scene's photographs there.")
    return files


def _corner_directions(cameras: Cameras) -> np.ndarray:
    """Camera-frame directions ``[4, 3]`` (z = 1) through the image corners of camera 0."""
    fx, fy, cx, cy = (float(v[0]) for v in (cameras.fx, cameras.fy, cameras.cx, cameras.cy))
    xs = np.array([0.0, cameras.width, 0.0, cameras.width])
    ys = np.array([0.0, 0.0, cameras.height, cameras.height])
    return np.stack([(xs - cx) / fx, (ys - cy) / fy, np.ones(4)], axis=1)


def _frustum_bounds(cameras: Cameras, c2w: np.ndarray, bounds: np.ndarray) -> tuple[float, float, np.ndarray]:
    corners = _corner_directions(cameras)
    per_depth = float(np.linalg.norm(corners, axis=1).max())
    near, far = 0.9 * float(bounds.min()), float(bounds.max()) * per_depth
    pts = []
    for depth in (0.9 * bounds.min(), bounds.max()):
        cam_pts = corners * depth  # [4, 3]
        pts.append(np.einsum("nij,kj->nki", c2w[:, :, :3], cam_pts) + c2w[:, None, :, 3])
    pts = np.concatenate(pts, axis=1).reshape(-1, 3)
    pts = np.concatenate([pts, c2w[:, :, 3]])
    return near, far, np.stack([pts.min(0), pts.max(0)])


def _ndc_bounds(cameras: Cameras, c2w: torch.Tensor) -> tuple[float, float, np.ndarray]:
    """Near 0, far the longest NDC segment, box: the corner rays' x / y extent (+5 %) and z' in [-1, 1]."""
    corners = torch.from_numpy(_corner_directions(cameras)).to(c2w)
    dirs = torch.einsum("nij,kj->nki", c2w[:, :, :3], corners).reshape(-1, 3)
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    origins = c2w[:, None, :, 3].expand(-1, 4, -1).reshape(-1, 3)
    o, d, length = ndc_rays(origins.double(), dirs.double(), cameras.ndc)
    ends = torch.cat([o, o + d * length]).numpy()
    lo, hi = ends[:, :2].min(0), ends[:, :2].max(0)
    pad = 0.05 * (hi - lo)
    aabb = np.array([[lo[0] - pad[0], lo[1] - pad[1], -1.0], [hi[0] + pad[0], hi[1] + pad[1], 1.0]])
    return 0.0, float(length.max()) * 1.01, aabb
