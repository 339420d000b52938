"""``nerfplex process-data`` against known cameras (issue 16's measurements).

    python benchmarks/bench_process_data.py lego    # 100 lego training renders (on white), then ngp
                                                    # trained on recovered vs true poses (held-out PSNR)
    python benchmarks/bench_process_data.py fruit   # the 81-photo phone capture vs its transforms.json

Each run: images registered / given, and after Umeyama's similarity alignment of the recovered camera
centres onto the true ones, the median / max rotation error (degrees) and position error (% of the true
cameras' extent), plus the time of each stage. ``lego`` then trains the same backbone twice on the same
images, split, box and bounds (the recovered scene's): once with the recovered poses and intrinsics, once
with the true ones mapped into the recovered frame by that similarity, and reports both held-out PSNRs.
Results: ``benchmarks/results/process_data_{lego,fruit}.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from machine import cpu_times, machine_info, save_result, steal_fraction  # noqa: E402

from nerfplex.captures.pose_error import pose_errors  # noqa: E402
from nerfplex.cli.process_data import ProcessDataArgs, process_data  # noqa: E402
from nerfplex.data.colmap_model import read_model  # noqa: E402

GL_TO_CV = np.diag([1.0, -1.0, -1.0])

NGP_PRESET = [
    "data.downscale=4",
    "trainer.max_steps=600",
    "trainer.batch_size=1024",
    "model.ngp.schedule_steps=600",
    "model.ngp.occupancy_resolution=32",
    "model.ngp.occupancy_warmup_steps=128",
    "model.ngp.grid.n_levels=8",
    "model.ngp.grid.log2_hashmap_size=16",
    "model.ngp.grid.per_level_scale=1.4859942891369484",
    "trainer.train_background=white",
    "trainer.eval_background=white",
]
"""benchmarks/bench_lego_backbone.py's CPU ngp preset (lego at 100 x 100, 1024 rays x 600 steps); the
marching step 0.02 of lego's [-1.5, 1.5]^3 box is scaled to the scene's box."""


def recovered_cameras(scene_dir: Path) -> tuple[list[str], np.ndarray]:
    """Registered image names and their camera-to-world ``[N, 3, 4]`` (OpenCV, COLMAP's world)."""
    model = read_model(scene_dir / "sparse" / "0")
    images = sorted(model.images.values(), key=lambda im: im.name)
    c2w = []
    for im in images:
        w2c = im.world_to_camera()
        rot = w2c[:, :3].T
        c2w.append(np.concatenate([rot, -rot @ w2c[:, 3:]], axis=1))
    return [im.name for im in images], np.stack(c2w)


def run_process_data(photos: Path, out: Path, **options) -> dict:
    """process-data, or its earlier report when ``out`` is a finished scene (a re-run resumes)."""
    if (out / "process_data.json").is_file():
        return json.loads((out / "process_data.json").read_text())
    start = time.perf_counter()
    report = process_data(ProcessDataArgs(out=out, images=photos, progress=False, **options))
    report["wall_seconds"] = time.perf_counter() - start
    (out.parent / f"{out.name}_wall_seconds.txt").write_text(f"{report['wall_seconds']}\n")
    return report


def errors_against(scene_dir: Path, truth: dict[str, np.ndarray]) -> dict:
    names, c2w = recovered_cameras(scene_dir)
    errors = pose_errors(c2w, np.stack([truth[n] for n in names]))
    return {
        **errors.summary(),
        "rotation_deg": errors.rotation_deg.tolist(),
        "position_pct": errors.position_pct.tolist(),
        "names": names,
    }


# ----------------------------------------------------------------------------------------------- lego
def lego_photos(lego: Path, photos: Path) -> dict[str, np.ndarray]:
    """Lego's training renders composited on white as ``r_000.png`` ...; their true OpenCV c2w by name."""
    import imageio.v3 as iio

    meta = json.loads((lego / "transforms_train.json").read_text())
    photos.mkdir(parents=True)
    truth = {}
    for frame in meta["frames"]:
        index = int(Path(frame["file_path"]).name.split("_")[1])
        image = iio.imread(lego / (frame["file_path"].lstrip("./") + ".png")).astype(np.float64) / 255.0
        rgb = image[..., :3] * image[..., 3:] + (1.0 - image[..., 3:])
        name = f"r_{index:03d}.png"
        iio.imwrite(photos / name, (rgb * 255.0 + 0.5).astype(np.uint8))
        c2w = np.array(frame["transform_matrix"], dtype=np.float64)[:3]
        c2w[:, :3] = c2w[:, :3] @ GL_TO_CV
        truth[name] = c2w
    truth["__focal__"] = np.array(0.5 * rgb.shape[1] / math.tan(0.5 * meta["camera_angle_x"]))
    return truth


def lego_frame_scenes(rec_dir: Path, out: Path, truth: dict[str, np.ndarray]) -> None:
    """Two instant-ngp folders in lego's own frame, box ([-1.5, 1.5]^3) and bounds (2, 6), with the same
    registered images and split: ``out/recovered`` (the recovered poses, moved into lego's frame by the
    Umeyama similarity, and the recovered intrinsics and distortion) and ``out/true`` (the true poses and
    focal length). Only the cameras differ, and the backbone runs at the scale its preset was made for."""
    transforms = json.loads((rec_dir / "transforms.json").read_text())
    names = [Path(f["file_path"]).name for f in transforms["frames"]]
    rec = np.stack([np.array(f["transform_matrix"])[:3] for f in transforms["frames"]])
    rec[:, :, :3] = rec[:, :, :3] @ GL_TO_CV  # recovered, normalised frame, OpenCV axes
    true = np.stack([truth[n] for n in names])
    align = pose_errors(rec, true)  # similarity recovered -> lego frame
    s, rot, t = align.scale, align.rotation, align.translation
    mapped = np.concatenate([rot @ rec[:, :, :3], (s * rec[:, :, 3] @ rot.T + t)[:, :, None]], axis=2)
    width, height = transforms["w"], transforms["h"]
    focal = float(truth["__focal__"])
    lens = {k: transforms[k] for k in ("fl_x", "fl_y", "cx", "cy", "k1", "k2", "p1", "p2", "k3") if k in transforms}
    block = {"near": 2.0, "far": 6.0, "aabb": [[-1.5] * 3, [1.5] * 3]}
    for label, poses, intrinsics in (
        ("recovered", mapped, lens),
        ("true", true, {"fl_x": focal, "fl_y": focal, "cx": width / 2, "cy": height / 2}),
    ):
        folder = out / label
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(rec_dir / "images", folder / "images")
        frames = []
        for name, c2w in zip(names, poses):
            m = np.eye(4)
            m[:3] = c2w
            m[:3, 1:3] *= -1.0  # OpenCV -> OpenGL
            frames.append({"file_path": f"images/{name}", "transform_matrix": m.tolist()})
        meta = {**intrinsics, "w": width, "h": height, "frames": frames, "nerfplex": block}
        (folder / "transforms.json").write_text(json.dumps(meta, indent=1))


def train_ngp(scene: Path, steps: int, kind: str) -> dict:
    """One training in a fresh process (so the result does not depend on what this one imported)."""
    import subprocess

    out = scene.parent / f"{scene.name}_training.json"
    if not out.is_file():
        subprocess.run([sys.executable, __file__, "_train", str(scene), kind, str(steps), str(out)], check=True)
    return json.loads(out.read_text())


def _train_in_process(scene: Path, steps: int, kind: str) -> dict:
    from nerfplex.ablation import apply_overrides
    from nerfplex.config import load_config
    from nerfplex.data.loading import DataConfig, load_scene
    from nerfplex.engine.trainer import Trainer

    aabb = load_scene(DataConfig(kind=kind, path=scene)).aabb.numpy()
    step = 0.02 * float(np.linalg.norm(aabb[1] - aabb[0])) / (3.0 * math.sqrt(3.0))  # 0.02 in lego's box
    overrides = [
        *NGP_PRESET,
        f"data.kind={kind}",
        f"data.path={scene}",
        f"model.ngp.render_step_size={step}",
        f"trainer.max_steps={steps}",
        f"model.ngp.schedule_steps={steps}",
        "trainer.eval_every=0",
    ]
    config = apply_overrides(load_config(REPO / "configs" / "ngp_lego.yaml"), overrides)
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        metrics = Trainer(config, Path(run_dir)).train()
    return {
        "overrides": overrides,
        "heldout_psnr": metrics["psnr"],
        "heldout_ssim": metrics.get("ssim"),
        "heldout_views": metrics["num_test_views"],
        "train_seconds": metrics["train_seconds"],
        "wall_seconds": time.perf_counter() - start,
    }


def bench_lego(args) -> dict:
    tmp = args.work / "lego"
    tmp.mkdir(parents=True, exist_ok=True)
    # the work folder is kept, so an interrupted run resumes after its last finished stage
    if (tmp / "photos").is_dir():
        shutil.rmtree(tmp / "photos")
    truth = lego_photos(args.data, tmp / "photos")
    report = run_process_data(tmp / "photos", tmp / "scene", seed=args.seed)
    report.setdefault("wall_seconds", _wall(tmp / "scene"))
    truth_poses = {k: v for k, v in truth.items() if k != "__focal__"}
    result = {
        "images_given": report["images_given"],
        "images_registered": report["images_registered"],
        "registered_fraction": report["images_registered"] / report["images_given"],
        "points3D": report["points3D"],
        "mean_reprojection_error_px": report["mean_reprojection_error_px"],
        "stage_seconds": report["seconds"],
        "process_data_wall_seconds": report["wall_seconds"],
        "options": report["options"],
        "pose_errors": errors_against(tmp / "scene", truth_poses),
    }
    transforms = json.loads((tmp / "scene" / "transforms.json").read_text())
    result["focal_px"] = {"recovered": transforms["fl_x"], "true": float(truth["__focal__"])}
    if args.steps > 0:
        if not (tmp / "lego_frame" / "true" / "transforms.json").is_file():
            lego_frame_scenes(tmp / "scene", tmp / "lego_frame", truth)
        result["training"] = {
            "backbone": "ngp, bench_lego_backbone.py's CPU preset (lego at 100x100, 1024 rays)",
            "protocol": "the registered images, split every 8th in name order, in lego's frame / box / near-far; "
            "recovered poses moved there by the Umeyama similarity, with the recovered intrinsics",
            "recovered_poses": train_ngp(tmp / "lego_frame" / "recovered", args.steps, "blender"),
            "true_poses": train_ngp(tmp / "lego_frame" / "true", args.steps, "blender"),
        }
        result["training"]["psnr_gap_db"] = (
            result["training"]["true_poses"]["heldout_psnr"] - result["training"]["recovered_poses"]["heldout_psnr"]
        )
        if args.loader_frame:  # the scene as `nerfplex train --data.path` loads it (normalised, point box)
            result["training"]["recovered_as_loaded"] = train_ngp(tmp / "scene", args.steps, "colmap")
    return result


# ---------------------------------------------------------------------------------------------- fruit
def bench_fruit(args) -> dict:
    meta = json.loads((args.data / "transforms.json").read_text())
    truth = {}
    for frame in meta["frames"]:
        c2w = np.array(frame["transform_matrix"], dtype=np.float64)[:3]
        c2w[:, :3] = c2w[:, :3] @ GL_TO_CV
        truth[Path(frame["file_path"]).name] = c2w
    photos = args.data / Path(meta["frames"][0]["file_path"]).parent
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:  # timed: always a fresh run
        report = run_process_data(photos, Path(tmp) / "scene", seed=args.seed, camera_model=args.camera_model)
        errors = errors_against(Path(tmp) / "scene", truth)
        transforms = json.loads((Path(tmp) / "scene" / "transforms.json").read_text())
    return {
        "images_given": report["images_given"],
        "images_registered": report["images_registered"],
        "registered_fraction": report["images_registered"] / report["images_given"],
        "points3D": report["points3D"],
        "mean_reprojection_error_px": report["mean_reprojection_error_px"],
        "stage_seconds": report["seconds"],
        "process_data_wall_seconds": report["wall_seconds"],
        "options": report["options"],
        "pose_errors": errors,
        "focal_px": {
            "recovered": transforms["fl_x"],
            "reference_fl_x": meta.get("fl_x"),
            "reference_fl_y": meta.get("fl_y"),
        },
        "reference": "the capture's own transforms.json (instant-ngp colmap2nerf output: COLMAP poses)",
    }


def _wall(scene: Path) -> float | None:
    path = scene.parent / f"{scene.name}_wall_seconds.txt"
    return float(path.read_text()) if path.is_file() else None


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "_train":  # one training, in its own process
        scene, kind, steps, out = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), Path(sys.argv[5])
        out.write_text(json.dumps(_train_in_process(scene, steps, kind), indent=1))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scene", choices=["lego", "fruit"])
    parser.add_argument("--data", type=Path, default=None, help="lego folder / fruit capture folder")
    parser.add_argument("--steps", type=int, default=600, help="lego: ngp training steps per run (0: no training)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--camera-model",
        default="SIMPLE_RADIAL",
        help="fruit: process-data's --camera-model (the capture's own poses used OPENCV)",
    )
    parser.add_argument(
        "--loader-frame",
        action="store_true",
        help="lego: also train on the scene as the COLMAP reader loads it (normalised frame)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "nerfplex-bench-process-data",
        help="lego: kept work folder (a re-run resumes); fruit: where its temporary scene goes",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    shared = REPO.parent / "shared" / "data"
    args.work.mkdir(parents=True, exist_ok=True)
    args.data = args.data or (shared / "lego" if args.scene == "lego" else shared / "captures" / "fruit")
    before = cpu_times()
    result = bench_lego(args) if args.scene == "lego" else bench_fruit(args)
    result = {
        "machine": machine_info(),
        "scene": args.scene,
        "data": str(args.data),
        **result,
        "cpu_steal_fraction": steal_fraction(before, cpu_times()),
    }
    suffix = "" if args.camera_model == "SIMPLE_RADIAL" else f"_{args.camera_model.lower()}"
    save_result(args.out or REPO / "benchmarks" / "results" / f"process_data_{args.scene}{suffix}.json", result)
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine",)}, indent=1, default=str)[:3000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
