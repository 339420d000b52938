"""``data.kind: auto``: tell a dataset folder's layout from the files it holds.

Checked in this order; the first match wins (``--data.kind`` picks another explicitly):

=============  ==========================================================================================
``colmap``     ``sparse/0/cameras.bin`` / ``.txt`` (or ``sparse/cameras.*``): Mip-NeRF 360, 3DGS's T&T,
               ``nerfplex process-data`` output (which also holds a ``transforms.json``: the COLMAP
               reader is preferred because it bounds the scene from the sparse points)
``blender``    ``transforms_train.json`` or ``transforms.json`` (NeRF-synthetic, instant-ngp)
``monosdf``    ``meta_data.json`` (MonoSDF / sdfstudio: Replica, T&T advanced)
``dtu``        ``cameras_sphere.npz`` or ``cameras.npz`` beside ``image/`` (IDR / NeuS)
``nsvf``       ``rgb/`` + ``pose/`` + ``intrinsics.txt`` (NSVF: T&T as DVGO / TensoRF read it)
``llff``       ``poses_bounds.npy`` (LLFF, Mip-NeRF 360 without its sparse model)
=============  ==========================================================================================

Nothing matching raises a :class:`NerfplexError` that says what the folder holds, lists the layouts, and
gives the ``nerfplex process-data`` command when the folder holds plain images.
"""

from __future__ import annotations

from pathlib import Path

from nerfplex.errors import NerfplexError

__all__ = ["detect_layout", "matching_layouts", "LAYOUTS"]

LAYOUTS = {
    "colmap": "images/ + sparse/0/ (cameras, images, points3D .bin or .txt): COLMAP, Mip-NeRF 360, 3DGS",
    "blender": "transforms_train.json + transforms_test.json (NeRF-synthetic) or transforms.json (instant-ngp)",
    "monosdf": "meta_data.json (MonoSDF / sdfstudio: Replica, Tanks and Temples advanced)",
    "dtu": "cameras_sphere.npz (or cameras.npz) + image/ + mask/ (IDR / NeuS DTU)",
    "nsvf": "rgb/ + pose/ + intrinsics.txt + bbox.txt (NSVF: Tanks and Temples as DVGO / TensoRF read it)",
    "llff": "poses_bounds.npy + images/ (LLFF forward-facing scenes, Mip-NeRF 360)",
}
"""Every folder layout nerfplex reads, in detection order, with what identifies it."""

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
_VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"}


def matching_layouts(root: Path) -> list[str]:
    """Every layout whose identifying files ``root`` holds, in detection order."""
    found = []
    if any(
        (folder / f"cameras.{ext}").is_file()
        for folder in (root / "sparse" / "0", root / "sparse")
        for ext in ("bin", "txt")
    ):
        found.append("colmap")
    if (root / "transforms_train.json").is_file() or (root / "transforms.json").is_file():
        found.append("blender")
    if (root / "meta_data.json").is_file():
        found.append("monosdf")
    if ((root / "cameras_sphere.npz").is_file() or (root / "cameras.npz").is_file()) and (root / "image").is_dir():
        found.append("dtu")
    if (root / "rgb").is_dir() and (root / "pose").is_dir() and (root / "intrinsics.txt").is_file():
        found.append("nsvf")
    if (root / "poses_bounds.npy").is_file():
        found.append("llff")
    return found


def detect_layout(path: Path) -> str:
    """The ``data.kind`` of the dataset at ``path`` (a folder; a ``transforms*.json`` file is ``blender``)."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".json" and path.name.startswith("transforms"):
        return "blender"
    if not path.exists():
        resolved = "" if path.is_absolute() else f" (resolved to {path.absolute()})"
        raise NerfplexError(f"dataset folder {path} does not exist{resolved}; check --data.path.")
    if not path.is_dir():
        raise NerfplexError(
            f"--data.path {path} is a file; pass the dataset folder (or a transforms*.json). "
            + (
                f"For a video, make a scene first: nerfplex process-data --video {path} "
                f"--out {path.with_suffix('')}_scene"
                if path.suffix.lower() in _VIDEO_SUFFIXES
                else ""
            )
        )
    found = matching_layouts(path)
    if found:
        return found[0]
    raise NerfplexError(_nothing_matches(path))


def _nothing_matches(root: Path) -> str:
    entries = sorted(root.iterdir(), key=lambda p: p.name)
    images = [p for p in entries if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES]
    videos = [p for p in entries if p.is_file() and p.suffix.lower() in _VIDEO_SUFFIXES]
    sub_images = (root / "images").is_dir() and any(
        p.suffix.lower() in _IMAGE_SUFFIXES for p in (root / "images").iterdir()
    )
    shown = ", ".join(p.name + ("/" if p.is_dir() else "") for p in entries[:12])
    more = f" and {len(entries) - 12} more" if len(entries) > 12 else ""
    holds = f"it holds {shown}{more}" if entries else "it is empty"
    layouts = "\n".join(f"  {kind:<8} {text}" for kind, text in LAYOUTS.items())
    message = f"no dataset layout recognised in {root}: {holds}.\nnerfplex reads these layouts:\n{layouts}\n"
    scene = root.parent / f"{root.name}_scene"
    if images or sub_images:
        folder = root if images else root / "images"
        count = len(images) if images else "the"
        message += (
            f"The folder holds {count} plain images without camera poses: recover the poses first with\n"
            f"  nerfplex process-data --images {folder} --out {scene}\n"
            f"then train with --data.path {scene}."
        )
    elif videos:
        message += (
            f"The folder holds a video: make a scene from it with\n"
            f"  nerfplex process-data --video {videos[0]} --out {scene}"
        )
    else:
        message += (
            "Point --data.path at a folder in one of these layouts, or make one from photos with "
            "`nerfplex process-data --images PHOTOS --out SCENE`."
        )
    return message
