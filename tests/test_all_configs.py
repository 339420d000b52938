"""Every YAML under configs/ trains: loaded as written, pointed at a tiny dataset in its ``data.kind``'s
on-disk layout (written by tests/data/layouts.py), shrunk to toy sizes with ``--set``-style overrides
(nerfplex.ablation.apply_overrides), then two real training steps with the Trainer and one held-out
render. The method, the data format and every other setting stay those of the file. About 6 s on one
thread for the 32 configs of this writing, so not marked slow."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

from nerfplex.ablation import apply_overrides
from nerfplex.config import load_config
from nerfplex.data.blender_writer import write_blender_scene
from nerfplex.engine.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
# Experiment configs; configs/sweeps/ holds sweep specs (checked in tests/sweep).
CONFIGS = sorted(
    p.relative_to(REPO / "configs").as_posix()
    for p in (REPO / "configs").rglob("*.yaml")
    if not p.relative_to(REPO / "configs").as_posix().startswith("sweeps/")
)


def _layouts():
    spec = importlib.util.spec_from_file_location("layouts", REPO / "tests" / "data" / "layouts.py")
    module = sys.modules.get("layouts") or importlib.util.module_from_spec(spec)
    if "layouts" not in sys.modules:
        sys.modules["layouts"] = module
        spec.loader.exec_module(module)
    return module


def _colmap_fixtures():
    spec = importlib.util.spec_from_file_location("colmap_fixtures", REPO / "tests" / "data" / "colmap_fixtures.py")
    module = sys.modules.get("colmap_fixtures") or importlib.util.module_from_spec(spec)
    if "colmap_fixtures" not in sys.modules:
        sys.modules["colmap_fixtures"] = module
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> dict[str, Path]:
    """One tiny dataset per folder format (16x16 images, 3-6 views)."""
    layouts = _layouts()
    root = tmp_path_factory.mktemp("datasets")
    obj = layouts.tiny_scene("object", n_train=3, n_test=2)
    room = layouts.tiny_scene("room", n_train=4, n_test=2)
    return {
        "blender": write_blender_scene(obj, root / "blender"),
        "monosdf": layouts.write_monosdf(
            layouts.all_views(room), root / "monosdf", mono=False, aabb=room.aabb.tolist(), near=room.near, far=room.far
        ),
        "nsvf": layouts.write_nsvf(obj, root / "nsvf"),
        "dtu": layouts.write_dtu(layouts.all_views(obj), root / "dtu_scan24"),
        "colmap": _colmap_fixtures().make_colmap_scene(root / "colmap", n_images=9).root,
        "auto": root / "colmap",  # a config that leaves the layout to detection gets the COLMAP scene
    }


SHRINK = {
    "common": [
        "trainer.max_steps=2",
        "trainer.eval_every=0",
        "trainer.checkpoint_every=2",
        "trainer.batch_size=256",
        "trainer.render_chunk=256",
        "trainer.progress_bar=false",
        "trainer.device=cpu",
        "trainer.log_every=1",
        "data.max_test_views=1",
    ],
    "procedural": ["data.resolution=16", "data.num_train_views=4", "data.num_test_views=2"],
    "nerf": [
        "model.nerf.mlp.num_layers=2",
        "model.nerf.mlp.width=16",
        "model.nerf.mlp.skip_layers=[]",
        "model.nerf.num_coarse_samples=8",
        "model.nerf.num_fine_samples=8",
    ],
    "tensorf": [
        "model.tensorf.n_voxel_init=4096",
        "model.tensorf.n_voxel_final=32768",
        "model.tensorf.upsample_steps=[1]",
        "model.tensorf.alpha_mask_steps=[]",
        "model.tensorf.density_ranks=[2,2,2]",
        "model.tensorf.color_ranks=[4,4,4]",
        "model.tensorf.cp_density_rank=4",
        "model.tensorf.cp_color_rank=8",
        "model.tensorf.mlp_width=16",
    ],
    "dvgo": [
        "model.dvgo.coarse_num_voxels=4096",
        "model.dvgo.fine_num_voxels=4096",
        "model.dvgo.pg_scale=[]",
        "model.dvgo.rgbnet_width=16",
    ],
    "neus": [
        "model.neus.sdf_network.d_hidden=16",
        "model.neus.sdf_network.n_layers=2",
        "model.neus.sdf_network.skip_in=[]",
        "model.neus.sdf_network.multires=2",
        "model.neus.sdf_network.d_out=17",
        "model.neus.rendering_network.d_feature=16",
        "model.neus.rendering_network.d_hidden=16",
        "model.neus.rendering_network.n_layers=2",
        "model.neus.n_samples=8",
        "model.neus.n_importance=4",
        "model.neus.up_sample_steps=2",
        "model.neus.background.D=2",
        "model.neus.background.W=16",
        "model.neus.background.skips=[]",
        "model.neus.background.multires=2",
        "model.neus.background.multires_view=1",
    ],
    "ngp": [
        "model.ngp.grid.n_levels=2",
        "model.ngp.grid.log2_hashmap_size=10",
        "model.ngp.grid.base_resolution=4",
        "model.ngp.grid.per_level_scale=2.0",
        "model.ngp.density_neurons=16",
        "model.ngp.color_neurons=16",
        "model.ngp.occupancy_resolution=8",
        "model.ngp.render_step_size=0.05",
    ],
}


def _shrunk(path: Path, fixtures: dict[str, Path], out: Path):
    config = load_config(path)
    pairs = SHRINK["common"] + SHRINK.get(config.model.method, [])  # a new method: only the common ones
    if config.data.kind == "procedural" or (config.data.kind == "auto" and config.data.path is None):
        pairs += SHRINK["procedural"]
    else:
        pairs.append(f"data.path={fixtures[config.data.kind]}")
        if config.data.downscale > 1:
            pairs.append("data.downscale=1")
    if config.model.method == "dvgo" and config.model.dvgo.coarse_steps > 0:
        pairs.append("model.dvgo.coarse_steps=1")  # step 0 coarse, step 1 switches to the fine stage
    if config.model.method == "neus" and config.model.neus.n_outside > 0:
        pairs.append("model.neus.n_outside=4")
    pairs.append(f"output_dir={out}")
    return config, apply_overrides(config, pairs)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_trains_two_steps_on_its_format(name, fixtures, tmp_path, one_thread):
    original, config = _shrunk(REPO / "configs" / name, fixtures, tmp_path / "outputs")
    assert (config.model.method, config.data.kind, config.loss.s3im.weight) == (
        original.model.method,
        original.data.kind,
        original.loss.s3im.weight,
    )
    trainer = Trainer(config, tmp_path / "run")
    losses = [trainer.train_step() for _ in range(2)]
    assert trainer.step == 2
    for values in losses:
        assert math.isfinite(float(values["loss/total"])), (name, values)
        if config.loss.s3im.weight > 0:
            assert "loss/s3im" in values, sorted(values)
    results = trainer.evaluate()
    assert len(results) == 1 and math.isfinite(results[0]["psnr"])


def test_every_format_has_a_config():
    datas = [load_config(REPO / "configs" / name).data for name in CONFIGS]
    # kind auto without a path is the built-in (procedural) scene
    kinds = {"procedural" if d.kind == "auto" and d.path is None else d.kind for d in datas}
    assert {"procedural", "blender", "monosdf", "nsvf", "dtu"} <= kinds
    s3im = [name for name in CONFIGS if name.endswith("_s3im.yaml")]
    for name in s3im:  # each S3IM config has a twin without it that differs in nothing else
        twin = load_config(REPO / "configs" / name.replace("_s3im", ""))
        with_s3im = load_config(REPO / "configs" / name)
        assert with_s3im.loss.s3im.weight == 1.0 and twin.loss.s3im.weight == 0.0
        for section in ("model", "data", "trainer", "optim"):
            assert getattr(with_s3im, section) == getattr(twin, section), (name, section)
    assert len(s3im) >= 8
