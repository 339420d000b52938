"""Umeyama alignment recovers a known similarity; pose errors are zero for aligned copies."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from nerfplex.captures.pose_error import pose_errors, umeyama


def test_umeyama_recovers_a_similarity():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(20, 3))
    rot = Rotation.random(random_state=3).as_matrix()
    target = 2.5 * points @ rot.T + np.array([1.0, -2.0, 0.5])
    scale, r, t = umeyama(points, target)
    assert scale == pytest.approx(2.5) and np.allclose(r, rot) and np.allclose(t, [1.0, -2.0, 0.5])


def test_pose_errors_of_a_transformed_copy():
    rng = np.random.default_rng(1)
    rots = Rotation.random(8, random_state=4).as_matrix()
    truth = np.concatenate([rots, rng.normal(size=(8, 3, 1))], axis=2)
    sim = Rotation.random(random_state=5).as_matrix()
    est = np.concatenate([sim @ truth[:, :, :3], 0.3 * np.einsum("ij,njk->nik", sim, truth[:, :, 3:]) + 4.0], axis=2)
    errors = pose_errors(est, truth)
    assert errors.rotation_deg.max() < 1e-5 and errors.position_pct.max() < 1e-8
    turned = est.copy()
    turned[0, :, :3] = turned[0, :, :3] @ Rotation.from_euler("z", 2.0, degrees=True).as_matrix()
    assert pose_errors(turned, truth).rotation_deg[0] == pytest.approx(2.0, abs=1e-6)
