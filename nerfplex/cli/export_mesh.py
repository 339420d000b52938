"""``nerfplex export-mesh --load-config RUN/config.yaml``: marching cubes on a trained model, with
optional geometry metrics against a ground-truth mesh."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import tyro

from nerfplex.config_io import write_text_atomic
from nerfplex.errors import NerfplexError


@dataclass
class ExportMeshArgs:
    """Extract a triangle mesh from a trained run (newest checkpoint) and write PLY or OBJ. With a
    ground-truth mesh (``--gt``, or the dataset's ``gt_mesh.ply``, or the built-in scene's analytic
    surface) also write geometry metrics as JSON next to the mesh."""

    load_config: Path
    """The run's config.yaml (or the run folder)."""
    checkpoint: Optional[Path] = None
    """A checkpoint file of the run; default: its newest."""
    output: Optional[Path] = None
    """Mesh file to write (.ply or .obj); default RUN/mesh_step<N>.ply."""
    resolution: int = 256
    """Marching-cubes samples along the longest side of the box."""
    level: Optional[float] = None
    """Iso-value; default: the model's (SDF 0, TensoRF alpha 0.005, NeRF sigma 50)."""
    largest_component: bool = False
    """Keep only the largest connected component (drops floaters)."""
    colors: bool = True
    """Vertex colours from the radiance field."""
    gt: Optional[Path] = None
    """Ground-truth mesh for metrics; default: the dataset's, when it has one."""
    fscore_threshold: float = 0.05
    """Distance below which a point counts as correct for precision / recall / F-score, in scene units
    (0.05 = MonoSDF's 5 cm on Replica)."""
    num_points: int = 200_000
    """Points sampled on each mesh for the metrics (MonoSDF: 200k)."""


def export_mesh(args: ExportMeshArgs) -> dict:
    """Extract, write and (with a ground truth) evaluate; returns the report written as JSON."""
    from nerfplex.engine.run_loading import load_run
    from nerfplex.eval.geometry_metrics import mesh_metrics
    from nerfplex.eval.mesh_extraction import extract_mesh, mesh_report
    from nerfplex.eval.mesh_io import read_mesh, write_mesh

    if args.resolution < 8:
        raise NerfplexError(f"--resolution must be at least 8, got {args.resolution}.")
    run = load_run(args.load_config, args.checkpoint)
    surface = run.model.surface(run.scene.aabb)
    level = surface.level if args.level is None else args.level
    output = args.output or run.run_dir / f"mesh_step{run.step}.ply"
    start = time.perf_counter()
    mesh = extract_mesh(surface.values, surface.aabb, args.resolution, field=surface.kind, level=level,
                        keep_largest_component=args.largest_component,
                        color_fn=surface.color if args.colors else None)
    seconds = time.perf_counter() - start
    if mesh.faces.shape[0] == 0:
        raise NerfplexError(f"the field never crosses level {level:g} inside the box: no surface. Try "
                            f"another --level (the field is: {surface.description}).")
    write_mesh(output, mesh.vertices, mesh.faces, mesh.vertex_colors)
    report = {"mesh": str(output), "checkpoint": str(run.checkpoint), "step": run.step,
              "method": run.config.model.method, "field": surface.description, "level": level,
              "resolution": args.resolution, "extraction_seconds": seconds,
              **mesh_report(mesh).as_dict()}
    gt = _ground_truth(args, run, read_mesh)
    if gt is not None:
        metrics = mesh_metrics(mesh, gt, args.fscore_threshold, num_points=args.num_points).as_dict()
        diagonal = float(np.linalg.norm(gt.vertices.max(axis=0) - gt.vertices.min(axis=0)))
        report["gt"] = {"source": gt_source(args, run), "bbox_diagonal": diagonal}
        report["metrics"] = metrics
        report["chamfer_l1_over_diagonal"] = metrics["chamfer_l1"] / diagonal
    write_text_atomic(output.with_name(output.stem + "_report.json"), json.dumps(report, indent=2))
    return report


def gt_source(args: ExportMeshArgs, run) -> str:
    if args.gt is not None:
        return str(args.gt)
    if run.scene.gt_mesh_path is not None:
        return str(run.scene.gt_mesh_path)
    return "analytic SDF of the built-in scene (marching cubes at --resolution)"


def _ground_truth(args: ExportMeshArgs, run, read_mesh):
    if args.gt is not None:
        if not args.gt.is_file():
            raise NerfplexError(f"--gt {args.gt} does not exist.")
        return read_mesh(args.gt)
    if run.scene.gt_mesh_path is not None:
        return read_mesh(run.scene.gt_mesh_path)
    if "sdf" in run.scene.extras:
        from nerfplex.eval.mesh_extraction import extract_mesh

        return extract_mesh(run.scene.extras["sdf"], run.scene.aabb, args.resolution, field="sdf")
    return None


def run(argv: list[str]) -> int:
    args = tyro.cli(ExportMeshArgs, args=argv, prog="nerfplex export-mesh")
    report = export_mesh(args)
    print(f"mesh: {report['mesh']} ({report['num_vertices']:,} vertices, {report['num_faces']:,} faces, "
          f"watertight: {report['watertight']})")
    if "metrics" in report:
        m = report["metrics"]
        print(f"vs ground truth: Chamfer-L1 {m['chamfer_l1']:.4g} ({report['chamfer_l1_over_diagonal']:.2%} "
              f"of the bbox diagonal), F-score@{m['threshold']:g} {m['fscore']:.3f}")
    return 0
