"""The viewer's frames rendered in slices (nerfplex/viewer/frame_rendering.py)."""

from __future__ import annotations

import numpy as np
import torch

from nerfplex.engine.trainer import Trainer
from nerfplex.viewer.frame_rendering import MIN_SLICE_RAYS, FrameRenderer
from nerfplex.viewer.frames import browser_camera, camera_pose, output_picture
from nerfplex.viewer.time_share import TimeShare


def _renderer(tiny_config, tiny_scene, tmp_path) -> FrameRenderer:
    model = Trainer(tiny_config, tmp_path / "run", scene=tiny_scene).model
    return FrameRenderer(
        model,
        TimeShare(0.2),
        near=tiny_scene.near,
        far=tiny_scene.far,
        background=torch.ones(3),
        chunk_rays=1024,
        max_samples=0,
        aabb=None,
        slice_seconds=0.25,
    )


def test_a_frame_rendered_in_slices_is_the_frame_rendered_at_once(tiny_config, tiny_scene, tmp_path):
    """Slices take the pixels in a scattered order, grow at most twofold, and are put back in place."""
    frames = _renderer(tiny_config, tiny_scene, tmp_path)
    wxyz, position, fov_y, _ = camera_pose(tiny_scene.test.cameras, 0)
    camera = browser_camera(wxyz, position, fov_y, 40, 30)
    sizes = []
    render_rays = frames.render_rays
    frames.render_rays = lambda rays: (sizes.append(len(rays)), render_rays(rays))[1]
    for output in ("rgb", "depth"):
        sizes[:] = []
        frames.slice_rays_per_second = 100.0  # a slow model: the first slice is the smallest one
        sliced = frames.picture(camera, output, priority=False, cancelled=lambda: False)
        whole = frames.time_share.run_slice(lambda: frames.render(camera))
        expected = output_picture(output, whole.rgb, whole.depth, whole.opacity, whole.normals, camera)
        assert sum(sizes) == 1200 and len(sizes) > 1 and sizes[0] == MIN_SLICE_RAYS
        assert all(b <= 2 * a for a, b in zip(sizes, sizes[1:]))
        assert np.abs(sliced.astype(int) - expected.astype(int)).max() <= 1


def test_a_cancelled_frame_stops_between_slices(tiny_config, tiny_scene, tmp_path):
    frames = _renderer(tiny_config, tiny_scene, tmp_path)
    wxyz, position, fov_y, _ = camera_pose(tiny_scene.test.cameras, 0)
    camera = browser_camera(wxyz, position, fov_y, 40, 30)
    frames.slice_rays_per_second = 100.0  # slices of 256 rays: five for the 1200 pixels
    checks = []

    def moved_after_two_slices() -> bool:
        checks.append(None)
        return len(checks) > 2

    assert frames.picture(camera, "rgb", priority=False, cancelled=moved_after_two_slices) is None


def test_the_quick_frame_follows_the_rate_it_measures(tiny_config, tiny_scene, tmp_path):
    frames = _renderer(tiny_config, tiny_scene, tmp_path)
    first = frames.quick_frame_size(1.0, 64, seconds=0.12)  # the low first guess: a small frame
    wxyz, position, fov_y, _ = camera_pose(tiny_scene.test.cameras, 0)
    picture = frames.picture(browser_camera(wxyz, position, fov_y, *first), "rgb", True, cancelled=lambda: False)
    assert picture.shape[:2] == first[::-1] and first[0] < 64
    frames.quick_rays_per_second = 1e9  # a fast model
    assert frames.quick_frame_size(1.0, 64, seconds=0.12) == (64, 64)
