"""Read a COLMAP sparse model (``cameras``, ``images``, ``points3D``) as COLMAP writes it, binary or text.

The file formats are COLMAP's (``src/colmap/scene/reconstruction_io.cc``; unchanged from COLMAP 3.x to
4.x, which adds ``rigs`` / ``frames`` files that a single-sensor model does not need)::

    cameras.bin   uint64 count, then per camera: int32 camera_id, int32 model_id, uint64 width,
                  uint64 height, float64 params[n(model)]
    images.bin    uint64 count, then per image: int32 image_id, float64 qw qx qy qz, float64 tx ty tz
                  (world-to-camera), int32 camera_id, name (NUL-terminated), uint64 n_points2D,
                  n_points2D x (float64 x, float64 y, int64 point3D_id)
    points3D.bin  uint64 count, then per point: uint64 point3D_id, float64 x y z, uint8 r g b,
                  float64 error, uint64 track_length, track_length x (int32 image_id, int32 point2D_idx)

and ``cameras.txt`` / ``images.txt`` (two lines per image) / ``points3D.txt`` with the same fields and
``#`` comment lines. Every malformed file raises a :class:`NerfplexError` that names it (truncated,
unknown camera model, an image whose camera is missing, ...). Nothing here knows about nerfplex's
cameras: :mod:`nerfplex.data.colmap` turns a :class:`ColmapModel` into a scene.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from nerfplex.errors import NerfplexError

__all__ = [
    "CAMERA_MODELS",
    "ColmapCamera",
    "ColmapImage",
    "ColmapModel",
    "read_model",
    "find_model_files",
    "qvec_to_rotation",
]

CAMERA_MODELS: dict[int, tuple[str, int]] = {
    0: ("SIMPLE_PINHOLE", 3),
    1: ("PINHOLE", 4),
    2: ("SIMPLE_RADIAL", 4),
    3: ("RADIAL", 5),
    4: ("OPENCV", 8),
    5: ("OPENCV_FISHEYE", 8),
    6: ("FULL_OPENCV", 12),
    7: ("FOV", 5),
    8: ("SIMPLE_RADIAL_FISHEYE", 4),
    9: ("RADIAL_FISHEYE", 5),
    10: ("THIN_PRISM_FISHEYE", 12),
    11: ("RAD_TAN_THIN_PRISM_FISHEYE", 16),
    12: ("SIMPLE_DIVISION", 4),
    13: ("DIVISION", 5),
    14: ("SIMPLE_FISHEYE", 3),
    15: ("FISHEYE", 4),
    16: ("EUCM", 6),
    17: ("EQUIRECTANGULAR", 2),
}
"""COLMAP's camera model ids -> (name, number of parameters), as COLMAP 4.x numbers them."""
_MODEL_BY_NAME = {name: (model_id, n) for model_id, (name, n) in CAMERA_MODELS.items()}


@dataclass
class ColmapCamera:
    """One COLMAP camera: ``model`` name, image size in pixels, ``params`` in COLMAP's order."""

    camera_id: int
    model: str
    width: int
    height: int
    params: np.ndarray  # [n] float64


@dataclass
class ColmapImage:
    """One registered image: world-to-camera rotation (quaternion w x y z) and translation (OpenCV axes)."""

    image_id: int
    qvec: np.ndarray  # [4] float64, w x y z
    tvec: np.ndarray  # [3] float64
    camera_id: int
    name: str
    point3d_ids: np.ndarray  # [n_points2D] int64, -1 where the 2D point has no 3D point

    def world_to_camera(self) -> np.ndarray:
        """``[3, 4]`` float64 ``[R | t]`` mapping world points into camera coordinates."""
        return np.concatenate([qvec_to_rotation(self.qvec), self.tvec[:, None]], axis=1)


@dataclass
class ColmapModel:
    """A whole sparse model: cameras by id, images by id, points ``xyz [P, 3]`` with ids ``[P]``."""

    cameras: dict[int, ColmapCamera]
    images: dict[int, ColmapImage]
    point_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # [P]
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # [P, 3] float64
    point_errors: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [P] reprojection error, px
    folder: Optional[Path] = None
    has_points_file: bool = False


def qvec_to_rotation(qvec: np.ndarray) -> np.ndarray:
    """``[3, 3]`` rotation of a unit quaternion ``(w, x, y, z)`` (normalised first, as COLMAP does)."""
    w, x, y, z = np.asarray(qvec, dtype=np.float64) / np.linalg.norm(qvec)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def find_model_files(folder: Path) -> tuple[str, dict[str, Path]]:
    """``("bin" | "txt", {"cameras", "images", "points3D"})`` of the model in ``folder`` (binary wins).

    ``points3D`` is absent from the dict when the model has no points file."""
    for ext in ("bin", "txt"):
        cameras, images = folder / f"cameras.{ext}", folder / f"images.{ext}"
        if cameras.is_file() and images.is_file():
            files = {"cameras": cameras, "images": images}
            if (folder / f"points3D.{ext}").is_file():
                files["points3D"] = folder / f"points3D.{ext}"
            return ext, files
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    raise NerfplexError(
        f"no COLMAP model in {folder}: it needs cameras.bin + images.bin (+ points3D.bin) or "
        f"the .txt files COLMAP writes with model_converter; it holds {present or 'nothing'}. "
        f"Run `nerfplex process-data` on the images to make one."
    )


