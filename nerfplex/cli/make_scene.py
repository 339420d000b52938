"""``nerfplex make-scene --out DIR``: write a built-in procedural scene as a Blender-layout dataset."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro

from nerfplex.errors import NerfplexError


@dataclass
class MakeSceneArgs:
    """Render a built-in scene to ``transforms_{train,test}.json`` + PNGs, plus its ground-truth mesh
    ``gt_mesh.ply``. Train on it with ``nerfplex train --data.kind blender --data.path DIR``."""

    out: Path
    """Folder to create (must not exist or be empty, unless --overwrite)."""
    scene: Literal["object", "room"] = "object"
    """``object``: textured solids seen from a sphere of cameras (RGBA, white background in training);
    ``room``: the inside of a furnished room, cameras inside (opaque)."""
    resolution: int = 200
    """Image width and height in pixels."""
    num_train_views: int = 100
    """Number of training views."""
    num_test_views: int = 20
    """Number of held-out views."""
    seed: int = 0
    """Seed that fixes the cameras."""
    mesh_resolution: int = 256
    """Marching-cubes grid resolution of the ground-truth mesh (0: no mesh)."""
    overwrite: bool = False
    """Replace an existing, non-empty output folder."""


def make_scene(args: MakeSceneArgs) -> Path:
    """Write the scene; the GT mesh is made first, so a failure leaves no partial dataset behind."""
    from nerfplex.data.blender_writer import write_blender_scene
    from nerfplex.data.procedural import make_procedural_scene
    from nerfplex.data.procedural.gt_mesh import extract_sdf_mesh
    from nerfplex.eval.mesh_io import write_mesh

    scene = make_procedural_scene(args.scene, args.resolution, args.num_train_views,
                                  args.num_test_views, args.seed)
    staging = Path(tempfile.mkdtemp(prefix=".nerfplex-mesh-", dir=args.out.parent if args.out.parent.exists()
                                    else None))
    try:
        mesh_tmp = staging / "gt_mesh.ply"
        if args.mesh_resolution > 0:
            vertices, faces = extract_sdf_mesh(scene.extras["sdf"], scene.aabb, args.mesh_resolution)
            write_mesh(mesh_tmp, vertices, faces)
        write_blender_scene(scene, args.out, overwrite=args.overwrite)
        if mesh_tmp.exists():
            shutil.move(str(mesh_tmp), args.out / "gt_mesh.ply")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return args.out


def run(argv: list[str]) -> int:
    args = tyro.cli(MakeSceneArgs, args=argv, prog="nerfplex make-scene")
    if args.resolution <= 0 or args.num_train_views <= 0 or args.num_test_views <= 0:
        raise NerfplexError("--resolution, --num-train-views and --num-test-views must be positive.")
    if args.mesh_resolution < 0:
        raise NerfplexError("--mesh-resolution must be 0 (no mesh) or positive.")
    out = make_scene(args)
    print(f"wrote {args.scene} scene to {out} (train: nerfplex train --data.kind blender "
          f"--data.path {out})")
    return 0
