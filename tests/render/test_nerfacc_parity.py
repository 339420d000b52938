"""nerfplex's torch occupancy grid and compositing against nerfacc's own code, on the CPU.

nerfacc 0.5's grid traversal and packed scans are CUDA kernels, but its grid update
(``OccGridEstimator._update``) and batched volume rendering (``nerfacc.rendering`` without
``ray_indices``) are plain torch, so they run here and pin our implementations to nerfacc's. The CUDA
parity of the whole marching path is ``tests/models/test_ngp.py::test_nerfacc_path_matches_the_torch_path``.
"""

import pytest
import torch

from nerfplex.render.occupancy_grid import OccupancyGrid
from nerfplex.render.occupancy_march import march_occupied

nerfacc = pytest.importorskip("nerfacc")

BOX = torch.tensor([[-1.0, -0.5, -2.0], [1.0, 1.5, 0.0]])  # not a cube, so axis mix-ups show
RES = 8


def _estimator():
    return nerfacc.OccGridEstimator(roi_aabb=BOX.flatten().tolist(), resolution=RES, levels=1)


def _cellwise(table: torch.Tensor):
    """Occupancy constant over each cell: ``table[cell of x]`` with x-slowest flat cell ids, so the
    two implementations' different jitter draws cannot matter (``round(u - 0.5)`` keeps a point
    jittered inside cell c in c even at the cell's float-rounded edges)."""

    def occupancy(points):
        unit = (points - BOX[0]) / (BOX[1] - BOX[0]) * RES
        ijk = torch.round(unit - 0.5).long().clamp(0, RES - 1)
        return table[(ijk[:, 0] * RES + ijk[:, 1]) * RES + ijk[:, 2]]

    return occupancy


def _tables(count: int):
    g = torch.Generator().manual_seed(0)
    # Mostly empty with a few dense cells, like a scene: the mean stays under the 0.01 threshold at
    # times and above it at others.
    return [torch.rand(RES**3, generator=g) ** 12 for _ in range(count)]


def test_warmup_updates_match_nerfacc():
    ours = OccupancyGrid(BOX, resolution=RES, warmup_steps=256, update_every=16)
    theirs = _estimator()
    for step, table in zip((0, 16, 32, 48), _tables(4)):
        ours.update(step, _cellwise(table))
        theirs.update_every_n_steps(step, lambda x, table=table: _cellwise(table)(x)[:, None], warmup_steps=256, n=16)
        torch.testing.assert_close(ours.occs, theirs.occs, rtol=0, atol=0)
        assert torch.equal(ours.binaries, theirs.binaries)
    assert 0 < int(ours.binaries.sum()) < RES**3


def test_after_warmup_same_cells_give_the_same_grid():
    """After warm-up both draw a quarter of the cells plus occupied ones, from different random
    streams; handed our draws, nerfacc's update gives our grid."""
    ours = OccupancyGrid(BOX, resolution=RES, warmup_steps=0, update_every=1)
    theirs = _estimator()
    drawn = {}

    def ours_occupancy(table):
        def occupancy(points):
            unit = (points - BOX[0]) / (BOX[1] - BOX[0]) * RES
            ijk = torch.round(unit - 0.5).long()
            drawn["ids"] = (ijk[:, 0] * RES + ijk[:, 1]) * RES + ijk[:, 2]
            return _cellwise(table)(points)

        return occupancy

    for step, table in enumerate(_tables(3)):
        ours.update(step, ours_occupancy(table))
        theirs._sample_uniform_and_occupied_cells = lambda n: [drawn["ids"]]
        theirs._update(step=step, occ_eval_fn=lambda x, table=table: _cellwise(table)(x)[:, None], warmup_steps=0)
        torch.testing.assert_close(ours.occs, theirs.occs, rtol=0, atol=0)
        assert torch.equal(ours.binaries, theirs.binaries)


def test_compositing_matches_nerfacc_rendering():
    """The torch NGP path's accumulation (weights from σ·δ, colour over a background, opacity, and
    depth as Σ w t / Σ w) equals ``nerfacc.rendering`` on the same samples and field values."""
    from nerfplex.render.compositing import composite, density_weights

    grid = OccupancyGrid(BOX, resolution=RES)
    grid.update(0, _cellwise(_tables(1)[0] * 50))
    g = torch.Generator().manual_seed(3)
    n, step = 64, 0.05
    directions = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
    origins = BOX.mean(0) - 3 * directions
    start, end = torch.full((n, 1), 1.5), torch.full((n, 1), 4.5)
    samples = march_occupied(origins, directions, start, end, grid, step)
    sigma = torch.rand(samples.t.shape, generator=g) * 20 * samples.keep
    rgb = torch.rand(samples.t.shape + (3,), generator=g)
    background = torch.rand(n, 3, generator=g)
    assert samples.keep.any() and not samples.keep.all()

    ours = composite(density_weights(sigma, samples.keep.float() * step), rgb, samples.t, background)
    colors, opacities, depths, _ = nerfacc.rendering(
        samples.t - step / 2,
        samples.t + step / 2,
        rgb_sigma_fn=lambda t0, t1, ray_indices: (rgb, sigma),
        render_bkgd=background,
    )
    torch.testing.assert_close(ours["rgb"], colors, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ours["opacity"], opacities, atol=1e-6, rtol=1e-5)
    hit = opacities[:, 0] > 1e-3
    torch.testing.assert_close(ours["depth"][hit], depths[hit], atol=1e-5, rtol=1e-5)
