"""DreamSim (Fu et al., 2023) through the ``dreamsim`` package, with checkpoints read from a local folder.

``dreamsim.dreamsim(cache_dir=...)`` downloads its release archive into ``cache_dir`` unless the files
of the chosen model are already there, and builds the DINO branch with
``torch.hub.load('facebookresearch/dino:main', 'dino_vitb16')``, which fetches DINO's code from GitHub and
its backbone weights into ``cache_dir/checkpoints``. Here the files are checked first (a missing one
raises :class:`MetricUnavailable` naming it and its URL), and during loading ``torch.hub.load`` is
replaced by a local build of that same network (DINO's ``vit_base(patch_size=16, num_classes=0)``, which
the dreamsim package vendors) loaded strictly from ``cache_dir/checkpoints/dino_vitbase16_pretrain.pth``.
Everything else (CLIP / OpenCLIP / SynCLR branches, the DINO head, LoRA adapters via peft) is the
package's own loading code, run with the Hugging Face libraries in offline mode.

Layout of ``WEIGHTS/dreamsim/`` (the unzipped release archive, plus the DINO backbone):

- ensemble: ``dino_vitb16_pretrain.pth``, ``clip_vitb16_pretrain.pth.tar``,
  ``open_clip_vitb16_pretrain.pth.tar``, ``ensemble_lora/`` and ``checkpoints/dino_vitbase16_pretrain.pth``
- single-branch models: see :data:`REQUIRED_FILES`.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from nerfplex.metrics.torchvision_compat import import_torchvision
from nerfplex.metrics.weights import MetricUnavailable, default_weights_dir

_RELEASES = "https://github.com/ssundaram21/dreamsim/releases/download"
ARCHIVE_URLS = {
    "ensemble": f"{_RELEASES}/v0.2.0-checkpoints/dreamsim_ensemble_checkpoint.zip",
    "dino_vitb16": f"{_RELEASES}/v0.2.0-checkpoints/dreamsim_dino_vitb16_checkpoint.zip",
    "clip_vitb32": f"{_RELEASES}/v0.2.0-checkpoints/dreamsim_clip_vitb32_checkpoint.zip",
    "open_clip_vitb32": f"{_RELEASES}/v0.2.0-checkpoints/dreamsim_open_clip_vitb32_checkpoint.zip",
    "synclr_vitb16": f"{_RELEASES}/v0.2.1-checkpoints/dreamsim_synclr_vitb16_checkpoint.zip",
    "dino_vitb16_patch": f"{_RELEASES}/v0.2.1-checkpoints/dreamsim_dino_vitb16_patch_checkpoint.zip",
}
"""The dreamsim 0.2.1 release archive of each model that loads offline
(``dreamsim.config.dreamsim_weights``)."""

DINO_BACKBONE_FILE = "checkpoints/dino_vitbase16_pretrain.pth"
DINO_BACKBONE_URL = "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth"

REQUIRED_FILES = {
    "ensemble": [
        "dino_vitb16_pretrain.pth",
        "open_clip_vitb16_pretrain.pth.tar",
        "clip_vitb16_pretrain.pth.tar",
        "ensemble_lora/adapter_config.json",
        DINO_BACKBONE_FILE,
    ],
    "dino_vitb16": ["dino_vitb16_pretrain.pth", "dino_vitb16_single_lora/adapter_config.json", DINO_BACKBONE_FILE],
    "clip_vitb32": ["clip_vitb32_pretrain.pth.tar", "clip_vitb32_single_lora/adapter_config.json"],
    "open_clip_vitb32": ["open_clip_vitb32_pretrain.pth.tar", "open_clip_vitb32_single_lora/adapter_config.json"],
    "synclr_vitb16": ["synclr_vit_b_16.pth", "synclr_vitb16_single_lora/adapter_config.json"],
    "dino_vitb16_patch": ["dino_vitb16_pretrain.pth", "dino_vitb16_patch_lora/adapter_config.json", DINO_BACKBONE_FILE],
}
"""Files each model needs under ``WEIGHTS/dreamsim/`` (dreamsim 0.2.1's own list, plus the DINO backbone
that its ``torch.hub`` call would otherwise download). A LoRA folder also holds ``adapter_model.*``."""

UNSUPPORTED_OFFLINE = {
    "dinov2_vitb14": "its backbone code comes from GitHub (torch.hub 'facebookresearch/dinov2') at run time",
    "dinov2_vitb14_patch": "its backbone code comes from GitHub (torch.hub 'facebookresearch/dinov2') at run time",
}


def dreamsim_dir(weights_dir: Optional[Path] = None) -> Path:
    """``WEIGHTS/dreamsim``: the folder the release archives are unzipped into."""
    return (Path(weights_dir) if weights_dir is not None else default_weights_dir()) / "dreamsim"


def missing_files(kind: str, cache_dir: Path) -> list[str]:
    """The files of :data:`REQUIRED_FILES` ``[kind]`` not present in ``cache_dir`` (LoRA weights included)."""
    missing = [name for name in REQUIRED_FILES[kind] if not (cache_dir / name).is_file()]
    for name in REQUIRED_FILES[kind]:
        folder = (cache_dir / name).parent
        if (
            name.endswith("adapter_config.json")
            and folder.is_dir()
            and not any((folder / f).is_file() for f in ("adapter_model.safetensors", "adapter_model.bin"))
        ):
            missing.append(f"{folder.name}/adapter_model.safetensors (or .bin)")
    return missing


@contextlib.contextmanager
def _offline_loading(cache_dir: Path) -> Iterator[None]:
    """During DreamSim's loading: no torch.hub downloads, Hugging Face libraries offline, stdout quiet."""
    import_torchvision()
    saved_hub_dir = getattr(torch.hub, "_hub_dir", None)
    original_load = torch.hub.load

    def local_hub_load(repo_or_dir, model, *args, **kwargs):
        repo = str(repo_or_dir).split(":")[0]
        if repo == "facebookresearch/dino" and model == "dino_vitb16":
            from dreamsim.feature_extraction.vision_transformer import vit_base

            path = cache_dir / DINO_BACKBONE_FILE
            network = vit_base(patch_size=16, num_classes=0)
            try:
                network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
            except Exception as err:  # noqa: BLE001
                raise MetricUnavailable(
                    f"{path} is not DINO's ViT-B/16 state dict ({err}); download it again from {DINO_BACKBONE_URL}."
                ) from err
            return network
        raise MetricUnavailable(
            f"DreamSim asked torch.hub for {repo_or_dir} / {model}, which would be "
            f"fetched from GitHub; nerfplex loads only local files."
        )

    saved_env = {key: os.environ.get(key) for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({key: "1" for key in saved_env})
    torch.hub.load = local_hub_load
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            # the package's own loading re-wraps its model in peft and builds DINO's weight-normed head
            warnings.filterwarnings("ignore", message=".*peft_config.*")
            warnings.filterwarnings("ignore", message=".*weight_norm.*")
            yield
    finally:
        torch.hub.load = original_load
        torch.hub._hub_dir = saved_hub_dir  # dreamsim calls torch.hub.set_dir(cache_dir)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_dreamsim(kind: str = "ensemble", weights_dir: Optional[Path] = None, device: str = "cpu") -> torch.nn.Module:
    """The DreamSim model ``kind`` (``ensemble`` or a single-branch model) from local files only.

    Returns the package's model: ``model(a, b)`` with ``a, b [N, 3, S, S]`` in [0, 1] -> distances ``[N]``.
    Raises :class:`MetricUnavailable` when files or packages are missing.
    """
    if kind in UNSUPPORTED_OFFLINE:
        raise MetricUnavailable(
            f"DreamSim {kind} cannot be loaded offline: {UNSUPPORTED_OFFLINE[kind]}. "
            f"Use one of: {', '.join(REQUIRED_FILES)}."
        )
    if kind not in REQUIRED_FILES:
        raise ValueError(f"unknown DreamSim model {kind!r}; known: {', '.join(REQUIRED_FILES)}")
    cache_dir = dreamsim_dir(weights_dir)
    missing = missing_files(kind, cache_dir)
    if missing:
        extra = (
            f"; and {DINO_BACKBONE_URL} saved as {cache_dir / DINO_BACKBONE_FILE}"
            if DINO_BACKBONE_FILE in missing
            else ""
        )
        raise MetricUnavailable(
            f"DreamSim ({kind}) needs {', '.join(missing)} in {cache_dir}. Get them from "
            f"{ARCHIVE_URLS[kind]} (unzip into that folder){extra}; or pass --weights-dir / set TORCH_HOME "
            f"to a folder whose dreamsim/ holds them. nerfplex never downloads weights by itself."
        )
    try:
        import_torchvision()
        import dreamsim
    except ImportError as err:
        raise MetricUnavailable(
            f"DreamSim needs the dreamsim package ({err}); install it with pip install -e '.[perceptual]'."
        ) from err
    base, patch = (kind[: -len("_patch")], True) if kind.endswith("_patch") else (kind, False)
    with _offline_loading(cache_dir):
        try:
            model, _ = dreamsim.dreamsim(
                pretrained=True,
                device=device,
                cache_dir=str(cache_dir),
                normalize_embeds=True,
                dreamsim_type=base,
                use_patch_model=patch,
            )
        except MetricUnavailable:
            raise
        except Exception as err:  # noqa: BLE001 - a corrupt or foreign file: say which folder
            raise MetricUnavailable(
                f"DreamSim ({kind}) failed to load from {cache_dir}: {type(err).__name__}: {err}"
            ) from err
    return model.eval().requires_grad_(False)


class DreamSimMetric:
    """``metric(pred [H, W, 3], target [H, W, 3])`` in [0, 1] -> DreamSim distance (float, lower is better).

    Images are resized to ``image_size`` squared (bicubic, antialiased; DreamSim's models are trained at
    224) before embedding.
    """

    def __init__(
        self, kind: str = "ensemble", weights_dir: Optional[Path] = None, device: str = "cpu", image_size: int = 224
    ) -> None:
        self.kind = kind
        self.device = device
        self.image_size = image_size
        self.model = load_dreamsim(kind, weights_dir, device)

    def prepare(self, image: Tensor) -> Tensor:
        """``[H, W, 3]`` -> ``[1, 3, S, S]`` in [0, 1] on the metric's device."""
        x = image.clamp(0, 1).permute(2, 0, 1)[None].float().to(self.device)
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            x = F.interpolate(
                x, size=(self.image_size, self.image_size), mode="bicubic", align_corners=False, antialias=True
            ).clamp(0, 1)
        return x

    @torch.no_grad()
    def __call__(self, pred: Tensor, target: Tensor) -> float:
        return max(0.0, float(self.model(self.prepare(pred), self.prepare(target)).reshape(-1)[0]))
