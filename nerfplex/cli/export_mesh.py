"""``nerfplex export-mesh --load-config RUN/config.yaml``: marching cubes on a trained model, with
optional geometry metrics against a ground-truth mesh."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import tyro

from nerfplex.errors import NerfplexError
from nerfplex.io import check_can_create, write_text_atomic


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
    overwrite: bool = False
    """Replace an existing --output mesh file (and its _report.json)."""


def _check_mesh_output(output: Path, overwrite: bool) -> None:
    """An explicit --output: a mesh file path (.ply / .obj) that is not a folder, and not an existing
    file unless --overwrite."""
    if output.suffix.lower() not in (".ply", ".obj"):
        raise NerfplexError(f"--output {output}: give a mesh file name ending in .ply or .obj.")
    if output.is_dir():
        raise NerfplexError(f"--output {output} is a folder; give a mesh file path such as {output / 'mesh.ply'}.")
    if output.exists() and not overwrite:
        raise NerfplexError(
            f"--output {output} already exists; pass --overwrite to replace it or choose another file name."
        )
    check_can_create(output)


def export_mesh(args: ExportMeshArgs) -> dict:
    """Extract, write and (with a ground truth) evaluate; returns the report written as JSON."""
    from nerfplex.eval.surface_evaluation import extract_and_score
    from nerfplex.geometry.mesh_io import write_mesh
    from nerfplex.run_loading import load_run

    if args.resolution < 8:
        raise NerfplexError(f"--resolution must be at least 8, got {args.resolution}.")
    if args.resolution > 2048:
        raise NerfplexError(
            f"--resolution must be at most 2048 ({args.resolution}^3 grid queries would take "
            f"{args.resolution**3 * 4 / 2**30:,.0f} GiB for the values alone)."
        )
    if not (math.isfinite(args.fscore_threshold) and args.fscore_threshold > 0):
        raise NerfplexError(f"--fscore-threshold must be a finite positive distance, got {args.fscore_threshold}.")
    if args.level is not None and not math.isfinite(args.level):
        raise NerfplexError(f"--level must be a finite number, got {args.level}.")
    if args.num_points < 1:
        raise NerfplexError(f"--num-points must be at least 1, got {args.num_points}.")
    if args.output is not None:
        _check_mesh_output(args.output, args.overwrite)  # before any work
    run = load_run(args.load_config, args.checkpoint)
    output = args.output or run.run_dir / f"mesh_step{run.step}.ply"
    mesh, report = extract_and_score(
        run.model,
        run.scene,
        args.resolution,
        level=args.level,
        largest_component=args.largest_component,
        colors=args.colors,
        gt_path=args.gt,
        threshold=args.fscore_threshold,
        num_points=args.num_points,
    )
    write_mesh(output, mesh.vertices, mesh.faces, mesh.vertex_colors)
    report = {
        "mesh": str(output),
        "checkpoint": str(run.checkpoint),
        "step": run.step,
        "method": run.config.model.method,
        **report,
    }
    write_text_atomic(output.with_name(output.stem + "_report.json"), json.dumps(report, indent=2))
    return report


def run(argv: list[str]) -> int:
    args = tyro.cli(ExportMeshArgs, args=argv, prog="nerfplex export-mesh")
    report = export_mesh(args)
    print(
        f"mesh: {report['mesh']} ({report['num_vertices']:,} vertices, {report['num_faces']:,} faces, "
        f"watertight: {report['watertight']})"
    )
    if "metrics" in report:
        m = report["metrics"]
        print(
            f"vs ground truth: Chamfer-L1 {m['chamfer_l1']:.4g} ({report['chamfer_l1_over_diagonal']:.2%} "
            f"of the bbox diagonal), F-score@{m['threshold']:g} {m['fscore']:.3f}"
        )
    return 0
