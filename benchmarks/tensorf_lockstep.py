"""nerfplex's TensoRF and the official code (apchenstu/TensoRF) trained in lockstep: the same initial
factors and networks, the same ray batches and the same per-ray jitter, so that the only differences
left are the two implementations. Prints and saves the per-step losses and the held-out PSNR of both.

The official code is imported from a checkout you provide (it is not part of nerfplex)::

    git clone https://github.com/apchenstu/TensoRF /path/to/TensoRF
    python benchmarks/tensorf_lockstep.py --official /path/to/TensoRF [--preset small|lego200] [--seed 1]

How the two are kept in step:

* nerfplex trains through its own ``Trainer`` (schedule hooks, learning rates, optimiser rebuilds,
  ray filters). Its sampler is replaced by one drawing from the *official* filtered ray pool with a
  shared generator; where the two filters disagree the official pool is used and the disagreement
  is reported.
* The official model runs the authors' ``train.py`` loop, reproduced below (Adam (0.9, 0.99), the lr
  decay per iteration, the L1 switch, mask / shrink / filter / upsampling at the end of an
  iteration): their hooks at the end of iteration ``s - 1`` are ours before step ``s``.
* Jitter: nerfplex draws one uniform per ray; the official ``sample_ray`` is handed the same values.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from machine import machine_info, save_result  # noqa: E402

from nerfplex.ablation import apply_overrides  # noqa: E402
from nerfplex.config import load_config  # noqa: E402
from nerfplex.engine.evaluation import evaluate_split  # noqa: E402
from nerfplex.engine.trainer import Trainer  # noqa: E402
from nerfplex.fields.tensorf import resolution_for_voxels  # noqa: E402

PRESETS = {
    "small": {  # minutes on one CPU thread
        "steps": 300,
        "batch": 1024,
        "upsample": [60, 100, 140, 180, 220],
        "masks": [60, 120],
        "set": ["data.downscale=4", "model.tensorf.n_voxel_init=32768", "model.tensorf.n_voxel_final=884736"],
        "about": "lego at 100x100, 32^3 -> 96^3 voxels, 1024 rays x 300 steps",
    },
    "lego200": {  # docs/performance.md's CPU comparison: the authors' lego config, schedules / 37.5
        "steps": 200,
        "batch": 4096,
        "upsample": [54, 81, 108, 148, 188],
        "masks": [54, 108],
        "set": [],
        "about": "the authors' lego config at 400x400, 4096 rays x 200 steps, official schedule "
        "[53, 80, 107, 147, 187] / masks [53, 107] (iterations; ours one step later)",
    },
}


def load_official(path: Path):
    if not (path / "models" / "tensoRF.py").is_file():
        raise SystemExit(
            f"error: no official TensoRF checkout at {path} (models/tensoRF.py missing). "
            "Clone https://github.com/apchenstu/TensoRF and pass --official PATH."
        )
    sys.path.insert(0, str(path))
    from models.tensoRF import TensorVMSplit  # noqa: PLC0415

    return TensorVMSplit


def quiet():
    """The official code prints at every shape change; keep the log readable."""
    return contextlib.redirect_stdout(io.StringIO())


def copy_into_official(ours, off) -> None:
    with torch.no_grad():
        for i in range(3):
            off.density_plane[i].data = ours.field.density_planes[i].data.clone()
            off.density_line[i].data = ours.field.density_lines[i].data.clone()
            off.app_plane[i].data = ours.field.app_planes[i].data.clone()
            off.app_line[i].data = ours.field.app_lines[i].data.clone()
        off.basis_mat.weight.data = ours.field.basis.weight.data.clone()
        for theirs, mine in zip(off.renderModule.mlp, ours.shading.mlp):
            if hasattr(theirs, "weight"):
                theirs.weight.data = mine.weight.data.clone()
                theirs.bias.data = mine.bias.data.clone()


def official_filter(off, rays6: torch.Tensor, ids: torch.Tensor, bbox_only: bool) -> torch.Tensor:
    """Pixel ids the official ``filtering_rays`` keeps (ids ride along as its "colours")."""
    with quiet():
        _, kept = off.filtering_rays(rays6, ids.float()[:, None].expand(-1, 3), bbox_only=bbox_only)
    return kept[:, 0].round().long()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", type=Path, required=True, help="checkout of apchenstu/TensoRF")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small", help="size of the run")
    parser.add_argument("--seed", type=int, default=1, help="seed of the shared batch and jitter stream")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="stop after this many steps (a smoke test; the schedule stays the preset's)",
    )
    parser.add_argument("--no-jitter", action="store_true", help="sample both without per-ray jitter")
    parser.add_argument(
        "--data", type=Path, default=REPO.parent / "shared" / "data" / "lego", help="NeRF-synthetic lego folder"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="result JSON (default benchmarks/results/tensorf_lockstep_<preset>_seed<N>.json)",
    )
    args = parser.parse_args()
    TensorVMSplit = load_official(args.official)
    preset = PRESETS[args.preset]
    steps, batch = preset["steps"], preset["batch"]
    run_steps = min(args.steps or steps, steps)
    overrides = [
        f"data.path={args.data}",
        *preset["set"],
        f"trainer.max_steps={steps}",
        f"trainer.batch_size={batch}",
        "trainer.eval_every=0",
        "trainer.progress_bar=false",
        f"model.tensorf.upsample_steps={preset['upsample']}",
        f"model.tensorf.alpha_mask_steps={preset['masks']}",
        "trainer.checkpoint_every=1000000",
        f"model.tensorf.perturb={'false' if args.no_jitter else 'true'}",
        "trainer.keep_freed_memory=false",
    ]  # two models in one process: spare the memory
    config = apply_overrides(load_config(REPO / "configs" / "tensorf_lego.yaml"), overrides)
    tc = config.model.tensorf
    run_dir = tempfile.TemporaryDirectory()
    trainer = Trainer(config, Path(run_dir.name))
    ours = trainer.model
    with quiet():
        off = TensorVMSplit(
            ours.field.aabb.clone(),
            ours.field.resolution,
            "cpu",
            density_n_comp=list(tc.density_ranks),
            appearance_n_comp=list(tc.color_ranks),
            app_dim=tc.color_feature_dim,
            near_far=[trainer.scene.near, trainer.scene.far],
            shadingMode="MLP_Fea",
            alphaMask_thres=tc.alpha_mask_threshold,
            density_shift=tc.density_shift,
            distance_scale=tc.distance_scale,
            view_pe=tc.view_frequencies,
            fea_pe=tc.feature_frequencies,
            featureC=tc.mlp_width,
            step_ratio=tc.step_ratio,
            fea2denseAct="softplus",
        )
    copy_into_official(ours, off)

    sampler = trainer.sampler
    every = sampler.batch_from_ids(torch.arange(sampler.num_pixels))
    rays6 = torch.cat([every.rays.origins, every.rays.directions], dim=-1)
    targets = every.target(torch.ones(sampler.num_pixels, 3))  # white, as both train
    del every
    pool = official_filter(off, rays6, torch.arange(sampler.num_pixels), bbox_only=True)
    generator = torch.Generator().manual_seed(args.seed)
    shared = {}
    disagreements = []

    def lockstep_sample(_generator):
        if sampler.pool is None or not torch.equal(sampler.pool, pool):
            mine = set(sampler.pool.tolist()) if sampler.pool is not None else set(range(sampler.num_pixels))
            theirs = set(pool.tolist())
            disagreements.append(
                {
                    "step": trainer.step,
                    "ours": len(mine),
                    "official": len(theirs),
                    "ours_only": len(mine - theirs),
                    "official_only": len(theirs - mine),
                }
            )
            sampler.pool = pool.clone()
        shared["ids"] = sampler.pool[torch.randint(pool.shape[0], (batch,), generator=generator)]
        shared["jitter"] = torch.rand((batch, 1), generator=generator)
        return sampler.batch_from_ids(shared["ids"])

    sampler.sample = lockstep_sample
    real_rand = torch.rand

    def rand_with_shared_jitter(*size, **kwargs):  # nerfplex's jitter draw: one uniform per ray
        shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        if shape == (batch, 1) and "jitter" in shared:
            return shared["jitter"].to(kwargs.get("dtype") or torch.float32)
        return real_rand(*size, **kwargs)

    real_rand_like = torch.rand_like
    optimizer = torch.optim.Adam(off.get_optparam_groups(tc.lr_grid, tc.lr_network), betas=(0.9, 0.99))
    lr_factor = 0.1 ** (1 / steps)
    voxels = (
        torch.round(
            torch.exp(
                torch.linspace(math.log(tc.n_voxel_init), math.log(tc.n_voxel_final), len(preset["upsample"]) + 1)
            )
        )
        .long()
        .tolist()[1:]
    )
    reso_cur, reso_mask = list(ours.field.resolution), None
    n_samples = int(math.sqrt(sum(n * n for n in reso_cur)) / tc.step_ratio)
    l1_weight = tc.l1_weight_initial
    history, seconds = [], {"ours": 0.0, "official": 0.0}
    for step in range(run_steps):
        start = time.perf_counter()
        torch.rand = rand_with_shared_jitter
        try:
            values = trainer.train_step()
        finally:
            torch.rand = real_rand
        seconds["ours"] += time.perf_counter() - start

        start = time.perf_counter()
        ids = shared["ids"]
        rays, rgbs = rays6[ids], targets[ids]
        jitter = shared["jitter"]
        torch.rand_like = lambda x, jitter=jitter, **kw: jitter if x.shape == jitter.shape else real_rand_like(x, **kw)
        try:
            rgb_map, _ = off(rays, white_bg=True, is_train=not args.no_jitter, N_samples=n_samples)
        finally:
            torch.rand_like = real_rand_like
        mse = torch.mean((rgb_map - rgbs) ** 2)
        total = mse + l1_weight * off.density_L1()
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        for group in optimizer.param_groups:
            group["lr"] *= lr_factor
        hook = step + 1  # their end-of-iteration hooks = ours before the next step
        with quiet():
            if hook in preset["masks"]:
                if reso_cur[0] * reso_cur[1] * reso_cur[2] < 256**3:
                    reso_mask = reso_cur
                new_aabb = off.updateAlphaMask(tuple(reso_mask))
                if hook == preset["masks"][0]:
                    off.shrink(new_aabb)
                    l1_weight = tc.l1_weight_rest
                if hook == preset["masks"][1]:
                    pool = official_filter(off, rays6[pool], pool, bbox_only=False)
            if hook in preset["upsample"]:
                reso_cur = resolution_for_voxels(voxels.pop(0), off.aabb)
                n_samples = int(math.sqrt(sum(n * n for n in reso_cur)) / tc.step_ratio)
                off.upsample_volume_grid(reso_cur)
                optimizer = torch.optim.Adam(off.get_optparam_groups(tc.lr_grid, tc.lr_network), betas=(0.9, 0.99))
        seconds["official"] += time.perf_counter() - start
        history.append(
            {
                "step": step,
                "mse_ours": float(values["loss/rgb_mse"]),
                "mse_official": float(mse.detach()),
                "grid_ours": ours.field.resolution,
                "grid_official": off.gridSize.tolist(),
            }
        )
        if step % 10 == 0 or step == run_steps - 1:
            h = history[-1]
            print(
                f"step {step}: mse ours {h['mse_ours']:.6f} official {h['mse_official']:.6f}  grid ours "
                f"{h['grid_ours']} official {h['grid_official']}  ({seconds['ours']:.0f} s / "
                f"{seconds['official']:.0f} s)",
                flush=True,
            )

    background = torch.ones(3)
    test = trainer.scene.test
    results, _ = evaluate_split(
        ours,
        test,
        trainer.scene.near,
        trainer.scene.far,
        background,
        config.trainer.render_chunk,
        trainer.eval_indices,
        trainer.aabb,
    )
    psnr_ours = [r["psnr"] for r in results]
    psnr_official = []
    with torch.no_grad():
        for index in trainer.eval_indices:
            origins, directions = test.cameras.image_rays(index)
            chunks = [
                off(torch.cat([o, d], -1), white_bg=True, is_train=False, N_samples=n_samples)[0]
                for o, d in zip(origins.split(4096), directions.split(4096))
            ]
            error = torch.cat(chunks).clamp(0, 1) - test.composite(background, index).reshape(-1, 3)
            psnr_official.append(float(-10 * torch.log10(error.pow(2).mean())))
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    result = {
        "machine": machine_info(),
        "preset": args.preset,
        "about": preset["about"],
        "seed": args.seed,
        "jitter": not args.no_jitter,
        "official_checkout": str(args.official),
        "steps": run_steps,
        "heldout_psnr_ours": mean(psnr_ours),
        "heldout_psnr_official": mean(psnr_official),
        "heldout_psnr_difference": mean(psnr_ours) - mean(psnr_official),
        "per_view_ours": psnr_ours,
        "per_view_official": psnr_official,
        "seconds_in_loop": seconds,
        "pool_disagreements": disagreements,
        "final_grid_ours": ours.field.resolution,
        "final_grid_official": off.gridSize.tolist(),
        "history": history,
    }
    out = args.out or REPO / "benchmarks" / "results" / f"tensorf_lockstep_{args.preset}_seed{args.seed}.json"
    save_result(out, result)
    run_dir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
