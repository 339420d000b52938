"""Tiny Blender / instant-ngp dataset fixtures written into ``tmp_path`` (no shared data needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

ANGLE_X = 0.7


def look_at_gl(eye, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Blender/OpenGL camera-to-world ``[4, 4]``: camera x right, y up, z backward (looks along -z)."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    back = eye - target
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    if np.linalg.norm(right) < 1e-8:
        right = np.cross((0.0, 1.0, 0.0), back)
    right /= np.linalg.norm(right)
    upv = np.cross(back, right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, upv, back, eye
    return m


def ring_poses(n: int, radius: float = 4.0, height: float = 1.0, phase: float = 0.0) -> list[np.ndarray]:
    angles = phase + 2 * math.pi * np.arange(n) / n
    return [look_at_gl((radius * math.cos(a), radius * math.sin(a), height)) for a in angles]


def random_image(rng: np.random.Generator, size: tuple[int, int], channels: int) -> np.ndarray:
    """uint8 ``[H, W, C]``; with alpha, some pixels fully transparent and some fully opaque."""
    image = rng.integers(0, 256, size=(size[1], size[0], channels), dtype=np.uint8)
    if channels == 4:
        image[0, 0, 3], image[0, 1, 3], image[1, 0, 3] = 0, 255, 128
    return image


class DatasetBuilder:
    """Writes a dataset folder; the caller may then corrupt parts of it."""

    def __init__(self, root: Path):
        self.root = root

    def blender(
        self,
        n_train: int = 3,
        n_test: int = 2,
        size=(8, 8),
        channels: int = 4,
        meta: dict | None = None,
        seed: int = 0,
        splits=("train", "test"),
    ) -> Path:
        rng = np.random.default_rng(seed)
        self.root.mkdir(parents=True, exist_ok=True)
        self.images: dict[str, list[np.ndarray]] = {}
        self.poses: dict[str, list[np.ndarray]] = {}
        for split, n, phase in zip(splits, (n_train, n_test, n_test), (0.0, 0.3, 0.6)):
            (self.root / split).mkdir(exist_ok=True)
            poses = ring_poses(n, phase=phase)
            frames = []
            self.images[split], self.poses[split] = [], poses
            for i, pose in enumerate(poses):
                image = random_image(rng, size, channels)
                iio.imwrite(self.root / split / f"r_{i}.png", image)
                self.images[split].append(image)
                frames.append({"file_path": f"./{split}/r_{i}", "rotation": 0.01, "transform_matrix": pose.tolist()})
            content = {"camera_angle_x": ANGLE_X, "frames": frames, **(meta or {})}
            self.write_json(f"transforms_{split}.json", content)
        return self.root

    def ngp(
        self,
        n: int = 10,
        size=(8, 8),
        channels: int = 3,
        ext: str = ".png",
        meta: dict | None = None,
        seed: int = 0,
        shuffle: bool = True,
    ) -> Path:
        rng = np.random.default_rng(seed)
        (self.root / "images").mkdir(parents=True, exist_ok=True)
        poses = ring_poses(n)
        self.images = {"all": []}
        self.poses = {"all": poses}
        frames = []
        for i, pose in enumerate(poses):
            image = random_image(rng, size, channels)
            iio.imwrite(self.root / "images" / f"img{i + 1}{ext}", image)
            self.images["all"].append(image)
            frames.append({"file_path": f"images/img{i + 1}{ext}", "transform_matrix": pose.tolist()})
        order = rng.permutation(n) if shuffle else np.arange(n)
        content = {
            "fl_x": 9.0,
            "w": size[0],
            "h": size[1],
            "aabb_scale": 1,
            "frames": [frames[i] for i in order],
            **(meta or {}),
        }
        self.write_json("transforms.json", content)
        return self.root

    def read_json(self, name: str) -> dict:
        return json.loads((self.root / name).read_text())

    def write_json(self, name: str, content) -> None:
        (self.root / name).write_text(json.dumps(content, indent=1))

    def edit_json(self, name: str, fn) -> None:
        content = self.read_json(name)
        fn(content)
        self.write_json(name, content)


@pytest.fixture
def builder(tmp_path) -> DatasetBuilder:
    return DatasetBuilder(tmp_path / "scene")


@pytest.fixture
def gl_look_at():
    return look_at_gl
