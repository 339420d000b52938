"""Choosing tiny-cuda-nn or the torch implementations for encodings and networks.

Both are built from the same tiny-cuda-nn config dicts and hold the same flat ``params`` layout, so
a state dict moves between them. tiny-cuda-nn is used when ``backend`` is ``tcnn``, or ``auto`` with
``tinycudann`` importable and the model on a CUDA device; everything else runs the torch code
(:mod:`nerfplex.fields.hash_encoding`, :mod:`nerfplex.fields.sh_encoding`,
:mod:`nerfplex.fields.fused_mlp`). tiny-cuda-nn computes in half precision; its outputs are cast to
float32 here so that the rest of the model does not depend on the backend.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal, Optional

import torch
from torch import Tensor, nn

from nerfplex.errors import NerfplexError
from nerfplex.fields.fused_mlp import FusedMLP
from nerfplex.fields.hash_encoding import HashEncoding
from nerfplex.fields.sh_encoding import SHEncoding

Backend = Literal["auto", "torch", "tcnn"]


@functools.lru_cache(maxsize=1)
def tcnn_module():
    """The ``tinycudann`` module, or None when it does not import (it refuses to without CUDA)."""
    try:
        import tinycudann  # noqa: PLC0415
    except Exception:  # ImportError, or its own errors when no GPU is present
        return None
    return tinycudann


def resolve_backend(backend: Backend, device: Optional[torch.device | str] = None) -> Literal["torch", "tcnn"]:
    """``torch`` or ``tcnn`` for a model that will run on ``device`` (None: CUDA if available)."""
    if backend == "torch":
        return "torch"
    on_cuda = (torch.device(device).type == "cuda") if device is not None else torch.cuda.is_available()
    if backend == "tcnn":
        if tcnn_module() is None or not on_cuda:
            raise NerfplexError(
                "backend 'tcnn' needs the tinycudann package and a CUDA device; use "
                "'auto' (tinycudann when it can run) or 'torch'."
            )
        return "tcnn"
    return "tcnn" if on_cuda and tcnn_module() is not None else "torch"


class TcnnModule(nn.Module):
    """A tinycudann module whose output is float32 ``[..., n_output_dims]``.

    Its parameter is registered here as ``params`` (the tinycudann module itself is kept out of the
    module tree), so the state dict reads ``...params`` as the torch implementations' does."""

    def __init__(self, module: nn.Module, n_output_dims: int) -> None:
        super().__init__()
        self._tcnn = [module]  # a list hides it from nn.Module's registry
        self.params = module.params
        self.n_output_dims = n_output_dims

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape[:-1]
        out = self._tcnn[0](x.reshape(-1, x.shape[-1]).contiguous())
        return out.float().reshape(*shape, -1)[..., : self.n_output_dims]


def build_encoding(
    n_input_dims: int, config: Mapping[str, Any], backend: Literal["torch", "tcnn"], seed: Optional[int] = None
) -> nn.Module:
    """An encoding from tiny-cuda-nn's ``config`` (``HashGrid`` / ``Grid``, ``SphericalHarmonics``)
    with ``n_output_dims``."""
    otype = str(config.get("otype", "")).lower()
    if backend == "tcnn":
        tcnn = tcnn_module()
        module = tcnn.Encoding(n_input_dims, dict(config), seed=seed or 1337)
        return TcnnModule(module, module.n_output_dims)
    if otype in ("hashgrid", "grid"):
        return HashEncoding(config, n_input_dims, seed=seed)
    if otype == "sphericalharmonics":
        if n_input_dims != 3:
            raise NerfplexError("SphericalHarmonics encodes 3-D directions.")
        return SHEncoding(int(config.get("degree", 4)))
    raise NerfplexError(
        f"encoding otype {config.get('otype')!r} has no torch implementation (HashGrid, SphericalHarmonics)."
    )


def build_network(
    n_input_dims: int,
    n_output_dims: int,
    config: Mapping[str, Any],
    backend: Literal["torch", "tcnn"],
    seed: Optional[int] = None,
) -> nn.Module:
    """An MLP from tiny-cuda-nn's network ``config`` (``FullyFusedMLP`` / ``CutlassMLP``)."""
    if backend == "tcnn":
        tcnn = tcnn_module()
        module = tcnn.Network(n_input_dims, n_output_dims, dict(config), seed=seed or 1337)
        return TcnnModule(module, n_output_dims)
    return FusedMLP(n_input_dims, n_output_dims, config)