def read_model(folder: Path) -> ColmapModel:
    """Read the sparse model in ``folder`` and check that every image's camera exists."""
    folder = Path(folder)
    ext, files = find_model_files(folder)
    if ext == "bin":
        cameras = _read_cameras_bin(files["cameras"])
        images = _read_images_bin(files["images"])
    else:
        cameras = _read_cameras_txt(files["cameras"])
        images = _read_images_txt(files["images"])
    model = ColmapModel(cameras, images, folder=folder, has_points_file="points3D" in files)
    if "points3D" in files:
        reader = _read_points_bin if ext == "bin" else _read_points_txt
        model.point_ids, model.points, model.point_errors = reader(files["points3D"])
    for image in images.values():
        if image.camera_id not in cameras:
            raise NerfplexError(
                f"image {image.name!r} (id {image.image_id}) in {files['images']} uses camera "
                f"{image.camera_id}, which {files['cameras']} does not define (it has "
                f"{sorted(cameras) or 'no cameras'}). The model is inconsistent: re-export it "
                f"from COLMAP or run `nerfplex process-data` again."
            )
    return model


class _Reader:
    """Sequential reads from the bytes of a binary model file, with truncation errors naming it."""

    def __init__(self, path: Path, what: str):
        try:
            self.data = path.read_bytes()
        except OSError as exc:
            raise NerfplexError(f"could not read {path}: {exc}.") from exc
        self.path, self.what, self.offset = path, what, 0

    def truncated(self) -> NerfplexError:
        return NerfplexError(
            f"{self.path} is truncated or not a COLMAP {self.what} file (it ends at byte "
            f"{len(self.data)} inside a record). Re-export the model from COLMAP or run "
            f"`nerfplex process-data` again."
        )

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise self.truncated()
        values = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return values

    def array(self, dtype: np.dtype, count: int) -> np.ndarray:
        dtype = np.dtype(dtype)
        size = dtype.itemsize * count
        if count < 0 or self.offset + size > len(self.data):
            raise self.truncated()
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.offset)
        self.offset += size
        return out

    def string(self) -> str:
        end = self.data.find(b"\x00", self.offset)
        if end < 0:
            raise self.truncated()
        raw = self.data[self.offset : end]
        self.offset = end + 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise NerfplexError(
                f"{self.path}: an image name is not UTF-8 text ({raw[:40]!r}); the file is "
                f"corrupt or not a COLMAP {self.what} file."
            ) from None

    def finish(self) -> None:
        if self.offset != len(self.data):
            raise NerfplexError(
                f"{self.path} has {len(self.data) - self.offset} bytes after its last record; "
                f"it is corrupt or not a COLMAP {self.what} file. Re-export the model."
            )


def _camera(path: Path, camera_id: int, model_id_or_name, width: int, height: int, params: np.ndarray) -> ColmapCamera:
    if isinstance(model_id_or_name, str):
        if model_id_or_name not in _MODEL_BY_NAME:
            raise NerfplexError(
                f"{path}: camera {camera_id} has unknown model {model_id_or_name!r}; COLMAP's "
                f"models are {', '.join(_MODEL_BY_NAME)}."
            )
        name, count = model_id_or_name, _MODEL_BY_NAME[model_id_or_name][1]
    else:
        if model_id_or_name not in CAMERA_MODELS:
            raise NerfplexError(
                f"{path}: camera {camera_id} has unknown model id {model_id_or_name}; the file "
                f"is corrupt or from an unsupported COLMAP version."
            )
        name, count = CAMERA_MODELS[model_id_or_name]
    if len(params) != count:
        raise NerfplexError(
            f"{path}: camera {camera_id} ({name}) has {len(params)} parameters; that model "
            f"has {count}. The file is corrupt."
        )
    if width < 1 or height < 1 or not np.isfinite(params).all():
        raise NerfplexError(
            f"{path}: camera {camera_id} has size {width}x{height} and parameters "
            f"{params.tolist()}; sizes must be positive and parameters finite."
        )
    return ColmapCamera(camera_id, name, int(width), int(height), np.asarray(params, dtype=np.float64))


def _read_cameras_bin(path: Path) -> dict[int, ColmapCamera]:
    reader = _Reader(path, "cameras.bin")
    (count,) = reader.unpack("<Q")
    cameras = {}
    for _ in range(count):
        camera_id, model_id, width, height = reader.unpack("<iiQQ")
        if model_id not in CAMERA_MODELS:
            raise NerfplexError(
                f"{path}: camera {camera_id} has unknown model id {model_id}; the file is "
                f"corrupt or from an unsupported COLMAP version."
            )
        params = reader.array("<f8", CAMERA_MODELS[model_id][1]).copy()
        cameras[camera_id] = _camera(path, camera_id, model_id, width, height, params)
    reader.finish()
    return cameras


