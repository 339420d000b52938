import itertools

import pytest
import torch

from nerfplex.fields.dense_grid import DenseGrid, smooth_l1_total_variation

BOX = torch.tensor([[-1.0, -2.0, 0.0], [1.0, 2.0, 3.0]])


def _linear(points):
    """A field that trilinear interpolation reproduces exactly: ``[P, 2]``."""
    x, y, z = points.unbind(-1)
    return torch.stack([0.5 * x - 2.0 * y + 0.25 * z + 1.0, x + y - z], dim=-1)


def _linear_grid(resolution):
    grid = DenseGrid(2, resolution, BOX)
    with torch.no_grad():
        grid.grid.copy_(_linear(grid.vertices()).permute(3, 0, 1, 2)[None])
    return grid


def _random_points(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return BOX[0] + torch.rand(n, 3, generator=g) * (BOX[1] - BOX[0])


def test_values_at_vertices_and_trilinear_in_between():
    grid = DenseGrid(1, [3, 4, 5], BOX)
    with torch.no_grad():
        grid.grid.normal_(generator=torch.Generator().manual_seed(0))
    vertices = grid.vertices()
    torch.testing.assert_close(grid(vertices.reshape(-1, 3))[:, 0], grid.grid[0, 0].reshape(-1))
    # A point inside cell (i, j, k) with fractions (u, v, w): the explicit trilinear blend.
    i, j, k, (u, v, w) = 1, 2, 3, (0.3, 0.6, 0.9)
    point = vertices[i, j, k] + torch.tensor([u, v, w]) * (vertices[i + 1, j + 1, k + 1] - vertices[i, j, k])
    values = grid.grid[0, 0]
    expected = sum(
        values[i + a, j + b, k + c] * (u if a else 1 - u) * (v if b else 1 - v) * (w if c else 1 - w)
        for a, b, c in itertools.product((0, 1), repeat=3)
    )
    torch.testing.assert_close(grid(point[None])[0, 0], expected)


def test_linear_field_is_reproduced_and_survives_scaling():
    grid = _linear_grid([4, 6, 5])
    points = _random_points(200)
    torch.testing.assert_close(grid(points), _linear(points), atol=1e-5, rtol=0)
    grid.scale([9, 7, 11])
    assert grid.resolution == [9, 7, 11] and isinstance(grid.grid, torch.nn.Parameter)
    torch.testing.assert_close(grid.grid[0].permute(1, 2, 3, 0), _linear(grid.vertices()), atol=1e-5, rtol=0)
    torch.testing.assert_close(grid(points), _linear(points), atol=1e-5, rtol=0)


def _huber(d):
    return torch.where(d.abs() < 1, 0.5 * d * d, d.abs() - 0.5)


def test_total_variation_is_the_authors_smooth_l1_and_its_gradient_their_kernel():
    g = torch.Generator().manual_seed(1)
    volume = (2.0 * torch.randn(1, 2, 3, 4, 5, generator=g)).requires_grad_()
    loss = smooth_l1_total_variation(volume)
    brute = 0.0
    v = volume.detach()
    for c, i, j, k in itertools.product(range(2), range(3), range(4), range(5)):
        for di, dj, dk in ((1, 0, 0), (0, 1, 0), (0, 0, 1)):
            if i + di < 3 and j + dj < 4 and k + dk < 5:
                brute += float(_huber(v[0, c, i, j, k] - v[0, c, i + di, j + dj, k + dk]))
    assert float(loss.detach()) == pytest.approx(brute / 6, rel=1e-5)
    loss.backward()
    # total_variation_add_grad (dense mode): (1/6) Σ_neighbours clamp(v - v_n, -1, 1)
    v = volume.detach()[0]
    expected = torch.zeros_like(v)
    for dim in (1, 2, 3):
        n = v.shape[dim]
        lower = v.narrow(dim, 1, n - 1) - v.narrow(dim, 0, n - 1)
        expected.narrow(dim, 1, n - 1).add_(lower.clamp(-1, 1))
        expected.narrow(dim, 0, n - 1).add_((-lower).clamp(-1, 1))
    torch.testing.assert_close(volume.grad[0], expected / 6)


def test_total_variation_of_a_constant_grid_is_zero():
    grid = DenseGrid(3, [4, 4, 4], BOX)
    with torch.no_grad():
        grid.grid.fill_(0.7)
    assert float(grid.total_variation().detach()) == 0.0
