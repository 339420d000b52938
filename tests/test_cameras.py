import math

import torch

from nerfplex.cameras import Cameras, RayBundle, focal_from_fov, look_at


def _camera(eye, size=4, focal=4.0):
    c2w = look_at(torch.tensor([eye]), torch.zeros(1, 3), torch.tensor([0.0, 0.0, 1.0]))
    one = torch.ones(1)
    return Cameras(c2w, one * focal, one * focal, one * size / 2, one * size / 2, size, size)


def test_look_at_is_opencv_and_rigid():
    cam = _camera([0.0, -4.0, 0.0])
    rot = cam.c2w[0, :, :3]
    torch.testing.assert_close(rot @ rot.T, torch.eye(3))
    assert torch.det(rot) > 0
    torch.testing.assert_close(rot[:, 2], torch.tensor([0.0, 1.0, 0.0]))  # z forward, to the origin
    torch.testing.assert_close(rot[:, 1], torch.tensor([0.0, 0.0, -1.0]))  # y down = away from up


def test_pixel_centre_rays():
    cam = _camera([0.0, -4.0, 0.0], size=4, focal=2.0)
    # Pixel (x=2, y=1) has its centre at (2.5, 1.5): camera direction (0.25, -0.25, 1).
    origins, dirs = cam.generate_rays(torch.tensor([0]), torch.tensor([2]), torch.tensor([1]))
    expected = torch.tensor([0.25, 1.0, 0.25])  # x right, y(cam down)->-z world, so up is +z
    torch.testing.assert_close(dirs[0], expected / expected.norm())
    torch.testing.assert_close(origins[0], torch.tensor([0.0, -4.0, 0.0]))
    o, d = cam.image_rays(0)
    assert o.shape == (16, 3) and torch.allclose(d.norm(dim=-1), torch.ones(16))
    torch.testing.assert_close(d[1 * 4 + 2], dirs[0])  # row-major order


def test_focal_and_scaling():
    assert math.isclose(focal_from_fov(math.pi / 2, 100), 50.0)
    cam = _camera([0.0, -4.0, 0.0], size=8, focal=6.0).scaled(0.5)
    assert (cam.width, cam.height) == (4, 4)
    assert float(cam.fx[0]) == 3.0 and float(cam.cx[0]) == 2.0


def test_aabb_clipping():
    origins = torch.tensor([[-4.0, 0.0, 0.0], [-4.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    dirs = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    rays = RayBundle.with_bounds(origins, dirs, 0.1, 10.0).clipped_to_aabb(
        torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    )
    torch.testing.assert_close(rays.near[:, 0], torch.tensor([3.0, 3.0, 0.1]))
    torch.testing.assert_close(rays.far[:, 0], torch.tensor([5.0, 3.0, 1.0]))  # the miss is empty
