"""Weight files in the real on-disk formats of the LPIPS trunks and DreamSim, filled with random values.

A test helper (imported as ``random_weights``: ``tests/`` is on ``sys.path`` under pytest), so that the
tests run the real loading code without the real (downloaded) weights: the loaders of
:mod:`nerfplex.metrics.lpips_metric` and :mod:`nerfplex.metrics.dreamsim_metric` read these files exactly as
they read the real ones. **Distances computed with them mean nothing.**

To keep the files small, tensors that the metrics never use (torchvision's classifier layers) are
stored as one broadcast value with their real shape, and the DreamSim ViT weights are views into one
shared random buffer (``torch.save`` writes a shared storage once).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import torch
from torch import Tensor

from nerfplex.metrics.dreamsim_metric import DINO_BACKBONE_FILE, _offline_loading, dreamsim_dir
from nerfplex.metrics.lpips_metric import BACKBONE_FILES
from nerfplex.metrics.torchvision_compat import import_torchvision

DREAMSIM_LORA = {"r": 16, "lora_alpha": 0.5, "lora_dropout": 0.3, "bias": "none", "target_modules": ["qkv"]}
"""The LoRA settings of the released DreamSim adapters."""


def write_random_lpips_backbone(net: str, weights_dir: Path, seed: int = 0) -> Path:
    """torchvision's state dict of the LPIPS trunk ``net`` (alex / vgg) at ``WEIGHTS/hub/checkpoints/``:
    He-initialised random ``features.*``, constant ``classifier.*`` (unused by LPIPS)."""
    tv = import_torchvision()
    with torch.device("meta"):
        model = tv.models.alexnet() if net == "alex" else tv.models.vgg16()
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("features.") and key.endswith("weight"):
            fan_in = math.prod(value.shape[1:])
            state[key] = torch.randn(value.shape, generator=generator) * math.sqrt(2.0 / fan_in)
        elif key.startswith("features."):
            state[key] = 0.01 * torch.randn(value.shape, generator=generator)
        else:
            state[key] = torch.zeros(1).expand(value.shape)
    path = Path(weights_dir) / "hub" / "checkpoints" / BACKBONE_FILES[net][0]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


class _RandomViews:
    """Views into one shared random buffer (std 0.02, the ViT initialisation scale)."""

    def __init__(self, seed: int, size: int = 1 << 22) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.buffer = 0.02 * torch.randn(size, generator=generator)
        self.offset = 0

    def take(self, shape: torch.Size) -> Tensor:
        count = math.prod(shape)
        if self.offset + count > len(self.buffer):
            self.offset = (self.offset * 7 + 1) % max(1, len(self.buffer) - count)
        view = self.buffer[self.offset : self.offset + count].view(shape)
        self.offset += count // 3 + 11
        return view


@functools.cache
def _vit_shapes(patch_size: int) -> tuple[tuple[str, torch.Size], ...]:
    """Parameter names and shapes of DINO's ViT-B (as vendored by dreamsim) for one patch size."""
    from dreamsim.feature_extraction.vision_transformer import vit_base

    network = vit_base(patch_size=patch_size, num_classes=0)
    return tuple((key, value.shape) for key, value in network.state_dict().items())


def _random_vit_state(patch_size: int, views: _RandomViews, layer_norm_input: bool) -> dict[str, Tensor]:
    shapes = list(_vit_shapes(patch_size))
    if layer_norm_input:  # how dreamsim loads CLIP / OpenCLIP as a DINO-style ViT: pos_drop -> LayerNorm
        shapes += [("pos_drop.weight", torch.Size([768])), ("pos_drop.bias", torch.Size([768]))]
    state = {}
    for key, shape in shapes:
        if "norm" in key or key.startswith("pos_drop."):
            state[key] = (torch.ones(1) if key.endswith("weight") else torch.zeros(1)).expand(shape)
        else:
            state[key] = views.take(shape)
    return state


def _write_branch(model_type: str, cache_dir: Path, views: _RandomViews) -> None:
    from dreamsim.feature_extraction.vision_transformer import DINOHead

    if model_type == "dino_vitb16":
        torch.save(_random_vit_state(16, views, False), _parent(cache_dir / DINO_BACKBONE_FILE))
        head = DINOHead(768, 2048)  # what dreamsim builds from the training checkpoint's student head
        student = {
            f"module.head.{key}": views.take(value.shape).clone()
            for key, value in head.state_dict().items()
            if key.startswith("mlp.")
        }
        student["module.head.last_layer.weight"] = views.take(torch.Size([2048, 256])).clone()
        torch.save({"student": student}, cache_dir / "dino_vitb16_pretrain.pth")
    elif model_type in ("clip_vitb16", "clip_vitb32", "open_clip_vitb16", "open_clip_vitb32"):
        patch = int(model_type[-2:])
        state = _random_vit_state(patch, views, True)
        state["proj"] = views.take(torch.Size([768, 512])) * (1.0 / (0.02 * math.sqrt(768)))
        torch.save({"state_dict": state}, cache_dir / f"{model_type}_pretrain.pth.tar")
    elif model_type == "synclr_vitb16":
        state = _random_vit_state(16, views, False)
        torch.save({"model": {f"module.visual.{k}": v for k, v in state.items()}}, cache_dir / "synclr_vit_b_16.pth")
    else:
        raise ValueError(f"no random weights for DreamSim branch {model_type!r}")


def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_random_dreamsim(kind: str, weights_dir: Path, seed: int = 0) -> Path:
    """Every file DreamSim ``kind`` needs under ``WEIGHTS/dreamsim/``, random; returns that folder.

    The LoRA adapter is written by peft's ``save_pretrained`` from the package's own model with random
    (non-zero) LoRA matrices, so it is the format ``PeftModel.from_pretrained`` reads.
    """
    import_torchvision()
    from dreamsim.config import dreamsim_args
    from dreamsim.model import PerceptualModel
    from peft import LoraConfig, get_peft_model

    cache_dir = dreamsim_dir(weights_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    settings = dreamsim_args["model_config"][kind]
    views = _RandomViews(seed)
    for model_type in settings["model_type"].split(","):
        _write_branch(model_type, cache_dir, views)
    with _offline_loading(cache_dir):
        model = PerceptualModel(**settings, device="cpu", load_dir=str(cache_dir), normalize_embeds=True)
    peft_model = get_peft_model(model, LoraConfig(**DREAMSIM_LORA))
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.copy_(0.05 * torch.randn(param.shape, generator=generator))
    first = settings["model_type"].split(",")[0]
    tag = "ensemble" if kind == "ensemble" else f"{first}_patch" if kind.endswith("_patch") else f"{first}_single"
    peft_model.save_pretrained(str(cache_dir / f"{tag}_lora"))
    return cache_dir
