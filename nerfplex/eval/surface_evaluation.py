"""Extract a trained model's surface and score it against the scene's ground-truth mesh."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from nerfplex.data.scene import SceneData
from nerfplex.errors import NerfplexError
from nerfplex.geometry.geometry_metrics import mesh_metrics
from nerfplex.geometry.mesh_extraction import extract_mesh, mesh_report
from nerfplex.geometry.mesh_io import Mesh, read_mesh
from nerfplex.models.base import Model


def ground_truth_mesh(scene: SceneData, resolution: int, gt_path: Optional[Path] = None) -> Optional[tuple[Mesh, str]]:
    """The reference surface and where it came from: ``gt_path``, else the dataset's ``gt_mesh.ply``,
    else marching cubes on a built-in scene's analytic SDF at ``resolution``; None when there is none."""
    if gt_path is not None:
        if not Path(gt_path).is_file():
            raise NerfplexError(f"ground-truth mesh {gt_path} does not exist.")
        return read_mesh(gt_path), str(gt_path)
    if scene.gt_mesh_path is not None:
        return read_mesh(scene.gt_mesh_path), str(scene.gt_mesh_path)
    if "sdf" in scene.extras:
        mesh = extract_mesh(scene.extras["sdf"], scene.aabb, resolution, field="sdf")
        return mesh, f"analytic SDF of the built-in scene (marching cubes at {resolution})"
    return None


def extract_and_score(
    model: Model,
    scene: SceneData,
    resolution: int = 256,
    *,
    level: Optional[float] = None,
    largest_component: bool = False,
    colors: bool = True,
    gt_path: Optional[Path] = None,
    threshold: float = 0.05,
    num_points: int = 200_000,
) -> tuple[Mesh, dict]:
    """Marching cubes on ``model.surface`` and, when a ground truth exists, geometry metrics.

    Returns the mesh and a report: the field and level, extraction time, vertex / face counts and
    topology, and (with a ground truth) ``metrics`` (accuracy, completion, Chamfer-L1, precision,
    recall, F-score at ``threshold``, normal consistency; scene units) and ``chamfer_l1_over_diagonal``
    (Chamfer-L1 / the ground truth's bounding-box diagonal).
    """
    surface = model.surface(scene.aabb)
    level = surface.level if level is None else level
    start = time.perf_counter()
    mesh = extract_mesh(
        surface.values,
        surface.aabb,
        resolution,
        field=surface.kind,
        level=level,
        keep_largest_component=largest_component,
        color_fn=surface.color if colors else None,
    )
    report = {
        "field": surface.description,
        "level": level,
        "resolution": resolution,
        "extraction_seconds": time.perf_counter() - start,
    }
    if mesh.faces.shape[0] == 0:
        raise NerfplexError(
            f"the field never crosses level {level:g} inside the box: no surface. Try "
            f"another level (the field is: {surface.description})."
        )
    report.update(mesh_report(mesh).as_dict())
    reference = ground_truth_mesh(scene, resolution, gt_path)
    if reference is not None:
        gt, source = reference
        metrics = mesh_metrics(mesh, gt, threshold, num_points=num_points).as_dict()
        diagonal = float(np.linalg.norm(gt.vertices.max(axis=0) - gt.vertices.min(axis=0)))
        report["gt"] = {"source": source, "bbox_diagonal": diagonal}
        report["metrics"] = metrics
        report["chamfer_l1_over_diagonal"] = metrics["chamfer_l1"] / diagonal
    return mesh, report
