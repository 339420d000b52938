import torch

from nerfplex.render.alpha_mask import AlphaGridMask

BOX = torch.tensor([[-1.0] * 3, [1.0] * 3])


def _mask_occupied_where_x_above(x0: float) -> AlphaGridMask:
    mask = AlphaGridMask()
    mask.update(lambda p: (p[:, 0] > x0).float(), BOX, [9, 9, 9], threshold=0.5)
    return mask


def _rays_along_y(xs, near=0.0, far=6.0):
    x = torch.tensor(xs)
    origins = torch.stack([x, torch.full_like(x, -3.0), torch.zeros_like(x)], dim=-1)
    directions = torch.tensor([0.0, 1.0, 0.0]).expand_as(origins)
    ones = torch.ones(len(xs), 1)
    return origins, directions, near * ones, far * ones


def test_rays_may_hit_only_rays_that_cross_occupied_cells():
    # Occupied vertices from x = 0.75, dilated to 0.5 by the update: cells from x = 0.25 are occupied;
    # the test's one-cell dilation keeps rays down to x = 0 (cells are 0.25 wide), none below.
    mask = _mask_occupied_where_x_above(0.5)
    origins, directions, near, far = _rays_along_y([-0.9, -0.1, 0.1, 0.4, 0.9])
    hit = mask.rays_may_hit(origins, directions, near, far)
    assert hit.tolist() == [False, False, True, True, True]


def test_rays_may_hit_is_a_superset_of_rays_whose_samples_are_occupied():
    torch.manual_seed(0)
    mask = AlphaGridMask()
    mask.update(lambda p: ((p - 0.2).norm(dim=-1) < 0.45).float(), BOX, [40, 30, 20], threshold=0.5)
    origins = torch.randn(3000, 3)
    origins = 3 * origins / origins.norm(dim=-1, keepdim=True)
    directions = torch.nn.functional.normalize(torch.rand(3000, 3) - 0.5 - origins / 3, dim=-1)
    near, far = torch.full((3000, 1), 1.0), torch.full((3000, 1), 5.0)
    t = torch.linspace(1.0, 5.0, 2000)
    dense = mask.occupied((origins[:, None] + directions[:, None] * t[:, None]).reshape(-1, 3))
    exact = dense.view(3000, -1).any(dim=-1)
    for max_cells in (8, 64):
        hit = mask.rays_may_hit(origins, directions, near, far, max_cells=max_cells, chunk_samples=999)
        assert (hit | ~exact).all()  # nothing the fine march sees is dropped
    assert 0.1 < exact.float().mean() < 0.9 and hit.sum() < 1.6 * exact.sum()  # a one-cell margin


def test_rays_may_hit_keeps_rays_in_the_lookups_margin_outside_the_box():
    # Occupied up to the face x = 1: the trilinear lookup (zero padding) is still > 0 up to one cell
    # (0.25) outside it. A ray along y at x = 1.1 never enters the box yet its lookups are 0.6.
    mask = _mask_occupied_where_x_above(0.5)
    origins, directions, near, far = _rays_along_y([1.1, 1.3])
    assert mask.occupied(torch.tensor([[1.1, 0.0, 0.0]])).item()
    assert mask.rays_may_hit(origins, directions, near, far)[0]
    exact = mask.samples_hit(origins, directions, near, 0.05, 120)
    assert exact.tolist() == [True, False]


def test_rays_may_hit_ignores_samples_beyond_far_and_empty_rays():
    mask = _mask_occupied_where_x_above(0.5)
    origins, directions, near, far = _rays_along_y([0.9, 0.9, 0.9])
    far[0] = 1.5  # stops before the box (which starts at y = -1, i.e. t = 2)
    near[1] = far[1] = 3.0  # empty ray
    hit = mask.rays_may_hit(origins, directions, near, far, chunk_samples=7)
    assert hit.tolist() == [False, False, True]


def test_rays_may_hit_before_any_update_is_every_non_empty_ray():
    origins, directions, near, far = _rays_along_y([-0.9, 0.9])
    far[0] = near[0]
    assert AlphaGridMask().rays_may_hit(origins, directions, near, far).tolist() == [False, True]


def _random_rays(count: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    origins = torch.randn(count, 3, generator=generator)
    origins = 3 * origins / origins.norm(dim=-1, keepdim=True)
    directions = torch.rand(count, 3, generator=generator) - 0.5 - origins / 3
    return origins, torch.nn.functional.normalize(directions, dim=-1)


def test_samples_hit_equals_the_trilinear_lookup_at_every_sample():
    # The authors' filter: any of `count` samples from `start` with a trilinear mask value > 0.
    mask = AlphaGridMask()
    mask.update(lambda p: ((p - 0.2).norm(dim=-1) < 0.45).float(), BOX, [40, 30, 20], threshold=0.5)
    origins, directions = _random_rays(4000)
    start = torch.rand(4000, 1) + 1.0
    step, count = 0.013, 256  # ends short of the far side for many rays, as the authors' 256 do
    t = start + step * torch.arange(count)
    points = origins[:, None] + directions[:, None] * t[..., None]
    expected = mask.occupied(points.reshape(-1, 3)).view(4000, count).any(dim=-1)
    hit = mask.samples_hit(origins, directions, start, step, count, chunk_samples=5000)
    assert 0.1 < expected.float().mean() < 0.9
    assert torch.equal(hit, expected)


def test_samples_hit_sees_the_one_cell_margin_outside_the_box():
    # An occupied face vertex gives a trilinear value > 0 up to one cell outside the box.
    mask = _mask_occupied_where_x_above(0.5)  # cells 0.25 wide, occupied up to x = 1
    origins = torch.tensor([[1.1, -3.0, 0.0], [1.3, -3.0, 0.0]])
    directions = torch.tensor([0.0, 1.0, 0.0]).expand_as(origins)
    hit = mask.samples_hit(origins, directions, torch.full((2, 1), 2.5), 0.05, 40)
    assert hit.tolist() == [True, False]
    assert mask.occupied(torch.tensor([[1.1, 0.0, 0.0], [1.3, 0.0, 0.0]])).tolist() == [True, False]


def test_samples_hit_before_any_update_keeps_every_ray():
    origins, directions, near, _ = _rays_along_y([-0.9, 0.9])
    assert AlphaGridMask().samples_hit(origins, directions, near, 0.1, 4).all()
