import math

import pytest
import torch

from nerfplex.cameras import Cameras, look_at
from nerfplex.fields.dvgo import (
    DVGOColorMLP,
    DVGOField,
    coarse_geometry_box,
    density_shift,
    mask_from_coarse,
    raw_to_alpha,
    resolution_for,
    scaled_box,
    voxel_size_for,
)
from nerfplex.fields.view_count import count_views

BOX = torch.tensor([[-1.0] * 3, [1.0] * 3])


def _field(num_voxels=8**3, alpha_init=1e-2, **kw):
    torch.manual_seed(0)
    return DVGOField(BOX, num_voxels, num_voxels, alpha_init, **kw)


@pytest.mark.parametrize("alpha_init", [1e-6, 1e-4, 1e-2, 0.3])
def test_shift_gives_alpha_init_for_one_base_voxel_where_raw_density_is_zero(alpha_init):
    shift = density_shift(alpha_init)
    assert shift == pytest.approx(math.log(1 / (1 - alpha_init) - 1))
    zero = torch.zeros(1, dtype=torch.float64)
    assert float(raw_to_alpha(zero, shift, 1.0)) == pytest.approx(alpha_init, rel=1e-9)
    # a step of `interval` base voxels: the same optical depth per unit length
    assert float(raw_to_alpha(zero, shift, 0.5)) == pytest.approx(1 - (1 - alpha_init) ** 0.5, rel=1e-9)


def test_raw2alpha_formula():
    raw = torch.linspace(-20, 20, 41, dtype=torch.float64)
    expected = 1 - (1 + torch.exp(raw - 3.0)) ** (-0.7)
    torch.testing.assert_close(raw_to_alpha(raw, -3.0, 0.7), expected)


def test_density_is_interpolated_before_activation():
    field = _field(num_voxels=3**3)  # vertices at -1, 0, 1 on each axis
    with torch.no_grad():
        field.density.grid.zero_()
        field.density.grid[0, 0, 1, 1, 1] = 8.0  # the centre vertex
    point = torch.tensor([[0.5, 0.0, 0.0]])  # halfway between the centre and (1, 0, 0)
    raw = field.raw_density(point).detach()
    assert float(raw) == pytest.approx(4.0)
    alpha = field.alpha(raw, 0.5)
    explicit = 1 - (1 + math.exp(4.0 + float(field.act_shift))) ** (-0.5)
    assert float(alpha) == pytest.approx(explicit, rel=1e-5)
    ends = field.alpha(torch.tensor([8.0, 0.0]), 0.5)
    assert abs(float(alpha) - float(ends.mean())) > 0.05  # not the interpolated alpha


def test_resolution_rule_is_the_authors_world_size():
    lego_box = torch.tensor([[-1.5] * 3, [1.5] * 3])
    assert resolution_for(lego_box, 1024000) == [100, 100, 100]
    assert resolution_for(BOX, 160**3) == [160, 160, 160]
    flat = torch.tensor([[0.0, 0.0, 0.0], [2.0, 1.0, 0.5]])
    voxel = (1.0 / 1000) ** (1 / 3)
    assert voxel_size_for(flat, 1000) == pytest.approx(voxel, rel=1e-6)
    assert resolution_for(flat, 1000) == [20, 10, 5]


def test_coarse_and_fine_fields():
    coarse = _field()
    assert coarse.rgbnet is None and coarse.k0.channels == 3 and coarse.resolution == [8, 8, 8]
    colors = coarse.colors(torch.zeros(4, 3), torch.nn.functional.normalize(torch.ones(4, 3), dim=-1))
    torch.testing.assert_close(colors, torch.full((4, 3), 0.5))  # sigmoid of the zero init
    fine = DVGOField(BOX, 8**3, 16**3, 1e-2, rgbnet_dim=6, rgbnet_width=16)
    assert fine.k0.channels == 6 and fine.voxel_size_ratio() == pytest.approx(2.0, rel=1e-5)
    out = fine.colors(torch.rand(5, 3), torch.nn.functional.normalize(torch.randn(5, 3), dim=-1))
    assert out.shape == (5, 3) and ((out > 0) & (out < 1)).all()


