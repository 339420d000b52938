"""nerfplex.io: atomic files with the umask's permissions, staged folders, orphan clean-up."""

from __future__ import annotations

import os
import stat

import pytest

from nerfplex.errors import NerfplexError
from nerfplex.io import atomic_path, is_orphan_temporary, remove_orphan_temporaries, staged_directory, write_text_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_written_file_has_the_mode_a_plain_open_gives(tmp_path, umask_022):
    write_text_atomic(tmp_path / "a.yaml", "x: 1\n")
    with open(tmp_path / "plain.txt", "w") as handle:
        handle.write("x")
    mode = stat.S_IMODE((tmp_path / "a.yaml").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o644
    assert (tmp_path / "a.yaml").read_text() == "x: 1\n"


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise ValueError("crash while writing")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_temporary_keeps_the_extension_and_is_recognised_as_ours(tmp_path):
    with atomic_path(tmp_path / "mesh.ply") as tmp:
        assert tmp.suffix == ".ply" and is_orphan_temporary(tmp)
        tmp.write_bytes(b"ply")
    assert (tmp_path / "mesh.ply").read_bytes() == b"ply"


def test_orphan_cleanup_touches_only_our_temporaries(tmp_path):
    ours = [tmp_path / ".step-0000010.pt.0123abcd.nerfplex-tmp.pt", tmp_path / ".eval.partial-89abcdef"]
    ours[0].write_bytes(b"half")
    ours[1].mkdir()
    theirs = [tmp_path / ".step-0000010.pt.tmp", tmp_path / "notes.nerfplex-tmp", tmp_path / "a.pt"]
    for path in theirs:
        path.write_text("user data")
    assert sorted(remove_orphan_temporaries(tmp_path)) == sorted(ours)
    assert all(p.exists() for p in theirs) and not any(p.exists() for p in ours)


def test_staged_directory_appears_whole(tmp_path):
    with staged_directory(tmp_path / "out") as staging:
        (staging / "a.txt").write_text("a")
        assert not (tmp_path / "out").exists()
    assert (tmp_path / "out" / "a.txt").read_text() == "a"


def test_staged_directory_failure_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with staged_directory(tmp_path / "out") as staging:
            (staging / "a.txt").write_text("a")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_staged_directory_never_replaces_a_users_folder_unless_asked(tmp_path):
    user = tmp_path / "out"
    user.mkdir()
    (user / "thesis.tex").write_text("precious")
    with pytest.raises(NerfplexError, match="already exists"):
        with staged_directory(user) as staging:
            (staging / "a.txt").write_text("a")
    assert (user / "thesis.tex").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with staged_directory(user, replace=True) as staging:
        (staging / "a.txt").write_text("a")
    assert sorted(p.name for p in user.iterdir()) == ["a.txt"]


def test_staged_output_marks_and_replaces_only_nerfplex_folders(tmp_path):
    from nerfplex.io import OUTPUT_MARKER, check_output_folder, staged_output, written_by_nerfplex

    out = tmp_path / "eval"
    with staged_output(out, "eval") as staging:
        (staging / "metrics.json").write_text("{}")
    assert written_by_nerfplex(out) and (out / "metrics.json").is_file()
    with pytest.raises(NerfplexError, match="--overwrite"):
        check_output_folder(out, overwrite=False)
    with staged_output(out, "eval", overwrite=True) as staging:
        (staging / "metrics.json").write_text('{"new": 1}')
    assert (out / "metrics.json").read_text() == '{"new": 1}' and (out / OUTPUT_MARKER).is_file()
    user = tmp_path / "user"
    user.mkdir()
    (user / "a.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(NerfplexError, match="did not write"):
            check_output_folder(user, overwrite)
    (tmp_path / "file.json").write_text("x")
    with pytest.raises(NerfplexError, match="existing file"):
        check_output_folder(tmp_path / "file.json", overwrite=True)


def test_unique_folders_never_collide(tmp_path):
    from nerfplex.io import create_unique_folder

    made = [create_unique_folder(tmp_path / "run") for _ in range(3)]
    assert [p.name for p in made] == ["run", "run-1", "run-2"]


def test_disk_errors_are_one_line_with_what_to_do(tmp_path):
    import errno

    from nerfplex.io import check_free_space, os_error_message

    assert "full" in os_error_message(OSError(errno.ENOSPC, "No space left"), tmp_path)
    assert "write" in os_error_message(OSError(errno.EROFS, "Read-only file system"), tmp_path)
    with pytest.raises(NerfplexError, match="MiB free"):
        check_free_space(tmp_path, 2**62, "one checkpoint")
