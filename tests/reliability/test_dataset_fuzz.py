"""Every file of a tiny dataset in every layout, corrupted three ways (cut in half, random bytes, empty):
loading is either fine (a file the loader does not need) or a NerfplexError that names the file, never
another exception; and a dataset whose image paths leave its folder loads with a warning naming the path.
(Targeted malformed-content cases per layout live in tests/data/.)"""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # the layout writers of tests/data

from layouts import all_views, tiny_scene, write_dtu, write_monosdf, write_ngp, write_nsvf  # noqa: E402

from nerfplex.data.blender_writer import write_blender_scene  # noqa: E402
from nerfplex.data.loading import DataConfig, load_scene  # noqa: E402
from nerfplex.errors import NerfplexError  # noqa: E402

WRITERS = {
    "blender": lambda scene, root: write_blender_scene(scene, root),
    "blender (instant-ngp)": lambda scene, root: write_ngp(all_views(scene), root),
    "monosdf": lambda scene, root: write_monosdf(all_views(scene), root),
    "nsvf": lambda scene, root: write_nsvf(scene, root),
    "dtu": lambda scene, root: write_dtu(all_views(scene), root),
}
KIND = {"blender": "blender", "blender (instant-ngp)": "blender", "monosdf": "monosdf", "nsvf": "nsvf", "dtu": "dtu"}
CORRUPTIONS = {
    "cut in half": lambda data: data[: len(data) // 2],
    "random bytes": lambda data: bytes((i * 7919 + 13) % 256 for i in range(max(len(data), 64))),
    "empty": lambda data: b"",
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    scene = tiny_scene("object", size=8, n_train=2, n_test=1)
    root = tmp_path_factory.mktemp("layouts")
    return {name: write(scene, root / name.split()[0] / name.replace(" ", "_")) for name, write in WRITERS.items()}


def _files(layout: str) -> list[str]:
    """The files one layout writes (from a scratch copy, at collection time)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = WRITERS[layout](tiny_scene("object", size=8, n_train=2, n_test=1), Path(tmp) / "d")
        return sorted(
            str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file() and not p.name.startswith(".")
        )


CASES = [
    pytest.param(layout, name, corruption, id=f"{layout}:{name}:{corruption}")
    for layout in WRITERS
    for name in _files(layout)
    for corruption in CORRUPTIONS
]


@pytest.mark.parametrize("layout, name, corruption", CASES)
def test_a_corrupt_file_is_a_clear_error_or_harmless(datasets, tmp_path, layout, name, corruption):
    root = tmp_path / "dataset"
    shutil.copytree(datasets[layout], root)
    target = root / name
    target.write_bytes(CORRUPTIONS[corruption](target.read_bytes()))
    config = DataConfig(kind=KIND[layout], path=root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            load_scene(config)
        except NerfplexError as err:
            assert Path(name).name in str(err) or Path(name).parent.name in str(err), str(err)


def test_enough_generated_cases():
    assert len(CASES) >= 100 and {c.values[0] for c in CASES} == set(WRITERS)


def test_image_paths_leaving_the_dataset_folder_are_warned_about(datasets, tmp_path):
    root = tmp_path / "dataset"
    shutil.copytree(datasets["blender"], root)
    outside = tmp_path / "elsewhere"
    shutil.copytree(root / "train", outside)
    meta = json.loads((root / "transforms_train.json").read_text())
    meta["frames"][0]["file_path"] = "../elsewhere/r_0"
    (root / "transforms_train.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="outside its folder") as record:
        load_scene(DataConfig(kind="blender", path=root))
    assert any("elsewhere" in str(w.message) for w in record)
