import torch

from nerfplex.fields.alpha_mask import AlphaGridMask

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


def test_rays_hit_only_rays_that_cross_occupied_cells():
    mask = _mask_occupied_where_x_above(0.5)  # vertices at 0.75 and 1; dilated to 0.5; cells from 0.25
    origins, directions, near, far = _rays_along_y([-0.9, 0.0, 0.4, 0.9])
    hit = mask.rays_hit(origins, directions, near, far, step=0.05)
    assert hit.tolist() == [False, False, True, True]


def test_rays_hit_ignores_samples_beyond_far_and_empty_rays():
    mask = _mask_occupied_where_x_above(0.5)
    origins, directions, near, far = _rays_along_y([0.9, 0.9, 0.9])
    far[0] = 1.5   # stops before the box (which starts at y = -1, i.e. t = 2)
    near[1] = far[1] = 3.0  # empty ray
    hit = mask.rays_hit(origins, directions, near, far, step=0.05, chunk_samples=7)
    assert hit.tolist() == [False, False, True]


def test_rays_hit_before_any_update_is_every_non_empty_ray():
    origins, directions, near, far = _rays_along_y([-0.9, 0.9])
    far[0] = near[0]
    assert AlphaGridMask().rays_hit(origins, directions, near, far, step=0.1).tolist() == [False, True]
