import torch

from nerfplex.render.occupancy_grid import OccupancyGrid
from nerfplex.render.occupancy_march import march_occupied

BOX = torch.tensor([[-1.0] * 3, [1.0] * 3])


def _ball(points):
    """Occupancy 1 inside a ball of radius 0.5, 0 elsewhere."""
    return (points.norm(dim=-1) < 0.5).float()


def test_cells_are_laid_out_x_slowest_like_nerfacc():
    grid = OccupancyGrid(BOX, resolution=4)
    ids, inside = grid.cell_ids(torch.tensor([[-0.9, -0.9, 0.6], [0.6, -0.9, -0.9], [2.0, 0, 0]]))
    assert ids[:2].tolist() == [3, 48] and inside.tolist() == [True, True, False]
    assert grid.cell_coords(torch.tensor([3, 48])).tolist() == [[0, 0, 3], [3, 0, 0]]
    assert grid.binaries.shape == (1, 4, 4, 4) and grid.aabbs.tolist() == [[-1, -1, -1, 1, 1, 1]]


def test_update_warmup_ema_and_threshold():
    grid = OccupancyGrid(BOX, resolution=8, warmup_steps=32, update_every=16)
    assert grid.binaries.all()  # before any update everything counts as occupied
    assert not grid.update(3, _ball)  # not due
    assert grid.update(0, _ball)
    inner = grid.occupied(torch.zeros(1, 3))
    assert inner.item() and not grid.occupied(torch.tensor([[0.9, 0.9, 0.9]])).item()
    # Threshold min(mean, 0.01): with values 0 / 1 the cut is 0.01.
    assert torch.equal(grid.binaries.view(-1), grid.occs > 0.01)
    before = grid.occs.clone()
    grid.update(16, lambda p: torch.zeros(p.shape[0]))  # still warm-up: every cell decays once
    torch.testing.assert_close(grid.occs, before * 0.95)


def test_after_warmup_a_quarter_plus_occupied_cells_and_determinism():
    a = OccupancyGrid(BOX, resolution=8, warmup_steps=0)
    b = OccupancyGrid(BOX, resolution=8, warmup_steps=0)
    seen = []
    a.update(0, lambda p: seen.append(p.shape[0]) or _ball(p))
    assert 512 // 4 <= seen[0] <= 2 * (512 // 4)
    b.update(0, _ball)
    assert torch.equal(a.occs, b.occs)  # the draws are a function of the step


def test_march_keeps_midpoints_in_occupied_cells_only():
    grid = OccupancyGrid(BOX, resolution=8)
    grid.update(0, _ball)
    origins = torch.tensor([[-3.0, 0.0, 0.0], [-3.0, 0.9, 0.9]])
    directions = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    start, end = torch.full((2, 1), 2.0), torch.full((2, 1), 4.0)
    samples = march_occupied(origins, directions, start, end, grid, 0.1)
    assert samples.keep[1].sum() == 0  # the second ray passes only empty cells
    kept_t = samples.t[0][samples.keep[0]]
    assert kept_t.numel() > 0
    k = (kept_t - 2.05) / 0.1  # midpoints of steps 0.1 apart from the start
    torch.testing.assert_close(k, k.round(), atol=1e-4, rtol=0)
    x = -3.0 + kept_t
    assert (x.abs() <= 0.5 + 0.25 + 1e-6).all()  # within the occupied cells around the ball
    assert (samples.t[samples.keep] < 4.0).all()


def test_cascades_double_the_box_and_look_points_up_in_the_finest_level():
    grid = OccupancyGrid(torch.tensor([[0.0, 0.0, 0.0], [2.0, 2.0, 2.0]]), resolution=4, levels=3)
    torch.testing.assert_close(
        grid.aabbs,
        torch.tensor(
            [[0.0, 0.0, 0.0, 2.0, 2.0, 2.0], [-1.0, -1.0, -1.0, 3.0, 3.0, 3.0], [-3.0, -3.0, -3.0, 5.0, 5.0, 5.0]]
        ),
    )
    assert grid.occs.shape == (3 * 64,) and grid.binaries.shape == (3, 4, 4, 4)
    points = torch.tensor([[1.9, 1.0, 1.0], [2.5, 1.0, 1.0], [4.9, 1.0, 1.0], [5.1, 1.0, 1.0]])
    assert grid.point_levels(points).tolist() == [0, 1, 2, 2]
    ids, inside = grid.cell_ids(points)
    assert inside.tolist() == [True, True, True, False]
    assert (ids[:3] // 64).tolist() == [0, 1, 2]
    # an update evaluates every level's cells at their own positions
    seen = []
    grid.update(0, lambda p: seen.append(p.abs().amax()) or (p - 1).norm(dim=-1).lt(0.5).float())
    assert max(seen) > 3.0
    assert bool(grid.binaries[0].any()) and not bool(grid.binaries[2, 0].any())
