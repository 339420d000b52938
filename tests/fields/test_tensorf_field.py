import math

import pytest
import torch

from nerfplex.fields.tensorf import LINES, PLANES, CPField, VMField, resolution_for_voxels, shifted_softplus
from nerfplex.fields.tensorf_shading import FeatureShadingMLP, tensorf_encoding

AABB = torch.tensor([[-1.0, -2.0, 0.0], [1.0, 1.0, 2.0]])


def _interp_1d(values, t):
    """values [R, N] at t in [-1, 1] (align_corners=True), by hand: [R]."""
    x = (t + 1) / 2 * (values.shape[1] - 1)
    i0 = min(int(math.floor(x)), values.shape[1] - 2)
    w = x - i0
    return values[:, i0] * (1 - w) + values[:, i0 + 1] * w


def _interp_2d(values, u, v):
    """values [R, H, W] at (u along W, v along H), by hand: [R]."""
    y = (v + 1) / 2 * (values.shape[1] - 1)
    j0 = min(int(math.floor(y)), values.shape[1] - 2)
    w = y - j0
    return _interp_1d(values[:, j0], u) * (1 - w) + _interp_1d(values[:, j0 + 1], u) * w


def _points(n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, generator=g) * 1.98 - 0.99  # normalised coordinates


def _vm(resolution=(5, 6, 7)):
    torch.manual_seed(0)
    return VMField(AABB, resolution, (2, 3, 4), (3, 2, 1), app_dim=5)


def test_vm_features_equal_explicit_plane_line_products():
    field = _vm()
    coords = _points()
    density, color = field.density_features(coords), field.color_features(coords)
    for p, c in enumerate(coords.tolist()):
        total, app = 0.0, []
        for i, (a, b) in enumerate(PLANES):
            plane = field.density_planes[i][0].detach()
            line = field.density_lines[i][0, :, :, 0].detach()
            total += (_interp_2d(plane, c[a], c[b]) * _interp_1d(line, c[LINES[i]])).sum()
            app.append(
                _interp_2d(field.app_planes[i][0].detach(), c[a], c[b])
                * _interp_1d(field.app_lines[i][0, :, :, 0].detach(), c[LINES[i]])
            )
        torch.testing.assert_close(density[p], total, atol=1e-5, rtol=1e-5)
        expected = field.basis.weight.detach() @ torch.cat(app)
        torch.testing.assert_close(color[p], expected, atol=1e-5, rtol=1e-5)


