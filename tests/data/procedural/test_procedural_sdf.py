"""Analytic SDF primitives against closed forms; combinators; textures."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch

from nerfplex.data.procedural import sdf as S
from nerfplex.data.procedural.scenes import object_sdf, room_sdf
from nerfplex.data.procedural.textures import FALLBACK_ALBEDO, MATERIALS, Material, albedo, checker


def pts(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def close(actual, expected, atol=1e-5):
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=torch.float32), atol=atol, rtol=0)


def test_sphere():
    d = S.sphere(pts([1.0, 2.0, 3.0], [3.0, 2.0, 3.0], [1.0, 2.0, 3.5]), (1.0, 2.0, 3.0), 0.5)
    close(d, [-0.5, 1.5, 0.0])


def test_box_outside_edge_corner_inside():
    p = pts([3.0, 0.0, 0.0], [2.0, 3.0, 0.0], [4.0, 5.0, 6.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0])
    d = S.box(p, (0.0, 0.0, 0.0), (1.0, 2.0, 3.0))
    close(d, [2.0, math.sqrt(2.0), math.sqrt(27.0), -0.5, -1.0])


def test_box_rotation_matches_swapped_axes():
    quarter = S.rotation_x(math.pi / 2)  # local y -> world z
    p = pts([0.0, 0.0, 3.0], [0.0, 2.0, 0.0])
    close(S.box(p, (0.0, 0.0, 0.0), (1.0, 2.0, 0.5), quarter), [1.0, 1.5])


def test_rounded_box():
    p = pts([2.0, 0.0, 0.0], [1.0 + 0.3, 1.0 + 0.4, 0.0], [0.0, 0.0, 0.0])
    d = S.rounded_box(p, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 0.25)
    # the corner of the inner box is at (0.75, 0.75); distance minus the rounding radius
    close(d, [1.0, math.hypot(0.55, 0.65) - 0.25, -1.0])


def test_torus():
    p = pts([2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 2.0, 1.0], [3.0, 0.0, 0.0])
    close(S.torus(p, (0.0, 0.0, 0.0), 2.0, 0.5), [-0.5, 1.5, 0.5, 0.5])


def test_torus_rotated_ring_in_xz_plane():
    p = pts([0.0, 0.0, 2.0], [0.0, 2.0, 0.0], [1.0, 1.0, 1.0])
    d = S.torus(p, (1.0, 1.0, 1.0), 2.0, 0.5, S.rotation_x(math.pi / 2))
    close(
        d,
        [math.hypot(math.hypot(1.0, 1.0) - 2.0, 1.0) - 0.5, math.hypot(2.0 - math.sqrt(2.0), 1.0) - 0.5, 1.5],
        atol=1e-5,
    )


def test_capped_cylinder():
    p = pts([0.0, 0.0, 3.0], [2.0, 0.0, 0.0], [4.0, 0.0, 6.0], [0.0, 0.0, 0.0], [0.0, 0.9, 1.5])
    d = S.capped_cylinder(p, (0.0, 0.0, 0.0), 1.0, 2.0)
    close(d, [1.0, 1.0, 5.0, -1.0, -0.1])


def test_plane_and_box_interior():
    close(S.plane(pts([0.0, 0.0, 3.0], [5.0, 5.0, -1.0]), (0.0, 0.0, 1.0), 1.0), [2.0, -2.0])
    p = pts([0.0, 0.0, 0.0], [1.5, 0.0, 0.0], [3.0, 0.0, 0.0])
    close(S.box_interior(p, (0.0, 0.0, 0.0), (2.0, 2.0, 1.0)), [1.0, 0.5, -1.0])


def test_box_interior_face():
    p = pts([-1.9, 0, 0], [1.9, 0, 0], [0, -1.9, 0], [0, 1.9, 0], [0, 0, -0.9], [0, 0, 0.9])
    face = S.box_interior_face(p, (0.0, 0.0, 0.0), (2.0, 2.0, 1.0))
    assert face.tolist() == [0, 1, 2, 3, 4, 5]


def test_union_picks_closest_distance_and_its_material():
    d1, d2 = torch.tensor([1.0, -2.0, 3.0]), torch.tensor([0.5, 1.0, 4.0])
    dist, mat = S.union([(d1, 7), (d2, torch.tensor([1, 2, 3]))])
    close(dist, [0.5, -2.0, 3.0])
    assert mat.dtype == torch.long and mat.tolist() == [1, 7, 7]


def test_scene_sdf_call_matches_evaluate():
    scene = S.SceneSDF(
        [
            S.Shape(partial(S.sphere, center=(0.0, 0.0, 0.0), radius=1.0), 3),
            S.Shape(partial(S.sphere, center=(3.0, 0.0, 0.0), radius=1.0), 5),
        ]
    )
    p = pts([0.0, 0.0, 0.0], [2.9, 0.0, 0.0], [1.4, 0.0, 0.0])
    dist, mat = scene.evaluate(p)
    close(scene(p), [-1.0, -0.9, 0.4])
    torch.testing.assert_close(dist, scene(p))
    assert mat.tolist() == [3, 5, 3]


@pytest.mark.parametrize("make", [object_sdf, room_sdf])
def test_scene_sdfs_have_finite_unit_gradients(make):
    scene = make()
    p = torch.rand(2000, 3, generator=torch.Generator().manual_seed(0)) * 4.0 - 2.0
    p.requires_grad_(True)
    scene(p).sum().backward()
    assert torch.isfinite(p.grad).all()
    # exact SDFs (and unions of them) are 1-Lipschitz with |grad| = 1 almost everywhere
    norms = p.grad.norm(dim=-1)
    assert (norms < 1.0 + 1e-4).all() and (norms > 0.99).float().mean() > 0.95


def test_room_walls_get_their_materials():
    scene = room_sdf()
    p = pts([-0.5, -0.3, -1.24], [-0.5, -0.3, 1.24], [-0.5, 1.99, 0.5], [1.99, 0.5, 0.5])
    _, mat = scene.evaluate(p)
    assert mat.tolist() == [Material.FLOOR_TILES, Material.CEILING, Material.WALL_GRADIENT, Material.WALL_STRIPES]


def test_albedo_range_shape_and_fallback():
    p = torch.rand(500, 3, generator=torch.Generator().manual_seed(1)) * 4.0 - 2.0
    ids = torch.tensor(list(MATERIALS) + [99]).repeat(50)[:500]
    out = albedo(p, ids)
    assert out.shape == (500, 3) and out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert torch.equal(out[ids == 99], torch.tensor(FALLBACK_ALBEDO).expand((ids == 99).sum(), 3))
    # every material varies over space (a texture, not a flat colour) and materials differ
    means = []
    for material_id in MATERIALS:
        colours = out[ids == material_id]
        assert colours.std(dim=0).max() > 0.02, f"material {material_id} is flat"
        means.append(colours.mean(dim=0))
    assert torch.cdist(torch.stack(means), torch.stack(means)).add(torch.eye(len(means))).min() > 0.01


def test_checker_alternates_between_neighbouring_cells():
    p = pts([0.1, 0.1, 0.1], [0.35, 0.1, 0.1], [0.35, 0.35, 0.1])
    out = checker(p, 0.25, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    close(out[:, 0], [0.0, 1.0, 0.0])
