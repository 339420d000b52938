"""Parsing Blender / NeRF-synthetic and instant-ngp transforms files into SceneData."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from nerfplex.data.blender import load_blender
from nerfplex.errors import NerfplexError

ANGLE_X = 0.7  # the builder's camera_angle_x


def _premultiplied(image_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = image_u8.astype(np.float64) / 255.0
    return image[..., :3] * image[..., 3:], image[..., 3:]


def test_blender_shapes_names_and_defaults(builder):
    root = builder.blender(n_train=3, n_test=2)
    scene = load_blender(root)
    assert scene.name == "scene"
    assert scene.train.rgb.shape == (3, 8, 8, 3) and scene.train.rgb.dtype == torch.float32
    assert scene.train.alpha.shape == (3, 8, 8, 1)
    assert scene.train.cameras.c2w.shape == (3, 3, 4) and len(scene.test) == 2
    assert scene.train.names == ["r_0", "r_1", "r_2"]
    assert (scene.near, scene.far) == (2.0, 6.0)
    torch.testing.assert_close(scene.aabb, torch.tensor([[-1.5] * 3, [1.5] * 3]))
    scene = load_blender(root, near=1.0, far=5.0)
    assert (scene.near, scene.far) == (1.0, 5.0)


def test_intrinsics_from_camera_angle_x(builder):
    scene = load_blender(builder.blender(size=(8, 6)))
    cams = scene.train.cameras
    fx = 0.5 * 8 / math.tan(0.5 * ANGLE_X)
    assert (cams.width, cams.height) == (8, 6)
    torch.testing.assert_close(cams.fx, torch.full((3,), fx))
    torch.testing.assert_close(cams.fy, torch.full((3,), fx))
    torch.testing.assert_close(cams.cx, torch.full((3,), 4.0))
    torch.testing.assert_close(cams.cy, torch.full((3,), 3.0))


def test_intrinsics_from_camera_angle_y(builder):
    root = builder.blender(size=(8, 6), meta={"camera_angle_y": 0.5})
    cams = load_blender(root).train.cameras
    torch.testing.assert_close(cams.fy, torch.full((3,), 0.5 * 6 / math.tan(0.25)))
    torch.testing.assert_close(cams.fx, torch.full((3,), 0.5 * 8 / math.tan(0.5 * ANGLE_X)))


def test_intrinsics_from_fl_keys_with_per_frame_override(builder):
    root = builder.blender(meta={"fl_x": 7.0, "fl_y": 8.0, "cx": 3.5, "cy": 4.25, "w": 8, "h": 8})
    builder.edit_json("transforms_train.json", lambda m: m["frames"][1].update(fl_x=5.0, cy=2.0))
    cams = load_blender(root).train.cameras
    torch.testing.assert_close(cams.fx, torch.tensor([7.0, 5.0, 7.0]))
    torch.testing.assert_close(cams.fy, torch.tensor([8.0, 8.0, 8.0]))
    torch.testing.assert_close(cams.cx, torch.tensor([3.5, 3.5, 3.5]))
    torch.testing.assert_close(cams.cy, torch.tensor([4.25, 2.0, 4.25]))


def test_fl_y_defaults_to_fl_x(builder):
    root = builder.ngp(n=4, meta={"fl_x": 6.5})
    cams = load_blender(root).train.cameras
    torch.testing.assert_close(cams.fy, cams.fx)
    torch.testing.assert_close(cams.fx, torch.full((len(cams),), 6.5))


def test_opengl_to_opencv_camera_on_z_axis(builder):
    root = builder.blender(size=(9, 9))
    pose = np.eye(4)
    pose[2, 3] = 4.0  # Blender camera at +4 z with identity rotation looks down -z, at the origin
    builder.edit_json("transforms_train.json", lambda m: m["frames"][0].update(transform_matrix=pose.tolist()))
    cams = load_blender(root).train.cameras
    torch.testing.assert_close(cams.c2w[0, :, :3], torch.diag(torch.tensor([1.0, -1.0, -1.0])))
    torch.testing.assert_close(cams.c2w[0, :, 3], torch.tensor([0.0, 0.0, 4.0]))

    idx = torch.zeros(3, dtype=torch.long)
    origins, dirs = cams.generate_rays(idx, torch.tensor([4, 4, 8]), torch.tensor([4, 0, 4]))
    torch.testing.assert_close(origins[0], torch.tensor([0.0, 0.0, 4.0]))
    torch.testing.assert_close(dirs[0], torch.tensor([0.0, 0.0, -1.0]))  # centre ray hits the origin
    assert dirs[1, 1] > 0.1  # the top image row looks up (+y in Blender's world)
    assert dirs[2, 0] > 0.1  # the right image column looks to +x


def test_ring_cameras_look_at_the_origin(builder):
    root = builder.blender(n_train=5, size=(9, 9))
    cams = load_blender(root).train.cameras
    for i in range(len(cams)):
        origins, dirs = cams.generate_rays(torch.tensor([i]), torch.tensor([4]), torch.tensor([4]))
        towards = -origins / origins.norm(dim=-1, keepdim=True)
        assert float((dirs * towards).sum()) > 1 - 1e-6
    np.testing.assert_allclose(
        cams.c2w[:, :, 3].numpy(), np.stack([p[:3, 3] for p in builder.poses["train"]]), atol=1e-6
    )


def test_premultiplied_alpha_and_compositing(builder):
    root = builder.blender()
    scene = load_blender(root)
    image = builder.images["train"][0]
    prem, alpha = _premultiplied(image)
    np.testing.assert_allclose(scene.train.rgb[0].numpy(), prem, atol=1e-6)
    np.testing.assert_allclose(scene.train.alpha[0].numpy(), alpha, atol=1e-6)

    white = scene.train.composite(torch.ones(3))[0]
    colour = image[1, 0, :3] / 255.0  # this pixel has alpha 128/255 ~ 0.5
    a = 128 / 255
    np.testing.assert_allclose(white[1, 0].numpy(), a * colour + (1 - a), atol=1e-6)
    np.testing.assert_allclose(white[1, 0].numpy(), 0.5 * colour + 0.5, atol=0.01)
    np.testing.assert_allclose(white[0, 0].numpy(), [1.0, 1.0, 1.0])  # alpha 0 -> background
    np.testing.assert_allclose(white[0, 1].numpy(), image[0, 1, :3] / 255.0, atol=1e-6)  # opaque


def test_rgb_and_opaque_rgba_have_no_alpha(builder, tmp_path):
    scene = load_blender(builder.blender(channels=3))
    assert scene.train.alpha is None and scene.test.alpha is None
    np.testing.assert_allclose(scene.train.rgb[1].numpy(), builder.images["train"][1] / 255.0, atol=1e-6)

    opaque = type(builder)(tmp_path / "opaque")
    root = opaque.blender(channels=4)
    import imageio.v3 as iio

    for split in ("train", "test"):
        for i, image in enumerate(opaque.images[split]):
            image[..., 3] = 255
            iio.imwrite(root / split / f"r_{i}.png", image)
    assert load_blender(root).train.alpha is None


def test_downscale_averages_premultiplied_and_scales_intrinsics(builder):
    root = builder.blender(size=(8, 8))
    full = load_blender(root)
    half = load_blender(root, downscale=2)
    assert half.train.rgb.shape == (3, 4, 4, 3) and half.train.alpha.shape == (3, 4, 4, 1)
    prem, alpha = _premultiplied(builder.images["train"][2])
    np.testing.assert_allclose(half.train.rgb[2].numpy(), prem.reshape(4, 2, 4, 2, 3).mean((1, 3)), atol=1e-6)
    np.testing.assert_allclose(half.train.alpha[2].numpy(), alpha.reshape(4, 2, 4, 2, 1).mean((1, 3)), atol=1e-6)
    cams, ref = half.train.cameras, full.train.cameras
    assert (cams.width, cams.height) == (4, 4)
    for key in ("fx", "fy", "cx", "cy"):
        torch.testing.assert_close(getattr(cams, key), getattr(ref, key) / 2)
    torch.testing.assert_close(cams.c2w, ref.c2w)
    # Half-res pixel (1, 1) covers full-res pixels 2..3: its centre ray goes through full-res point (3, 3).
    _, d_half = cams.generate_rays(torch.tensor([0]), torch.tensor([1]), torch.tensor([1]))
    corner = torch.tensor([2.5])  # generate_rays adds 0.5: full-res coordinate 3.0
    _, d_full = ref.generate_rays(torch.tensor([0]), corner, corner)
    torch.testing.assert_close(d_half, d_full)


def test_downscale_crops_sizes_not_divisible(builder):
    root = builder.blender(size=(9, 9))
    with pytest.warns(UserWarning, match="cropped"):
        scene = load_blender(root, downscale=2)
    cams = scene.train.cameras
    assert scene.train.rgb.shape[1:3] == (4, 4) and (cams.width, cams.height) == (4, 4)
    torch.testing.assert_close(cams.cx, torch.full((3,), 2.25))
    torch.testing.assert_close(cams.fx, torch.full((3,), 0.5 * 9 / math.tan(0.5 * ANGLE_X) / 2))


def test_ngp_split_every_test_every_in_natural_order(builder):
    root = builder.ngp(n=10, shuffle=True)
    scene = load_blender(root, test_every=4)
    assert scene.test.names == ["img1", "img5", "img9"]
    assert scene.train.names == ["img2", "img3", "img4", "img6", "img7", "img8", "img10"]
    poses = builder.poses["all"]
    expected = np.stack([poses[i][:3, 3] for i in (0, 4, 8)])
    np.testing.assert_allclose(scene.test.cameras.c2w[:, :, 3].numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(scene.test.rgb[1].numpy(), builder.images["all"][4] / 255.0, atol=1e-6)
    assert scene.extras["layout"] == "ngp"
    assert len(load_blender(root).test) == 2  # default test_every = 8: indices 0 and 8


def test_ngp_jpeg_and_json_path_argument(builder):
    root = builder.ngp(n=3, ext=".jpg")
    scene = load_blender(root / "transforms.json", test_every=2)
    assert len(scene.train) == 1 and len(scene.test) == 2 and scene.train.alpha is None
    # JPEG is lossy (and the fixture is noise): compare the mean colour only.
    np.testing.assert_allclose(
        scene.train.rgb[0].numpy().mean((0, 1)), builder.images["all"][1].mean((0, 1)) / 255.0, atol=0.05
    )


@pytest.mark.parametrize(
    "meta, half",
    [
        ({"aabb_scale": 1}, 0.5 / 0.33),
        ({"aabb_scale": 4}, 2.0 / 0.33),
        ({"aabb_scale": 2, "scale": 0.5, "offset": 0.5}, 2.0),
    ],
)
def test_ngp_aabb_from_aabb_scale(builder, meta, half):
    scene = load_blender(builder.ngp(n=4, meta=meta))
    torch.testing.assert_close(scene.aabb, torch.tensor([[-half] * 3, [half] * 3]))
    dist = math.sqrt(4.0**2 + 1.0)  # ring radius 4 at height 1
    radius = half * math.sqrt(3)
    assert scene.near == pytest.approx(max(dist - radius, 0.05 * dist), rel=1e-5)
    assert scene.far == pytest.approx(dist + radius, rel=1e-5)


def test_ngp_bounds_derived_from_cameras(builder):
    root = builder.ngp(n=6)
    builder.edit_json("transforms.json", lambda m: m.pop("aabb_scale"))
    scene = load_blender(root)
    dist = math.sqrt(17.0)
    torch.testing.assert_close(scene.aabb, torch.tensor([[-dist] * 3, [dist] * 3]), atol=1e-4, rtol=0)
    origins = torch.cat([scene.train.cameras.c2w, scene.test.cameras.c2w])[:, :, 3]
    assert ((origins >= scene.aabb[0]) & (origins <= scene.aabb[1])).all()
    assert 0 < scene.near < dist < scene.far
    assert scene.far == pytest.approx(dist * (1 + math.sqrt(3)), rel=1e-4)


def test_stored_bounds_block_and_explicit_override(builder):
    block = {"near": 0.5, "far": 3.0, "aabb": [[-1, -2, -3], [1, 2, 3]]}
    root = builder.blender(meta={"nerfplex": block})
    scene = load_blender(root)
    assert (scene.near, scene.far) == (0.5, 3.0)
    torch.testing.assert_close(scene.aabb, torch.tensor([[-1.0, -2.0, -3.0], [1.0, 2.0, 3.0]]))
    assert load_blender(root, far=4.0).far == 4.0


def test_test_split_val_and_max_train_images(builder):
    root = builder.blender(n_train=7, n_test=2, splits=("train", "test", "val"))
    scene = load_blender(root, test_split="val", max_train_images=3)
    assert scene.train.names == ["r_0", "r_3", "r_6"]
    expected = np.stack([p[:3, 3] for p in builder.poses["val"]])
    np.testing.assert_allclose(scene.test.cameras.c2w[:, :, 3].numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(scene.train.rgb[1].numpy(), _premultiplied(builder.images["train"][3])[0], atol=1e-6)


def test_distortion_keys_become_per_camera_coefficients(builder):
    root = builder.ngp(n=4, meta={"k1": 0.1, "p1": 0.0, "p2": -0.01})
    builder.edit_json("transforms.json", lambda m: m["frames"][0].update(k2=0.2, k1=0.05))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # radial-tangential distortion is modelled: no warning
        scene = load_blender(root, test_every=2)
    first = builder.read_json("transforms.json")["frames"][0]["file_path"]
    split, row = next(
        (s, s.names.index(Path(first).stem)) for s in (scene.train, scene.test) if Path(first).stem in s.names
    )
    expected = torch.tensor([0.05, 0.2, 0.0, -0.01, 0.0])  # (k1, k2, p1, p2, k3)
    torch.testing.assert_close(split.cameras.distortion[row], expected)
    other = scene.train if split is scene.test else scene.test
    torch.testing.assert_close(other.cameras.distortion[0], torch.tensor([0.1, 0.0, 0.0, -0.01, 0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_blender(builder.ngp(n=4, meta={"k1": 0.0, "k2": 0})).train.cameras.distortion is None


def test_fisheye_keys_warn_once(builder):
    root = builder.ngp(n=4, meta={"k4": 0.1, "is_fisheye": True})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_blender(root)
    messages = [str(w.message) for w in caught if "fisheye" in str(w.message)]
    assert len(messages) == 1 and "k4" in messages[0] and "is_fisheye" in messages[0]


def test_blender_defaults_warn_when_cameras_outside(builder):
    root = builder.blender()
    for split in ("train", "test"):
        builder.edit_json(
            f"transforms_{split}.json",
            lambda m: [
                f["transform_matrix"][r].__setitem__(3, f["transform_matrix"][r][3] * 5)
                for f in m["frames"]
                for r in range(3)
            ],
        )
    with pytest.warns(UserWarning, match="near="):
        load_blender(root)


def test_blender_layout_preferred_over_single_file(builder):
    root = builder.blender()
    (root / "transforms.json").write_text("{ broken")
    assert load_blender(root).extras["layout"] == "blender"


def test_invalid_near_far(builder):
    root = builder.blender()
    with pytest.raises(NerfplexError, match="near"):
        load_blender(root, near=3.0, far=2.0)


def test_ngp_aabb_key_maps_to_unit_cube(builder):
    root = builder.ngp(n=4, meta={"aabb": [[0, 0, 0], [2, 1, 1]]})
    builder.edit_json("transforms.json", lambda m: m.pop("aabb_scale"))
    scene = load_blender(root)  # instant-ngp fits the box's longest side into its unit cube
    torch.testing.assert_close(scene.aabb, torch.tensor([[0.0, -0.5, -0.5], [2.0, 1.5, 1.5]]))


def test_ngp_parallel_cameras_warn(builder, gl_look_at):
    root = builder.ngp(n=4)

    def forward_facing(meta):
        meta.pop("aabb_scale")
        for i, frame in enumerate(meta["frames"]):
            frame["transform_matrix"] = gl_look_at((0.1 * i, 0.0, 0.0), (0.1 * i, 5.0, 0.0)).tolist()

    builder.edit_json("transforms.json", forward_facing)
    with pytest.warns(UserWarning, match="parallel"):
        scene = load_blender(root)
    assert scene.near < scene.far
