"""Cone-angle marching: step sizes as instant-ngp's ``calc_dt``, bounded samples per ray."""

import math

import torch

from nerfplex.render.occupancy_grid import OccupancyGrid
from nerfplex.render.occupancy_march import StepRule, march_occupied, step_count


def _iterate(rule: StepRule, t0: float, count: int) -> torch.Tensor:
    """The authors' loop: t += clamp(t * cone_angle, min, max), in float64."""
    t, out = t0, [t0]
    upper = rule.max_step if rule.max_step > 0 else math.inf
    for _ in range(count):
        t += min(max(t * rule.cone_angle, rule.min_step), upper)
        out.append(t)
    return torch.tensor(out, dtype=torch.float64)


def test_steps_grow_with_distance_as_specified():
    rule = StepRule(0.01, 1 / 256, 0.2)
    starts = torch.tensor([[0.1], [3.0], [60.0]], dtype=torch.float64)
    edges = rule.boundaries(starts, torch.arange(3000, dtype=torch.float64))
    for row, t0 in zip(edges, starts[:, 0].tolist()):
        reference = _iterate(rule, t0, 2999)
        torch.testing.assert_close(row, reference, rtol=1e-9, atol=1e-9)
        dt = row[1:] - row[:-1]
        expected = (row[:-1] / 256).clamp(0.01, 0.2)
        torch.testing.assert_close(dt, expected, rtol=1e-6, atol=1e-9)
        assert (dt[1:] >= dt[:-1] - 1e-12).all()  # non-decreasing
    assert abs(float(edges[0, 1] - edges[0, 0]) - 0.01) < 1e-12  # the minimum near the camera
    assert abs(float(edges[2, 1] - edges[2, 0]) - 0.2) < 1e-12  # the cap far away (60 / 256 > 0.2)


def test_constant_step_without_cone_angle():
    rule = StepRule(0.05)
    edges = rule.boundaries(torch.tensor([[1.0]]), torch.arange(5.0))
    torch.testing.assert_close(edges, torch.tensor([[1.0, 1.05, 1.1, 1.15, 1.2]]))


def test_samples_per_ray_bounded_by_the_logarithm_of_the_range():
    rule = StepRule(0.01, 1 / 256)
    near, far = torch.tensor([[0.2]]), torch.tensor([[1000.0]])
    count = int(step_count(rule, near, far))
    # constant part up to min / cone = 2.56, then log(far / 2.56) / log(1 + 1/256) growing steps
    bound = math.ceil((2.56 - 0.2) / 0.01) + math.ceil(math.log(1000 / 2.56) / math.log1p(1 / 256)) + 1
    assert count <= bound and count < 1800  # a constant step of 0.01 would take 100,000
    reference = _iterate(rule, 0.2, 5000)
    intervals = int((reference < 1000).sum())  # intervals starting before the end
    assert intervals <= count <= intervals + 1  # one spare for rounding


def test_march_samples_a_far_ray_within_the_bound_and_skips_empty_cells():
    box = torch.tensor([[-1.0] * 3, [1.0] * 3])
    grid = OccupancyGrid(box, resolution=8, levels=5)  # the coarsest level spans [-16, 16]^3
    grid.update(0, lambda p: (p.norm(dim=-1) < 0.5).float())  # only a ball at the centre is occupied
    origins = torch.tensor([[-15.0, 0.0, 0.0], [-15.0, 10.0, 0.0]])
    directions = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    start, end = torch.full((2, 1), 0.5), torch.full((2, 1), 30.0)
    rule = StepRule(0.02, 1 / 64)
    samples = march_occupied(origins, directions, start, end, grid, rule)
    assert samples.t.shape[1] <= int(step_count(rule, start, end).max())
    assert samples.keep[1].sum() == 0  # the second ray misses the ball
    x = origins[0, 0] + samples.t[0][samples.keep[0]]
    assert samples.keep[0].sum() > 0 and (x.abs() < 0.5 + 0.25 + 1e-6).all()
    torch.testing.assert_close(
        samples.deltas,
        (samples.t - samples.deltas / 2) / 64 * 0 + rule.dt(samples.t - samples.deltas / 2),
        rtol=1e-5,
        atol=1e-6,
    )
