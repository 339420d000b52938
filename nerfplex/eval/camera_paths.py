"""Camera paths for videos: orbit, spiral, interpolation through training cameras, JSON files.

Every path is computed for all frames at once (no loop over frames or pixels) and returned as
:class:`~nerfplex.cameras.Cameras` in the project's convention (OpenCV axes, c2w ``[N, 3, 4]``). The
scene's frame comes from the training cameras: ``up`` is their mean up vector (``-y`` of each camera),
the centre is the middle of the scene box, the radius and elevation are the cameras' mean distance and
mean elevation around that centre. Intrinsics are the first training camera's, optionally rescaled.

JSON paths (``nerfplex render --path json --path-file F``, and the ``camera_path.json`` that every
render writes) look like::

    {"format": "nerfplex-camera-path", "version": 1, "convention": "opencv",
     "width": 64, "height": 64, "fx": 76.8, "fy": 76.8, "cx": 32, "cy": 32,
     "frames": [{"c2w": [[...], [...], [...]]}, ...]}

``c2w`` is 3x4 or 4x4 camera-to-world; ``convention`` ``opengl`` (Blender, instant-ngp: y up, z back)
is converted. Intrinsics may also be given per frame, or as ``fov_x_deg``; missing ones default to the
training camera's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import torch
from torch import Tensor

from nerfplex.cameras import OPENGL_TO_OPENCV, Cameras, focal_from_fov, look_at
from nerfplex.errors import NerfplexError

PathKind = Literal["orbit", "spiral", "interpolate", "json"]


@dataclass
class SceneFrame:
    """Where the training cameras look from: ``center [3]``, unit ``up [3]``, ``start [3]`` (unit,
    orthogonal to up: the first training camera's azimuth), mean ``radius`` and ``elevation`` (radians)."""

    center: Tensor
    up: Tensor
    start: Tensor
    radius: float
    elevation: float


def scene_frame(train: Cameras, aabb: Optional[Tensor] = None) -> SceneFrame:
    """The frame of :class:`SceneFrame` from the training cameras and the scene box ``aabb [2, 3]``
    (default centre: the point nearest to all optical axes)."""
    c2w = train.c2w.double()
    positions = c2w[:, :, 3]
    up = -c2w[:, :, 1].mean(dim=0)
    if up.norm() < 1e-6:
        up = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    up = up / up.norm()
    if aabb is not None:
        center = aabb.double().mean(dim=0)
    else:  # least-squares point closest to every optical axis
        axes = c2w[:, :, 2] / c2w[:, :, 2].norm(dim=-1, keepdim=True)
        projector = torch.eye(3, dtype=torch.float64) - axes[:, :, None] * axes[:, None, :]
        rhs = (projector @ positions[:, :, None]).sum(0)
        center = torch.linalg.lstsq(projector.sum(0), rhs).solution[:, 0]
    offsets = positions - center
    distances = offsets.norm(dim=-1).clamp_min(1e-9)
    elevation = torch.asin(((offsets @ up) / distances).clamp(-1, 1)).mean()
    start = offsets[0] - (offsets[0] @ up) * up
    if start.norm() < 1e-6:  # first camera straight above: any horizontal direction
        start = torch.linalg.svd(torch.eye(3, dtype=torch.float64) - up[:, None] * up[None]).U[:, 0]
    return SceneFrame(
        center.float(), up.float(), (start / start.norm()).float(), float(distances.mean()), float(elevation)
    )


def _intrinsics_like(train: Cameras, count: int, scale: float) -> Cameras:
    """``count`` copies of the first training camera's intrinsics (images resized by ``scale``),
    identity poses."""
    first = train[0].scaled(scale) if scale != 1.0 else train[0]
    c2w = torch.eye(3, 4).expand(count, 3, 4).clone()
    return Cameras(
        c2w,
        first.fx.expand(count).clone(),
        first.fy.expand(count).clone(),
        first.cx.expand(count).clone(),
        first.cy.expand(count).clone(),
        first.width,
        first.height,
    )


def _looking_at_center(
    frame: SceneFrame, azimuth: Tensor, elevation: Tensor, radius: Tensor, template: Cameras
) -> Cameras:
    """Cameras at spherical coordinates around the centre, looking at it, up = the scene's up."""
    side = torch.linalg.cross(frame.up, frame.start)
    horizontal = torch.cos(azimuth)[:, None] * frame.start + torch.sin(azimuth)[:, None] * side
    direction = torch.cos(elevation)[:, None] * horizontal + torch.sin(elevation)[:, None] * frame.up
    eye = frame.center + radius[:, None] * direction
    c2w = look_at(eye, frame.center.expand_as(eye), frame.up)
    return Cameras(c2w, template.fx, template.fy, template.cx, template.cy, template.width, template.height)


def orbit_path(
    train: Cameras,
    num_frames: int,
    aabb: Optional[Tensor] = None,
    *,
    scale: float = 1.0,
    radius_scale: float = 1.0,
    elevation_deg: Optional[float] = None,
) -> Cameras:
    """One turn around the scene at the training cameras' mean distance (times ``radius_scale``) and
    mean elevation (or ``elevation_deg``), starting at the first training camera's azimuth; the last
    frame stops one step short of the first, so the video loops."""
    _check_frames(num_frames)
    frame = scene_frame(train, aabb)
    azimuth = torch.arange(num_frames, dtype=torch.float32) * (2 * math.pi / num_frames)
    elevation = torch.full_like(azimuth, math.radians(elevation_deg) if elevation_deg is not None else frame.elevation)
    radius = torch.full_like(azimuth, frame.radius * radius_scale)
    return _looking_at_center(frame, azimuth, elevation, radius, _intrinsics_like(train, num_frames, scale))


def spiral_path(
    train: Cameras,
    num_frames: int,
    aabb: Optional[Tensor] = None,
    *,
    scale: float = 1.0,
    radius_scale: float = 1.0,
    rotations: float = 2.0,
    elevation_amplitude_deg: float = 15.0,
    radius_amplitude: float = 0.1,
) -> Cameras:
    """``rotations`` turns around the scene while the elevation swings by ±``elevation_amplitude_deg``
    around the cameras' mean (one period) and the distance by ±``radius_amplitude`` (relative; one
    period per turn); closed, so the video loops."""
    _check_frames(num_frames)
    frame = scene_frame(train, aabb)
    phase = torch.arange(num_frames, dtype=torch.float32) * (2 * math.pi / num_frames)
    azimuth = rotations * phase
    elevation = (frame.elevation + math.radians(elevation_amplitude_deg) * torch.sin(phase)).clamp(
        -math.radians(89), math.radians(89)
    )
    radius = frame.radius * radius_scale * (1 + radius_amplitude * torch.sin(rotations * phase))
    return _looking_at_center(frame, azimuth, elevation, radius, _intrinsics_like(train, num_frames, scale))


# ----------------------------------------------------------------- interpolation


def matrix_to_quaternion(rotation: Tensor) -> Tensor:
    """Unit quaternions ``[..., 4]`` (w, x, y, z) of rotation matrices ``[..., 3, 3]``."""
    m = rotation
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # Four proportional estimates; the one with the largest leading term is numerically safe.
    candidates = torch.stack(
        [
            torch.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], dim=-1),
            torch.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], dim=-1),
        ],
        dim=-2,
    )  # [..., 4 candidates, 4]
    leading = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1)
    best = leading.argmax(dim=-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4))[..., 0, :]
    q = q / q.norm(dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(q: Tensor) -> Tensor:
    """Rotation matrices ``[..., 3, 3]`` of quaternions ``[..., 4]`` (w, x, y, z; normalised here)."""
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(*q.shape[:-1], 3, 3)


def slerp(q0: Tensor, q1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between unit quaternions ``[N, 4]`` at ``t [N]`` (shortest arc)."""
    dot = (q0 * q1).sum(dim=-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    angle = torch.acos(dot)
    t = t[:, None]
    small = angle < 1e-4
    sin = torch.sin(angle).clamp_min(1e-12)
    w0 = torch.where(small, 1 - t, torch.sin((1 - t) * angle) / sin)
    w1 = torch.where(small, t, torch.sin(t * angle) / sin)
    q = w0 * q0 + w1 * q1
    return q / q.norm(dim=-1, keepdim=True)


def catmull_rom(points: Tensor, segment: Tensor, u: Tensor, closed: bool) -> Tensor:
    """Uniform Catmull-Rom spline through ``points [K, 3]``: positions on segment ``segment [N]``
    (from point i to i+1) at local parameter ``u [N]`` in [0, 1]."""
    count = len(points)
    offsets = torch.arange(-1, 3)
    index = segment[:, None] + offsets  # [N, 4]
    index = index % count if closed else index.clamp(0, count - 1)
    p0, p1, p2, p3 = points[index].unbind(dim=1)
    u = u[:, None]
    return 0.5 * (2 * p1 + (p2 - p0) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2 + (3 * p1 - p0 - 3 * p2 + p3) * u**3)


def keyframes_by_azimuth(train: Cameras, count: int, aabb: Optional[Tensor] = None) -> list[int]:
    """``count`` training cameras evenly spread in azimuth around the scene's up axis, in azimuth order."""
    frame = scene_frame(train, aabb)
    offsets = train.c2w[:, :, 3] - frame.center
    side = torch.linalg.cross(frame.up, frame.start)
    azimuth = torch.atan2(offsets @ side, offsets @ frame.start) % (2 * math.pi)
    order = torch.argsort(azimuth)
    count = min(count, len(train))
    picks = torch.linspace(0, len(train), count + 1)[:-1].floor().long()
    return order[picks].tolist()


def interpolation_path(
    train: Cameras,
    num_frames: int,
    keyframes: Optional[list[int]] = None,
    *,
    aabb: Optional[Tensor] = None,
    num_keyframes: int = 8,
    closed: bool = True,
    scale: float = 1.0,
) -> Cameras:
    """A smooth path through training cameras ``keyframes`` (default: ``num_keyframes`` of them in
    azimuth order): Catmull-Rom positions, slerped rotations; ``closed`` returns to the first one."""
    _check_frames(num_frames)
    keys = keyframes if keyframes is not None else keyframes_by_azimuth(train, num_keyframes, aabb)
    if len(keys) < 2:
        raise NerfplexError("an interpolated path needs at least 2 keyframes (training cameras).")
    bad = [k for k in keys if not 0 <= k < len(train)]
    if bad:
        raise NerfplexError(f"keyframes {bad} are not training camera indices (0..{len(train) - 1}).")
    c2w = train.c2w[torch.tensor(keys)]
    segments = len(keys) if closed else len(keys) - 1
    if closed:
        s = torch.arange(num_frames, dtype=torch.float64) * (segments / num_frames)
    else:
        s = torch.linspace(0, segments, num_frames, dtype=torch.float64)
    segment = s.floor().long().clamp(max=segments - 1)
    u = (s - segment).float()
    positions = catmull_rom(c2w[:, :, 3], segment, u, closed)
    quaternions = matrix_to_quaternion(c2w[:, :, :3])
    next_index = (segment + 1) % len(keys)
    rotations = quaternion_to_matrix(slerp(quaternions[segment], quaternions[next_index], u))
    template = _intrinsics_like(train, num_frames, scale)
    return Cameras(
        torch.cat([rotations, positions[:, :, None]], dim=-1),
        template.fx,
        template.fy,
        template.cx,
        template.cy,
        template.width,
        template.height,
    )


# ----------------------------------------------------------------- JSON


def path_to_json(cameras: Cameras, fps: Optional[float] = None) -> dict:
    """The JSON form of a path (per-frame intrinsics only when they differ)."""
    data = {
        "format": "nerfplex-camera-path",
        "version": 1,
        "convention": "opencv",
        "width": cameras.width,
        "height": cameras.height,
    }
    same = all(bool((v == v[0]).all()) for v in (cameras.fx, cameras.fy, cameras.cx, cameras.cy))
    if same:
        data.update(fx=float(cameras.fx[0]), fy=float(cameras.fy[0]), cx=float(cameras.cx[0]), cy=float(cameras.cy[0]))
    if fps is not None:
        data["fps"] = fps
    frames = []
    for i in range(len(cameras)):
        frame = {"c2w": [[round(float(v), 7) for v in row] for row in cameras.c2w[i]]}
        if not same:
            frame.update(
                fx=float(cameras.fx[i]), fy=float(cameras.fy[i]), cx=float(cameras.cx[i]), cy=float(cameras.cy[i])
            )
        frames.append(frame)
    data["frames"] = frames
    return data


def load_path_json(path: Path, train: Cameras, scale: float = 1.0) -> Cameras:
    """Read a camera path file (format in the module docstring); defaults from the training cameras."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NerfplexError(f"camera path file {path} does not exist.") from None
    except json.JSONDecodeError as err:
        raise NerfplexError(f"{path} is not valid JSON: {err}.") from None
    frames = data.get("frames") if isinstance(data, dict) else None
    if not isinstance(frames, list) or not frames:
        raise NerfplexError(
            f"{path}: expected an object with a non-empty 'frames' list, each frame with a "
            f"'c2w' matrix (see docs/evaluation.md)."
        )
    convention = data.get("convention", "opencv")
    if convention not in ("opencv", "opengl"):
        raise NerfplexError(f"{path}: 'convention' must be 'opencv' or 'opengl', got {convention!r}.")
    template = _intrinsics_like(train, 1, scale)
    width = int(data.get("width", template.width))
    height = int(data.get("height", template.height))
    sx, sy = width / template.width, height / template.height
    default_fx = (
        focal_from_fov(math.radians(float(data["fov_x_deg"])), width)
        if "fov_x_deg" in data
        else float(template.fx[0]) * sx
    )
    defaults = {
        "fx": data.get("fx", default_fx),
        "fy": data.get("fy", data.get("fx", default_fx if "fov_x_deg" in data else float(template.fy[0]) * sy)),
        "cx": data.get("cx", width / 2),
        "cy": data.get("cy", height / 2),
    }
    matrices, intrinsics = [], {key: [] for key in defaults}
    for number, frame in enumerate(frames):
        try:
            c2w = torch.tensor(frame["c2w"], dtype=torch.float32)
        except (KeyError, TypeError, ValueError):
            raise NerfplexError(f"{path}: frame {number} needs 'c2w', a 3x4 or 4x4 list of numbers.") from None
        if c2w.shape not in ((3, 4), (4, 4)) or not bool(torch.isfinite(c2w).all()):
            raise NerfplexError(
                f"{path}: frame {number} 'c2w' has shape {tuple(c2w.shape)}; expected 3x4 or 4x4 finite numbers."
            )
        matrices.append(c2w[:3])
        for key in defaults:
            intrinsics[key].append(float(frame.get(key, defaults[key])))
    c2w = torch.stack(matrices)
    if convention == "opengl":
        c2w = torch.cat([c2w[:, :, :3] @ OPENGL_TO_OPENCV, c2w[:, :, 3:]], dim=-1)
    rotation_error = (c2w[:, :, :3].transpose(1, 2) @ c2w[:, :, :3] - torch.eye(3)).abs().amax()
    if rotation_error > 1e-3:
        raise NerfplexError(
            f"{path}: the c2w rotations are not orthonormal (error "
            f"{float(rotation_error):.3g}); scaled or sheared poses are not supported."
        )
    return Cameras(c2w, *(torch.tensor(intrinsics[k]) for k in ("fx", "fy", "cx", "cy")), width, height)


def _check_frames(num_frames: int) -> None:
    if num_frames < 1:
        raise NerfplexError(f"a camera path needs at least 1 frame, got {num_frames}.")