def test_cp_features_equal_explicit_rank_one_sums():
    torch.manual_seed(0)
    field = CPField(AABB, (5, 6, 7), density_rank=4, app_rank=3, app_dim=2)
    coords = _points()
    density, color = field.density_features(coords), field.color_features(coords)
    for p, c in enumerate(coords.tolist()):
        dens, app = 1.0, 1.0
        for i in range(3):
            dens = dens * _interp_1d(field.density_lines[i][0, :, :, 0].detach(), c[LINES[i]])
            app = app * _interp_1d(field.app_lines[i][0, :, :, 0].detach(), c[LINES[i]])
        torch.testing.assert_close(density[p], dens.sum(), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(color[p], field.basis.weight.detach() @ app, atol=1e-5, rtol=1e-5)


def test_factor_shapes_follow_the_authors_layout():
    field = _vm((5, 6, 7))
    assert field.resolution == [5, 6, 7]
    assert [tuple(p.shape) for p in field.density_planes] == [(1, 2, 6, 5), (1, 3, 7, 5), (1, 4, 7, 6)]
    assert [tuple(v.shape) for v in field.density_lines] == [(1, 2, 7, 1), (1, 3, 6, 1), (1, 4, 5, 1)]
    assert field.basis.in_features == 6


def _make_linear(field):
    """Set every factor to an affine function of its own normalised coordinate(s)."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name in field.FACTORS:
            for factor in getattr(field, name):
                rank, height, width = factor.shape[1:]
                v = torch.linspace(-1, 1, height)[:, None]
                u = torch.linspace(-1, 1, width)[None, :] if width > 1 else torch.zeros(1, 1)
                coef = torch.randn(rank, 3, 1, 1, generator=g)
                factor.copy_((coef[:, 0] * u + coef[:, 1] * v + coef[:, 2])[None])


@pytest.mark.parametrize("kind", ["vm", "cp"])
def test_upsampling_reproduces_a_field_with_linear_factors_exactly(kind):
    torch.manual_seed(0)
    field = _vm() if kind == "vm" else CPField(AABB, (5, 6, 7), 4, 3, 2)
    _make_linear(field)
    coords = _points(50)
    before = field.density_features(coords), field.color_features(coords)
    field.upsample((9, 13, 10))
    assert field.resolution == [9, 13, 10]
    after = field.density_features(coords), field.color_features(coords)
    for b, a in zip(before, after):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_upsampling_a_random_field_is_exact_on_refinements_and_close_otherwise():
    coords = _points(400)
    field = _vm()
    before = field.density_features(coords)
    field.upsample((9, 11, 13))  # every old vertex is a new vertex: piecewise-linear factors survive
    torch.testing.assert_close(field.density_features(coords), before, atol=1e-5, rtol=1e-5)
    field = _vm()
    field.upsample((20, 25, 30))  # old vertices fall between new ones: close, not equal
    error = (field.density_features(coords) - before).abs().mean()
    assert 0 < error < 0.06 * before.abs().mean()


def test_shrink_keeps_the_field_inside_the_new_box():
    field = _vm((5, 7, 9))
    world = torch.tensor([[0.1, -0.4, 0.8], [-0.2, 0.3, 1.1], [0.4, -0.9, 0.6]])
    before = field.density_features(field.normalize(world))
    field.shrink(torch.tensor([[-0.3, -1.1, 0.4], [0.6, 0.5, 1.4]]))
    # vertices every 0.5 / 0.5 / 0.25: rounded outwards to [-0.5, -1, 0.5] .. [0.5, 0.5, 1.5]
    torch.testing.assert_close(field.aabb, torch.tensor([[-0.5, -1.0, 0.5], [0.5, 0.5, 1.5]]))
    assert field.resolution == [3, 4, 5]
    torch.testing.assert_close(field.density_features(field.normalize(world)), before, atol=1e-5, rtol=1e-5)


def test_shifted_softplus_gives_tiny_density_at_zero_features():
    field = _vm()
    with torch.no_grad():
        for p in field.grid_parameters():
            p.zero_()
    density = field.density(_points(), shift=-10.0)
    torch.testing.assert_close(density, torch.full((7,), math.log1p(math.exp(-10.0))))
    assert density[0].item() == pytest.approx(4.54e-5, rel=1e-3)
    assert shifted_softplus(torch.tensor(10.0), -10.0) == pytest.approx(math.log(2.0))


def test_resolution_for_voxels_matches_the_authors_truncation():
    cube = torch.tensor([[-1.5] * 3, [1.5] * 3])
    assert resolution_for_voxels(2097156, cube) == [128, 128, 128]
    assert resolution_for_voxels(27000000, cube) == [299, 299, 299]
    assert resolution_for_voxels(1000, torch.tensor([[0.0, 0, 0], [1.0, 2.0, 4.0]])) == [5, 10, 20]


def test_encoding_layout_and_shading_input_size():
    x = torch.tensor([[0.5, -1.0]])
    enc = tensorf_encoding(x, 2)
    scaled = torch.tensor([0.5, 1.0, -1.0, -2.0])  # dimension-major, then frequency
    torch.testing.assert_close(enc, torch.cat([scaled.sin(), scaled.cos()])[None])
    mlp = FeatureShadingMLP(27, view_frequencies=2, feature_frequencies=2, width=128)
    assert mlp.mlp[0].in_features == 2 * 2 * 3 + 2 * 2 * 27 + 3 + 27  # the authors' in_mlpC
    assert torch.count_nonzero(mlp.mlp[-1].bias) == 0
    rgb = mlp(torch.randn(4, 27), torch.nn.functional.normalize(torch.randn(4, 3), dim=-1))
    assert rgb.shape == (4, 3) and ((rgb > 0) & (rgb < 1)).all()
