"""Whole-image rendering in chunks and the two sources of normals (SDF gradient, depth)."""

from __future__ import annotations

import math

import pytest
import torch

from nerfplex.cameras import Cameras, look_at
from nerfplex.engine.evaluation import render_view
from nerfplex.eval.view_rendering import (camera_directions, image_normals, normals_from_depth, normals_image,
                                          render_image, world_to_camera_normals)
from nerfplex.fields.neus_color import RenderingNetworkConfig
from nerfplex.fields.sdf_network import SDFNetworkConfig
from nerfplex.models.neus import NeuS, NeuSConfig
from nerfplex.models.registry import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def _camera(size: int = 12, distance: float = 3.0) -> Cameras:
    eye = torch.tensor([[distance, 0.3, 0.4]])
    c2w = look_at(eye, torch.zeros(1, 3), torch.tensor([0.0, 0.0, 1.0]))
    focal = torch.tensor([1.5 * size])
    return Cameras(c2w, focal, focal, torch.tensor([size / 2]), torch.tensor([size / 2]), size, size)


def test_render_image_equals_the_trainers_view_rendering(tiny_config, tiny_scene):
    torch.manual_seed(0)
    model = build_model(tiny_config.model, tiny_scene).eval()
    cameras, white = tiny_scene.test.cameras, torch.ones(3)
    ours = render_image(model, cameras, 1, 2.0, 6.0, white, chunk_size=7, aabb=tiny_scene.aabb)
    reference = render_view(model, cameras, 1, 2.0, 6.0, white, 64, tiny_scene.aabb)
    assert torch.allclose(ours.rgb, reference.rgb, atol=1e-6)
    assert torch.allclose(ours.depth, reference.depth, atol=1e-5)
    assert ours.normals is None  # NeRF has no normals output


def test_normals_from_depth_of_a_tilted_plane():
    cameras = _camera(size=16)
    directions = camera_directions(cameras, 0)
    normal = torch.tensor([0.3, -0.2, -1.0])
    normal = normal / normal.norm()
    depth = (-2.0 / (directions @ normal))[..., None]  # the plane n . X = -2 in the camera frame
    normals = normals_from_depth(depth, cameras, 0)
    assert torch.allclose(normals, normal.expand_as(normals), atol=1e-4)
    colours = normals_image(normals, torch.ones_like(depth))
    assert colours.min() >= 0 and colours.max() <= 1 and colours[..., 2].mean() > 0.9  # facing: blue


def test_neus_normals_are_the_sdf_gradient_and_agree_with_depth():
    config = NeuSConfig(sdf_network=SDFNetworkConfig(d_hidden=16, n_layers=2, skip_in=(), multires=0,
                                                     d_out=5),
                        rendering_network=RenderingNetworkConfig(d_feature=4, d_hidden=8, n_layers=1,
                                                                 multires_view=0),
                        n_samples=64, n_importance=32, up_sample_steps=4, n_outside=0, anneal_end=0)
    box = torch.tensor([[-1.0] * 3, [1.0] * 3])
    model = NeuS(config, box).eval()
    with torch.no_grad():
        model.variance.variance.fill_(1.0)  # sharp surface: inv_s = exp(10)

    def sphere(x):  # SDF of a sphere of radius 0.3 in the unit frame
        return torch.cat([x.norm(dim=-1, keepdim=True) - 0.3, x.new_zeros(len(x), 4)], dim=-1)

    model.sdf_network.forward = sphere
    cameras = _camera(size=12)
    image = render_image(model, cameras, 0, 0.0, 10.0, torch.ones(3), chunk_size=50)
    assert image.normals is not None
    normals, source = image_normals(image.normals, image.depth, cameras, 0)
    assert source == "sdf_gradient"
    hit = image.opacity[..., 0] > 0.99
    assert hit.sum() > 10
    # analytic: the unit normal of the sphere at the rendered surface point, in the camera frame
    radius = float(model.radius)
    world_directions = (cameras.c2w[0, :, :3] @ camera_directions(cameras, 0)[..., None])[..., 0]
    points = cameras.c2w[0, :, 3] + world_directions * image.depth
    expected = world_to_camera_normals(points / radius, cameras, 0)
    assert (normals[hit] * expected[hit]).sum(-1).min() > math.cos(math.radians(5))
    from_depth, source = image_normals(None, image.depth, cameras, 0)
    assert source == "depth_finite_differences"
    inner = hit & torch.nn.functional.avg_pool2d(hit[None, None].float(), 3, 1, 1)[0, 0].eq(1)
    assert (from_depth[inner] * expected[inner]).sum(-1).mean() > math.cos(math.radians(15))
