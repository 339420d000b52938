import math

import numpy as np
import pytest
import torch

from nerfplex.errors import NerfplexError
from nerfplex.fields.hash_encoding import HashEncoding, HashGridConfig, level_scales, level_sizes, per_level_scale_for

# Level 0: scale 2·1 - 1 = 1, 2 vertices a side, 8 entries (dense). Level 1: scale 2·2 - 1 = 3,
# 4 vertices a side = 64 > 2^5 entries: hashed.
SMALL = {
    "otype": "HashGrid",
    "n_levels": 2,
    "n_features_per_level": 1,
    "log2_hashmap_size": 5,
    "base_resolution": 2,
    "per_level_scale": 2.0,
}


def _ramp(enc: HashEncoding) -> HashEncoding:
    """Entry e holds the value e (one feature per level), so outputs reveal which entries were read."""
    with torch.no_grad():
        enc.params.copy_(torch.arange(enc.params.numel(), dtype=torch.float32))
    return enc


def _reference(config: dict, table: np.ndarray, x) -> list[float]:
    """Scalar re-statement of tiny-cuda-nn's rules for one point, one feature per level."""
    out, offset = [], 0
    log2_scale = np.log2(np.float32(config["per_level_scale"]))
    for level in range(config["n_levels"]):
        scale = float(np.float32(np.exp2(np.float32(level) * log2_scale)) * config["base_resolution"] - 1)
        res = math.ceil(scale) + 1
        size = min((res**3 + 7) // 8 * 8, 2 ** config["log2_hashmap_size"])
        pos = [xi * scale + 0.5 for xi in x]
        cell = [math.floor(p) for p in pos]
        frac = [p - c for p, c in zip(pos, cell)]
        value = 0.0
        for corner in range(8):
            v = [cell[d] + ((corner >> d) & 1) for d in range(3)]
            w = math.prod(frac[d] if (corner >> d) & 1 else 1 - frac[d] for d in range(3))
            if res**3 <= size:
                index = v[0] + v[1] * res + v[2] * res * res
            else:
                index = v[0] ^ ((v[1] * 2654435761) & 0xFFFFFFFF) ^ ((v[2] * 805459861) & 0xFFFFFFFF)
            value += w * table[offset + index % size]
        out.append(value)
        offset += size
    return out


def test_levels_follow_tcnn_resolution_and_size_rules():
    scale, res = level_scales(16, 16, per_level_scale_for(16, 2048, 16))
    assert res[0] == 16 and res[-1] == 2048  # 2^(15 · log2 b) · 16 - 1 = 2047 -> ceil + 1
    assert scale[0] == 15.0
    sizes = level_sizes(res, 19)
    assert sizes[0] == 16**3 and sizes[1] == (23**3 + 7) // 8 * 8 and sizes[-1] == 2**19


def test_hand_computed_corners_dense_and_hashed():
    enc = _ramp(HashEncoding(SMALL))
    assert enc.resolution.tolist() == [2, 4] and enc.sizes.tolist() == [8, 32]
    assert enc.hashed.tolist() == [False, True]
    out = enc(torch.zeros(1, 3))[0]
    # x = 0 sits at vertex coordinate 0.5 on both levels: the mean of the 8 corners of cell 0.
    # Dense level: entries 0..7 -> 3.5. Hashed level (T = 32, low 5 bits of the primes: 17 and 21):
    # corners hash to 0, 1, 17, 16, 21, 20, 4, 5 -> mean 10.5, plus the level's offset 8.
    torch.testing.assert_close(out, torch.tensor([3.5, 18.5]))


@pytest.mark.parametrize("point", [(0.25, 0.5, 0.75), (0.9, 0.1, 0.33), (1.0, 1.0, 1.0), (0.6, 0.0, 0.99)])
def test_matches_a_scalar_restatement_of_the_rules(point):
    enc = _ramp(HashEncoding(SMALL))
    expected = _reference(SMALL, enc.params.detach().numpy(), point)
    torch.testing.assert_close(enc(torch.tensor([point]))[0], torch.tensor(expected, dtype=torch.float32))


def test_random_table_several_features_matches_reference_per_feature():
    config = {**SMALL, "n_levels": 4, "n_features_per_level": 2, "log2_hashmap_size": 7}
    enc = HashEncoding(config, seed=3)
    with torch.no_grad():
        enc.params.normal_()
    points = torch.rand(6, 3, generator=torch.Generator().manual_seed(0))
    out = enc(points).view(6, 4, 2)
    table = enc.params.detach().view(-1, 2).numpy()
    for f in range(2):
        expected = [_reference(config, table[:, f], p.tolist()) for p in points]
        torch.testing.assert_close(out[:, :, f], torch.tensor(expected, dtype=torch.float32), atol=1e-5, rtol=1e-5)


def test_dense_switches_to_hash_exactly_when_the_level_outgrows_the_table():
    # base 8, b = 2: 8 vertices (512 = 2^9 entries, fits exactly), then 16 (4096 > 512).
    enc = HashEncoding({"n_levels": 2, "log2_hashmap_size": 9, "base_resolution": 8, "per_level_scale": 2.0})
    assert enc.resolution.tolist() == [8, 16] and enc.hashed.tolist() == [False, True]
    assert enc.sizes.tolist() == [512, 512]
    # In the dense level, distinct interior vertices read distinct entries.
    enc = _ramp(HashEncoding({**SMALL, "n_levels": 1, "base_resolution": 4, "log2_hashmap_size": 8}))
    vertices = (torch.rand(200, 3, generator=torch.Generator().manual_seed(1)) * 2).floor() + 0.5
    reads = enc(vertices / enc.scale[0])[:, 0]  # points exactly at vertex centres read one entry
    keys = vertices[:, 0] + 4 * vertices[:, 1] + 16 * vertices[:, 2]
    assert torch.unique(reads).numel() == torch.unique(keys).numel()


def test_default_config_init_range_and_output_shape():
    enc = HashEncoding(HashGridConfig(n_levels=4, log2_hashmap_size=12))
    assert enc.params.abs().max() <= 1e-4
    assert enc.params.numel() == int(enc.sizes.sum()) * 2
    assert enc(torch.rand(2, 5, 3)).shape == (2, 5, 8)
    assert enc(torch.rand(0, 3)).shape == (0, 8)
    assert HashGridConfig().to_tcnn()["otype"] == "HashGrid"


def test_gradients_reach_the_table_and_the_input():
    enc = HashEncoding({**SMALL, "n_features_per_level": 2}, seed=0)
    with torch.no_grad():
        enc.params.normal_()
    x = torch.tensor([[0.3, 0.6, 0.2], [0.71, 0.05, 0.45]], requires_grad=True)
    enc(x).sum().backward()
    # Each point spreads weight 1 over its 8 corners per level and feature: the gradient sums to P.
    grad = enc.params.grad.view(-1, 2)
    torch.testing.assert_close(grad[:8].sum(0), torch.full((2,), 2.0))
    torch.testing.assert_close(grad[8:].sum(0), torch.full((2,), 2.0))
    eps = 1e-3
    for d in range(3):
        step = torch.zeros(3)
        step[d] = eps
        with torch.no_grad():
            numeric = (enc(x + step).sum(-1) - enc(x - step).sum(-1)) / (2 * eps)
        torch.testing.assert_close(x.grad[:, d], numeric, atol=2e-3, rtol=1e-2)


def test_config_errors_are_clear():
    with pytest.raises(NerfplexError, match="otype"):
        HashEncoding({"otype": "Frequency"})
    with pytest.raises(NerfplexError, match="log2_hashmap_size"):
        HashEncoding({"log2_hashmap_size": 40})
    with pytest.raises(NerfplexError, match="3-D"):
        HashEncoding({}, n_input_dims=2)


def test_parity_with_tinycudann():
    tcnn = pytest.importorskip("tinycudann")
    if not torch.cuda.is_available():
        pytest.skip("tinycudann needs CUDA")
    config = {
        "otype": "HashGrid",
        "n_levels": 8,
        "n_features_per_level": 2,
        "log2_hashmap_size": 15,
        "base_resolution": 16,
        "per_level_scale": 1.5,
    }
    ours = HashEncoding(config, seed=0).cuda()
    with torch.no_grad():
        ours.params.uniform_(-1, 1)
    theirs = tcnn.Encoding(3, config, dtype=torch.float32)
    assert theirs.params.numel() == ours.params.numel()
    with torch.no_grad():
        theirs.params.copy_(ours.params)
    x = torch.rand(4096, 3, device="cuda")
    torch.testing.assert_close(theirs(x).float(), ours(x), atol=1e-4, rtol=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    enc = HashEncoding(HashGridConfig(n_levels=8, log2_hashmap_size=14), seed=0)
    with torch.no_grad():
        enc.params.uniform_(-1, 1)
    x = torch.rand(10000, 3)
    torch.testing.assert_close(enc.cuda()(x.cuda()).cpu(), enc.cpu()(x), atol=1e-5, rtol=1e-5)
