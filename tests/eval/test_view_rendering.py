"""Whole-image rendering in chunks and the two sources of normals (SDF gradient, depth)."""

from __future__ import annotations

import math

import pytest
import torch

from nerfplex.cameras import Cameras, look_at
from nerfplex.eval.view_rendering import (
    camera_directions,
    image_normals,
    normals_from_depth,
    normals_image,
    render_view,
    world_to_camera_normals,
)
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
    config = NeuSConfig(
        sdf_network=SDFNetworkConfig(d_hidden=16, n_layers=2, skip_in=(), multires=0, d_out=5),
        rendering_network=RenderingNetworkConfig(d_feature=4, d_hidden=8, n_layers=1, multires_view=0),
        n_samples=64,
        n_importance=32,
        up_sample_steps=4,
        n_outside=0,
        anneal_end=0,
    )
    box = torch.tensor([[-1.0] * 3, [1.0] * 3])
    model = NeuS(config, box).eval()
    with torch.no_grad():
        model.variance.variance.fill_(1.0)  # sharp surface: inv_s = exp(10)

    def sphere(x):  # SDF of a sphere of radius 0.3 in the unit frame
        return torch.cat([x.norm(dim=-1, keepdim=True) - 0.3, x.new_zeros(len(x), 4)], dim=-1)

    model.sdf_network.forward = sphere
    cameras = _camera(size=12)
    image = render_view(model, cameras, 0, 0.0, 10.0, torch.ones(3), 50)
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


def _distorted(size: int = 10) -> Cameras:
    cameras = _camera(size=size)
    cameras.distortion = torch.tensor([[-0.2, 0.05, 0.01, -0.01, 0.0]])
    return cameras


def test_the_one_renderer_equals_the_old_paths_on_a_distorted_camera(tiny_config, tiny_scene):
    """The trainer's old ``render_view`` (``Cameras.image_rays`` -> ``Model.render_chunked``) rendered
    every ray of the camera in one pass: the one renderer gives the same image in any chunking, its
    rays go through the lens distortion, and a pixel stride renders exactly those pixels."""
    from nerfplex.cameras import RayBundle

    torch.manual_seed(0)
    model = build_model(tiny_config.model, tiny_scene).eval()
    cameras, white = _distorted(), torch.ones(3)
    origins, directions = cameras.image_rays(0)
    rays = RayBundle.with_bounds(origins, directions, 2.0, 6.0).clipped_to_aabb(tiny_scene.aabb)
    with torch.no_grad():
        reference = model.render(rays, white.expand(len(rays), 3))
    ours = render_view(model, cameras, 0, 2.0, 6.0, white, 7, tiny_scene.aabb)
    torch.testing.assert_close(ours.rgb.reshape(-1, 3), reference["rgb"], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ours.depth.reshape(-1, 1), reference["depth"], atol=1e-5, rtol=1e-5)
    pinhole = render_view(model, _camera(size=10), 0, 2.0, 6.0, white, 7, tiny_scene.aabb)
    assert not torch.allclose(pinhole.rgb, ours.rgb)  # the distortion is not dropped
    strided = render_view(model, cameras, 0, 2.0, 6.0, white, 64, tiny_scene.aabb, stride=3)
    assert strided.rgb.shape == (4, 4, 3)
    torch.testing.assert_close(strided.rgb, ours.rgb[::3, ::3], atol=1e-6, rtol=1e-5)


def test_camera_directions_follow_the_lens_distortion():
    cameras = _distorted(size=16)
    _, world = cameras.image_rays(0)
    camera_frame = camera_directions(cameras, 0)
    torch.testing.assert_close(camera_frame.reshape(-1, 3) @ cameras.c2w[0, :, :3].T, world, atol=1e-6, rtol=0)
    assert not torch.allclose(camera_frame, camera_directions(_camera(size=16), 0), atol=1e-3)


class _Bounded(torch.nn.Module):
    """A model that states a bound of 10 samples per ray and records the chunk sizes it is given."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.chunks = []

    def max_samples_per_ray(self, rays):
        return 10

    def render(self, rays, background):
        self.chunks.append(len(rays))
        return {"rgb": background, "depth": rays.near, "opacity": torch.zeros_like(rays.near)}


def test_chunks_never_hold_more_than_max_samples():
    model = _Bounded()
    render_view(model, _camera(size=12), 0, 1.0, 5.0, torch.ones(3), 1000, max_samples=250)
    assert sum(model.chunks) == 144 and max(model.chunks) * 10 <= 250 and max(model.chunks) == 25
    model.chunks.clear()
    render_view(model, _camera(size=12), 0, 1.0, 5.0, torch.ones(3), 1000, max_samples=0)
    assert model.chunks == [144]