def test_color_mlp_layouts():
    direct = DVGOColorMLP(12, True, depth=3, width=32, view_frequencies=4)
    assert direct.mlp[0].in_features == 12 + 3 + 24
    assert len([m for m in direct.mlp if hasattr(m, "weight")]) == 3
    assert not direct.mlp[-1].bias.detach().any()
    residual = DVGOColorMLP(12, False, depth=2, width=32, view_frequencies=4)
    assert residual.mlp[0].in_features == 9 + 27
    with torch.no_grad():
        residual.mlp[-1].weight.zero_()
    features = torch.randn(3, 12)
    out = residual(features, torch.nn.functional.normalize(torch.randn(3, 3), dim=-1))
    torch.testing.assert_close(out, torch.sigmoid(features[:, :3]))  # the diffuse part alone
    g = torch.Generator().manual_seed(3)
    a = DVGOColorMLP(12, True, 3, 8, 4, g)
    b = DVGOColorMLP(12, True, 3, 8, 4, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a.mlp[0].weight, b.mlp[0].weight)


def test_occupancy_update_and_scaling_keep_a_dilated_mask():
    field = _field(num_voxels=9**3)
    with torch.no_grad():
        field.density.grid.fill_(-30.0)
        field.density.grid[0, 0, 4, 4, 4] = 10.0
    field.update_occupancy(1e-4)
    occupied = field.mask_cache.mask.nonzero()
    assert len(occupied) == 27 and occupied.min() == 3 and occupied.max() == 5  # 3x3x3 dilation
    field.scale_volume(17**3, 1e-4)
    assert field.resolution == [17, 17, 17] and field.mask_cache.resolution == [17, 17, 17]
    assert int(field.num_voxels) == 17**3
    # new mask = old mask at the nearest old vertex & dilated new alpha
    assert field.mask_cache.mask[8, 8, 8] and not field.mask_cache.mask[0, 0, 0]
    assert field.mask_cache.mask.sum() < 27 * 8


def test_coarse_geometry_box_and_fine_mask():
    coarse = _field(num_voxels=9**3, alpha_init=1e-6)
    with torch.no_grad():
        coarse.density.grid[0, 0, 2:5, 3, 4:7] = 20.0  # x in [-0.5, 0], y = -0.25, z in [0, 0.5]
    box = coarse_geometry_box(coarse, 1e-3)
    torch.testing.assert_close(box, torch.tensor([[-0.5, -0.25, 0.0], [0.0, -0.25, 0.5]]))
    torch.testing.assert_close(
        scaled_box(torch.tensor([[0.0] * 3, [2.0] * 3]), 1.05), torch.tensor([[-0.05] * 3, [2.05] * 3])
    )
    vertices = coarse.density.vertices()
    mask = mask_from_coarse(coarse, vertices, 1e-3)
    assert mask[3, 3, 5] and mask[1, 2, 3] and not mask[0, 3, 5]  # one-vertex dilation
    assert coarse_geometry_box(_field(alpha_init=1e-6), 1e-3) is None


def test_mask_out_near_cameras():
    field = _field(num_voxels=5**3)
    field.mask_out_near(torch.tensor([[3.0, 0.0, 0.0]]), near=2.5)
    near = field.density.grid[0, 0] == -100
    assert near[4].any() and not near[:3].any()


def test_view_counts_count_views_whose_rays_cross_a_vertex():
    eye = torch.tensor([[0.0, 0.0, 4.0], [0.0, 4.0, 0.0], [4.0, 0.0, 0.0]])
    c2w = look_at(eye, torch.zeros(3, 3), torch.tensor([0.0, 1.0, 1.0]))
    focal = torch.full((3,), 24.0)
    cameras = Cameras(c2w, focal, focal, torch.full((3,), 8.0), torch.full((3,), 8.0), 16, 16)
    count = count_views(cameras, BOX, [5, 5, 5], voxel_size_for(BOX, 5**3), 0.0, 0.5)
    assert count.shape == (1, 1, 5, 5, 5)
    assert float(count[0, 0, 2, 2, 2]) == 3.0  # the centre is on every view's central rays
    assert float(count.max()) <= 3.0