def _read_images_bin(path: Path) -> dict[int, ColmapImage]:
    reader = _Reader(path, "images.bin")
    (count,) = reader.unpack("<Q")
    images = {}
    point_dtype = np.dtype([("x", "<f8"), ("y", "<f8"), ("id", "<i8")])
    for _ in range(count):
        image_id, qw, qx, qy, qz, tx, ty, tz, camera_id = reader.unpack("<i7di")
        name = reader.string()
        (n_points,) = reader.unpack("<Q")
        points = reader.array(point_dtype, n_points)
        images[image_id] = ColmapImage(
            image_id, np.array([qw, qx, qy, qz]), np.array([tx, ty, tz]), camera_id, name, points["id"].astype(np.int64)
        )
    reader.finish()
    return images


def _read_points_bin(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    reader = _Reader(path, "points3D.bin")
    (count,) = reader.unpack("<Q")
    ids = np.empty(count, dtype=np.int64)
    xyz = np.empty((count, 3), dtype=np.float64)
    errors = np.empty(count, dtype=np.float64)
    for i in range(count):
        ids[i], x, y, z, _r, _g, _b, errors[i], track_length = reader.unpack("<Q3d3BdQ")
        xyz[i] = (x, y, z)
        reader.array("<i4", 2 * track_length)
    reader.finish()
    return ids, xyz, errors


def _text_rows(path: Path) -> list[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NerfplexError(f"could not read {path}: {exc}. Re-export the model from COLMAP.") from exc
    return [
        (n, line.split())
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _numbers(path: Path, lineno: int, parts: list[str], kind=float) -> list:
    try:
        return [kind(p) for p in parts]
    except ValueError:
        raise NerfplexError(
            f"{path} line {lineno} is not a row of numbers where one was expected: "
            f"{' '.join(parts)[:80]!r}. The file is corrupt; re-export the model."
        ) from None


def _read_cameras_txt(path: Path) -> dict[int, ColmapCamera]:
    cameras = {}
    for lineno, parts in _text_rows(path):
        if len(parts) < 4:
            raise NerfplexError(
                f"{path} line {lineno}: expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS..., got {' '.join(parts)!r}."
            )
        camera_id, width, height = _numbers(path, lineno, [parts[0], parts[2], parts[3]], int)
        params = np.array(_numbers(path, lineno, parts[4:]), dtype=np.float64)
        cameras[camera_id] = _camera(path, camera_id, parts[1], width, height, params)
    return cameras


def _read_images_txt(path: Path) -> dict[int, ColmapImage]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise NerfplexError(f"could not read {path}: {exc}. Re-export the model from COLMAP.") from exc
    # Two lines per image; the points line may be empty, so only comments are skipped here.
    rows = [(n, line) for n, line in enumerate(lines, start=1) if not line.lstrip().startswith("#")]
    while rows and not rows[-1][1].strip():
        rows.pop()
    images = {}
    for k in range(0, len(rows), 2):
        lineno, header = rows[k]
        parts = header.split()
        if len(parts) < 10:
            raise NerfplexError(
                f"{path} line {lineno}: expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME, "
                f"got {header.strip()[:80]!r}."
            )
        image_id, camera_id = _numbers(path, lineno, [parts[0], parts[8]], int)
        pose = np.array(_numbers(path, lineno, parts[1:8]), dtype=np.float64)
        name = " ".join(parts[9:])
        if k + 1 >= len(rows):
            raise NerfplexError(
                f"{path} ends after image {name!r} (line {lineno}) without its POINTS2D line; "
                f"the file is truncated. Re-export the model."
            )
        point_line, points_text = rows[k + 1]
        values = _numbers(path, point_line, points_text.split())
        if len(values) % 3:
            raise NerfplexError(
                f"{path} line {point_line}: POINTS2D must be (X, Y, POINT3D_ID) triples, got "
                f"{len(values)} numbers. The file is corrupt."
            )
        ids = np.array(values[2::3], dtype=np.int64)
        images[image_id] = ColmapImage(image_id, pose[:4], pose[4:], camera_id, name, ids)
    return images


def _read_points_txt(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ids, xyz, errors = [], [], []
    for lineno, parts in _text_rows(path):
        if len(parts) < 8 or (len(parts) - 8) % 2:
            raise NerfplexError(
                f"{path} line {lineno}: expected POINT3D_ID X Y Z R G B ERROR TRACK[] as "
                f"(IMAGE_ID, POINT2D_IDX) pairs, got {len(parts)} fields."
            )
        values = _numbers(path, lineno, parts[:8])
        ids.append(int(values[0]))
        xyz.append(values[1:4])
        errors.append(values[7])
    return (
        np.array(ids, dtype=np.int64),
        np.array(xyz, dtype=np.float64).reshape(-1, 3),
        np.array(errors, dtype=np.float64),
    )
