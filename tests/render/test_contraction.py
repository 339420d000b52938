"""Mip-NeRF 360's scene contraction (``contract`` with ``bg_len = 1``) and its inverse."""

import pytest
import torch

from nerfplex.render.contraction import contract, uncontract


@pytest.mark.parametrize("norm", ["inf", "l2"])
def test_inverse_round_trips_inside_and_outside_the_unit_ball(norm):
    g = torch.Generator().manual_seed(0)
    directions = torch.nn.functional.normalize(torch.randn(200, 3, generator=g, dtype=torch.float64), dim=-1)
    radii = torch.logspace(-2, 3, 200, dtype=torch.float64)[:, None]  # float64: 2 - 1/1000 needs the bits
    points = directions * radii
    contracted, inner = contract(points, 1.0, norm)
    size = contracted.abs().amax(-1) if norm == "inf" else contracted.norm(dim=-1)
    assert (size < 2).all()
    torch.testing.assert_close(contracted[inner], points[inner])  # the inside is untouched
    torch.testing.assert_close(uncontract(contracted, 1.0, norm), points, rtol=1e-9, atol=1e-9)


def test_mip_nerf_360_reference_values():
    # (2 - 1/|x|) x/|x| with the L2 norm: |x| = 5 along (3, 4, 0)/5 -> 1.8 * (0.6, 0.8, 0)
    out, _ = contract(torch.tensor([[3.0, 4.0, 0.0]]), 1.0, "l2")
    torch.testing.assert_close(out, torch.tensor([[1.08, 1.44, 0.0]]))
    # nerfacto's inf norm: |x|_inf = 4 -> (2 - 1/4) x / 4
    out, _ = contract(torch.tensor([[3.0, 4.0, 0.0]]), 1.0, "inf")
    torch.testing.assert_close(out, torch.tensor([[1.3125, 1.75, 0.0]]))
    back = uncontract(torch.tensor([[0.0, 1.5, 0.0], [0.0, 0.0, -1.99]]), 1.0, "l2")
    torch.testing.assert_close(back, torch.tensor([[0.0, 2.0, 0.0], [0.0, 0.0, -100.0]]), rtol=1e-4, atol=1e-4)
