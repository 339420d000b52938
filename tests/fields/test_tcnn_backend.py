import math

import pytest
import torch

from nerfplex.errors import NerfplexError
from nerfplex.fields.fused_mlp import FusedMLP, padded_width
from nerfplex.fields.hash_encoding import HashEncoding
from nerfplex.fields.sh_encoding import SHEncoding
from nerfplex.fields.tcnn_backend import build_encoding, build_network, resolve_backend, tcnn_module

NET = {
    "otype": "FullyFusedMLP",
    "activation": "ReLU",
    "output_activation": "None",
    "n_neurons": 16,
    "n_hidden_layers": 2,
}


def test_sh_values_at_the_pole_and_orthonormality():
    sh = SHEncoding(4)
    up = sh(torch.tensor([[0.5, 0.5, 1.0]]))[0]  # direction (0, 0, 1) in [0, 1]^3 coordinates
    expected = {
        0: 0.28209479177387814,
        2: 0.48860251190291987,
        6: 0.94617469575755997 - 0.31539156525251999,
        12: 2 * 0.3731763325901154,
    }
    for index, value in expected.items():
        assert up[index].item() == pytest.approx(value, rel=1e-6)
    assert up[[1, 3, 4, 5, 7, 8, 9, 10, 11, 13, 14, 15]].abs().max() < 1e-6
    d = torch.nn.functional.normalize(torch.randn(200000, 3, generator=torch.Generator().manual_seed(0)), dim=-1)
    y = sh((d + 1) / 2).double()
    gram = 4 * math.pi * y.T @ y / y.shape[0]  # Monte Carlo of the integral over the sphere
    torch.testing.assert_close(gram, torch.eye(16, dtype=torch.float64), atol=0.03, rtol=0)
    with pytest.raises(NerfplexError):
        SHEncoding(5)


def test_fused_mlp_layout_padding_and_forward():
    mlp = FusedMLP(31, 3, {**NET, "output_activation": "Sigmoid"})
    assert padded_width(31, "FullyFusedMLP") == 32 and padded_width(3, "CutlassMLP") == 8
    assert [tuple(w.shape) for w in mlp.weights()] == [(16, 32), (16, 16), (16, 16)]
    assert mlp.params.numel() == (32 + 16) * 16 + 16 * 16
    x = torch.rand(5, 31)
    w1, w2, w3 = mlp.weights()
    h = torch.relu(torch.cat([x, torch.ones(5, 1)], -1) @ w1.T)  # padded input column = 1.0
    expected = torch.sigmoid(torch.relu(h @ w2.T) @ w3.T)[:, :3]
    torch.testing.assert_close(mlp(x), expected)
    mlp(x).sum().backward()
    assert mlp.params.grad.abs().sum() > 0
    with pytest.raises(NerfplexError, match="activation"):
        FusedMLP(3, 3, {**NET, "activation": "Swish"})


def test_backend_resolution_on_this_machine():
    assert resolve_backend("torch", "cuda") == "torch"
    assert resolve_backend("auto", "cpu") == "torch"
    if tcnn_module() is None:
        with pytest.raises(NerfplexError, match="tinycudann"):
            resolve_backend("tcnn", "cuda")
    grid = build_encoding(3, {"otype": "HashGrid", "n_levels": 2, "log2_hashmap_size": 8}, "torch")
    assert isinstance(grid, HashEncoding) and grid.n_output_dims == 4
    assert isinstance(build_encoding(3, {"otype": "SphericalHarmonics", "degree": 3}, "torch"), SHEncoding)
    assert isinstance(build_network(4, 2, NET, "torch"), FusedMLP)
    with pytest.raises(NerfplexError, match="otype"):
        build_encoding(3, {"otype": "Frequency"}, "torch")


def _tcnn_or_skip():
    tcnn = tcnn_module()
    if tcnn is None or not torch.cuda.is_available():
        pytest.skip("tinycudann with CUDA is not available")
    return tcnn


def test_fused_mlp_parity_with_tinycudann():
    _tcnn_or_skip()
    ours = FusedMLP(31, 3, NET).cuda()
    theirs = build_network(31, 3, NET, "tcnn")
    assert theirs.params.numel() == ours.params.numel()
    with torch.no_grad():
        theirs.params.copy_(ours.params)
    x = torch.rand(1024, 31, device="cuda")
    torch.testing.assert_close(theirs(x), ours(x), atol=2e-2, rtol=2e-2)  # tcnn runs in fp16


def test_sh_parity_with_tinycudann():
    _tcnn_or_skip()
    theirs = build_encoding(3, {"otype": "SphericalHarmonics", "degree": 4}, "tcnn")
    d = torch.rand(1024, 3, device="cuda")
    torch.testing.assert_close(theirs(d), SHEncoding(4)(d), atol=2e-3, rtol=2e-3)
