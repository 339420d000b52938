"""Between the browser and the renderer: cameras from the page, pictures for the page.

The browser's camera (viser) uses the project's own axes (OpenCV: x right, y down, z forward), so its
rotation and position are the camera-to-world matrix as they are; its field of view is vertical. Every
picture is ``uint8 [H, W, 3]``.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import numpy as np
import torch
from torch import Tensor

from nerfplex.cameras import Cameras
from nerfplex.eval.view_rendering import image_normals, normals_image
from nerfplex.eval.visualize import colormap
from nerfplex.losses.s3im import S3IMConfig, virtual_image_indices
from nerfplex.losses.ssim import ssim_map

OutputName = Literal["rgb", "depth", "opacity", "normals", "s3im"]
OUTPUTS: tuple[OutputName, ...] = ("rgb", "depth", "opacity", "normals", "s3im")


def quaternion_to_rotation(wxyz: np.ndarray) -> np.ndarray:
    """Rotation matrix ``[3, 3]`` of a quaternion ``(w, x, y, z)`` (normalised here)."""
    w, x, y, z = np.asarray(wxyz, dtype=np.float64) / np.linalg.norm(wxyz)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def rotation_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """Quaternion ``(w, x, y, z)`` with ``w >= 0`` of a rotation matrix ``[3, 3]``."""
    from nerfplex.eval.camera_paths import matrix_to_quaternion

    return matrix_to_quaternion(torch.as_tensor(rotation, dtype=torch.float64)).numpy()


def image_size(aspect: float, long_side: int) -> tuple[int, int]:
    """``(width, height)`` of an image of ``aspect`` (width / height) whose longer side is ``long_side``."""
    if aspect >= 1:
        return long_side, max(1, round(long_side / aspect))
    return max(1, round(long_side * aspect)), long_side


def browser_camera(wxyz: np.ndarray, position: np.ndarray, fov_y: float, width: int, height: int) -> Cameras:
    """One pinhole camera ``width x height`` at the browser's pose (vertical field of view ``fov_y``,
    radians), principal point at the image centre."""
    c2w = np.concatenate([quaternion_to_rotation(wxyz), np.asarray(position, np.float64)[:, None]], axis=1)
    focal = (height / 2) / math.tan(fov_y / 2)
    one = torch.ones(1)
    return Cameras(
        torch.tensor(c2w, dtype=torch.float32)[None],
        one * focal,
        one * focal,
        one * (width / 2),
        one * (height / 2),
        width,
        height,
    )


def camera_pose(cameras: Cameras, index: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``(wxyz, position, fov_y, aspect)`` of camera ``index``, for frustums and for flying to it."""
    c2w = cameras.c2w[index].double().numpy()
    fov_y = 2 * math.atan(cameras.height / (2 * float(cameras.fy[index])))
    return rotation_to_quaternion(c2w[:, :3]), c2w[:, 3].copy(), fov_y, cameras.width / cameras.height


def quick_frame_size(
    aspect: float, max_long_side: int, pixel_budget: float, min_long_side: int = 16
) -> tuple[int, int]:
    """``(width, height)`` of the quick frame after a move: the longer side ``max_long_side``, smaller
    when that would be more than about ``pixel_budget`` pixels (a slow model), but not below ``min_long_side``
    (nor above ``max_long_side``)."""
    elongation = max(aspect, 1 / aspect)  # long side / short side
    fitting = int(math.sqrt(max(pixel_budget, 1.0) * elongation))
    return image_size(aspect, min(max_long_side, max(min_long_side, fitting)))


def pixel_order(count: int, seed: int = 0) -> Tensor:
    """A fixed pseudo-random order of ``count`` pixels ``[count]`` (a generator of its own, never the
    global one). Any run of it is an even sample of the whole image, so a slice of the refined frame
    costs what its share of the pixels costs, wherever the scene is in the picture."""
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))


def to_uint8(image: Tensor) -> np.ndarray:
    """``[H, W, 3]`` floats in [0, 1] -> ``uint8`` numpy."""
    return (image.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()


def depth_picture(depth: Tensor, opacity: Tensor) -> Tensor:
    """Depth ``[H, W, 1]`` colour-mapped between its 2nd and 98th percentile over the opaque pixels
    (near: bright); empty pixels black. ``[H, W, 3]``."""
    solid = depth[opacity > 0.5]
    if solid.numel() < 2:
        solid = depth.reshape(-1)
    low, high = torch.quantile(solid.float(), torch.tensor([0.02, 0.98])).tolist()
    normalised = (depth[..., 0] - low) / max(high - low, 1e-8)
    return colormap(1.0 - normalised) * opacity.clamp(0, 1)


def output_picture(
    name: OutputName, rgb: Tensor, depth: Tensor, opacity: Tensor, normals: Optional[Tensor], camera: Cameras
) -> np.ndarray:
    """The picture of one rendered output (rgb, depth, opacity or normals) of a one-camera render."""
    if name == "rgb":
        picture = rgb
    elif name == "depth":
        picture = depth_picture(depth, opacity)
    elif name == "opacity":
        picture = opacity.expand(*opacity.shape[:2], 3)
    elif name == "normals":
        camera_normals, _ = image_normals(normals, depth, camera, 0)
        picture = normals_image(camera_normals, opacity)
    else:
        raise ValueError(f"not a rendered output: {name}")
    return to_uint8(picture)


def s3im_picture(rgb: Tensor, target: Tensor, config: S3IMConfig, seed: int = 0, scale: int = 3) -> np.ndarray:
    """The S3IM virtual images of one batch (rendered ``rgb [B, 3]`` above the ``target [B, 3]``) and,
    below them, the windows' dissimilarity ``1 - SSIM`` colour-mapped; each pixel ``scale`` x ``scale``.

    The permutations come from a generator of the viewer's own (``seed``), never the trainer's, so the
    picture shows what S3IM compares without touching training's random streams."""
    rgb, target = rgb.detach().float().cpu(), target.detach().float().cpu()
    generator = torch.Generator().manual_seed(seed)
    index, width = virtual_image_indices(len(rgb), config.repeat, config.patch_height, generator=generator)
    if width < 1:
        return np.zeros((8, 8, 3), np.uint8)

    def virtual(values: Tensor) -> Tensor:  # [H, W, 3]
        return values[index].reshape(config.patch_height, width, 3)

    pred_image, target_image = virtual(rgb), virtual(target)
    window = min(config.kernel_size, config.patch_height, width)
    similarity = ssim_map(
        pred_image.permute(2, 0, 1)[None],
        target_image.permute(2, 0, 1)[None],
        window_size=window,
        sigma=1.5,
        stride=config.stride,
        padding="zero",
    )
    dissimilarity = (1 - similarity.mean(dim=1))[0]  # [h', w']
    up = torch.nn.functional.interpolate(dissimilarity[None, None], size=(config.patch_height, width), mode="nearest")[
        0, 0
    ]
    gap = torch.full((2, width, 3), 0.5)  # grey rows between the three pictures
    stacked = torch.cat([pred_image, gap, target_image, gap, colormap(up.clamp(0, 1))], dim=0)
    stacked = stacked.repeat_interleave(scale, dim=0).repeat_interleave(scale, dim=1)
    return to_uint8(stacked)
