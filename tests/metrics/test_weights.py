"""Where pretrained weights are looked for."""

from __future__ import annotations

from pathlib import Path

import torch

from nerfplex.metrics.weights import default_weights_dir


def test_default_weights_dir_is_torch_hubs_home(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert default_weights_dir() == tmp_path == Path(torch.hub.get_dir()).parent
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_weights_dir() == tmp_path / "cache" / "torch" == Path(torch.hub.get_dir()).parent
