"""Importing torchvision beside the CPU build of torch that the project pins.

The perceptual metrics (``lpips``, ``dreamsim``) need only torchvision's pure-Python parts: the
alexnet / vgg16 architectures and ``transforms.Normalize``. The package index's torchvision 0.28.0 (the
release paired with torch 2.13.0) is a CUDA build whose compiled operators (``nms``, ``roi_align``, ...)
cannot load beside ``torch==2.13.0+cpu``. torchvision is written to live without them
(``torchvision.extension._has_ops()`` is then False and every operator registration is skipped) except
for two fake-tensor registrations, ``torchvision::nms`` and ``torchvision::qnms``, which raise
``RuntimeError: operator torchvision::nms does not exist`` and abort the import.

:func:`import_torchvision` imports torchvision normally and, only when that exact failure happens,
declares the schemas of those two operators (no kernels: calling them still fails) and imports again.
Where torchvision's operators load (a matching CUDA or CPU pair) nothing is changed.
"""

from __future__ import annotations

import sys
from types import ModuleType

import torch

_MISSING_OPERATORS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library = None  # the torch.library fragment must stay alive, or its definitions are dropped


def _declare_missing_operators() -> None:
    global _library
    if _library is None:
        _library = torch.library.Library("torchvision", "FRAGMENT")
    for name, schema in _MISSING_OPERATORS.items():
        if not _has_schema(name):
            _library.define(schema)


def _has_schema(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def import_torchvision() -> ModuleType:
    """``import torchvision``, working around the unloadable compiled operators described above.

    Raises ImportError when torchvision is not installed (or fails for another reason).
    """
    try:
        import torchvision

        return torchvision
    except RuntimeError as err:
        if "torchvision::" not in str(err) or "does not exist" not in str(err):
            raise ImportError(f"torchvision failed to import: {err}") from err
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]
    _declare_missing_operators()
    try:
        import torchvision
    except RuntimeError as err:  # pragma: no cover - a torchvision release with other unguarded ops
        raise ImportError(f"torchvision failed to import beside torch {torch.__version__}: {err}") from err
    return torchvision


def torchvision_has_ops() -> bool:
    """Whether torchvision's compiled operators loaded (False with the CPU torch + CUDA torchvision pair)."""
    return bool(import_torchvision().extension._has_ops())
