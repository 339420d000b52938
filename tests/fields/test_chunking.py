import torch

from nerfplex.fields.chunking import CPU_CHUNK_POINTS, apply_in_chunks, chunk_size_for
from nerfplex.fields.nerf_mlp import NeRFMLP, NeRFMLPConfig


def test_chunked_equals_single_pass_with_gradients():
    torch.manual_seed(0)
    mlp = NeRFMLP(NeRFMLPConfig(num_layers=3, width=32, skip_layers=(1,)))
    pos, dirs = torch.randn(100, 3), torch.nn.functional.normalize(torch.randn(100, 3), dim=-1)
    whole = mlp(pos, dirs)
    sum(o.sum() for o in whole).backward()
    grads = [p.grad.clone() for p in mlp.parameters()]
    mlp.zero_grad()
    parts = apply_in_chunks(mlp, pos, dirs, chunk_size=7)
    sum(o.sum() for o in parts).backward()
    for a, b in zip(whole, parts):
        torch.testing.assert_close(a, b)
    for g, p in zip(grads, mlp.parameters()):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-6)
    assert apply_in_chunks(mlp, pos, dirs, chunk_size=0)[0].shape == (100,)


def test_chunk_size_rule_slices_only_on_the_cpu():
    points = torch.zeros(5, 3)
    assert chunk_size_for(points, 4096) == 4096
    assert chunk_size_for(points.to("meta"), 4096) == 0
    assert CPU_CHUNK_POINTS == 8192
