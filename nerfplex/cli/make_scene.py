"""``nerfplex make-scene --out DIR``: write a built-in procedural scene, or a rendered mesh file
(``--mesh PATH``), as a Blender-layout dataset."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import tyro

from nerfplex.errors import NerfplexError
from nerfplex.io import check_output_folder, os_error_message, staged_output, write_text_atomic


@dataclass
class MakeSceneArgs:
    """Render a built-in scene, or a triangle mesh (``--mesh``), to ``transforms_{train,test}.json`` +
    PNGs, plus its ground-truth mesh ``gt_mesh.ply``. Train on it with
    ``nerfplex train --data.kind blender --data.path DIR``."""

    out: Path
    """Folder to create (must not exist or be empty, unless --overwrite)."""
    scene: Literal["object", "room"] = "object"
    """``object``: textured solids seen from a sphere of cameras (RGBA, white background in training);
    ``room``: the inside of a furnished room, cameras inside (opaque)."""
    mesh: Optional[Path] = None
    """Render this triangle mesh (.ply / .obj) instead of a built-in scene: it is centred and scaled
    into the object scene's box (bounding sphere of radius 0.9), textured, and seen by the object
    scene's cameras; ``gt_mesh.ply`` is then the mesh itself in that frame (and
    ``gt_mesh_transform.json`` the similarity from the file's coordinates to it)."""
    mesh_up_axis: Literal["x", "y", "z"] = "y"
    """With --mesh: the file's up axis, turned to the world's +z (most OBJ / PLY files, e.g. the
    Stanford bunny, are y-up)."""
    resolution: int = 200
    """Image width and height in pixels."""
    num_train_views: int = 100
    """Number of training views."""
    num_test_views: int = 20
    """Number of held-out views."""
    seed: int = 0
    """Seed that fixes the cameras."""
    mesh_resolution: int = 256
    """Marching-cubes grid resolution of the ground-truth mesh (0: no mesh). With --mesh the
    ground truth is the mesh itself, and only 0 matters (no ``gt_mesh.ply``)."""
    overwrite: bool = False
    """Replace an existing, non-empty output folder that nerfplex wrote (a folder nerfplex did not write
    is never replaced)."""


def make_scene(args: MakeSceneArgs) -> Path:
    """Write the scene into a staging folder renamed into place at the end (:func:`nerfplex.io.staged_output`),
    so a failure leaves no partial dataset behind; an existing non-empty ``--out`` is refused before any
    rendering (``--overwrite`` replaces only a folder nerfplex wrote)."""
    from nerfplex.data.blender_writer import write_blender_files
    from nerfplex.data.procedural import make_procedural_scene
    from nerfplex.data.procedural.gt_mesh import extract_sdf_mesh
    from nerfplex.geometry.mesh_io import write_mesh

    check_output_folder(args.out, args.overwrite, flag="--out")
    if args.mesh is not None:
        from nerfplex.data.procedural.mesh_scene import make_mesh_scene

        scene = make_mesh_scene(
            args.mesh, args.resolution, args.num_train_views, args.num_test_views, args.seed, up_axis=args.mesh_up_axis
        )
    else:
        scene = make_procedural_scene(args.scene, args.resolution, args.num_train_views, args.num_test_views, args.seed)
    try:
        with staged_output(args.out, "dataset", args.overwrite, flag="--out") as staging:
            if args.mesh_resolution > 0:
                if "gt_mesh" in scene.extras:  # a rendered mesh file: the exact surface
                    vertices, faces = scene.extras["gt_mesh"]
                    write_text_atomic(
                        staging / "gt_mesh_transform.json",
                        json.dumps(
                            {
                                "source": str(Path(scene.extras["mesh_path"]).resolve()),
                                "up_axis": args.mesh_up_axis,
                                "note": "world = scale * rotation @ source + translation (= matrix @ [source, 1])",
                                **scene.extras["mesh_transform"],
                            },
                            indent=2,
                        )
                        + "\n",
                    )
                else:
                    vertices, faces = extract_sdf_mesh(scene.extras["sdf"], scene.aabb, args.mesh_resolution)
                write_mesh(staging / "gt_mesh.ply", vertices, faces)
            write_blender_files(scene, staging)
    except OSError as exc:
        raise NerfplexError(f"could not write the dataset to {args.out}: {os_error_message(exc, args.out)}") from None
    return args.out


def run(argv: list[str]) -> int:
    args = tyro.cli(MakeSceneArgs, args=argv, prog="nerfplex make-scene")
    if args.resolution <= 0 or args.num_train_views <= 0 or args.num_test_views <= 0:
        raise NerfplexError("--resolution, --num-train-views and --num-test-views must be positive.")
    if args.mesh_resolution < 0:
        raise NerfplexError("--mesh-resolution must be 0 (no mesh) or positive.")
    if args.mesh is not None and args.scene != "object":
        raise NerfplexError(f"--mesh renders the mesh with the object scene's cameras; leave out --scene {args.scene}.")
    out = make_scene(args)
    what = f"mesh {args.mesh}" if args.mesh is not None else f"{args.scene} scene"
    print(f"wrote {what} to {out} (train: nerfplex train --data.kind blender --data.path {out})")
    return 0
