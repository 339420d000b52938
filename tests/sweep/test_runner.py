"""The local executor end to end: a killed run resumes from its checkpoint to the same final metrics as an
uninterrupted run; a second sweep skips what finished; a failing point does not stop the others."""

import json
import signal
import subprocess
import sys
import time

import pytest

from nerfplex.cli.main import main


@pytest.mark.slow
def test_killed_run_resumes_and_finished_runs_are_skipped(tmp_path, write_spec, kill_one_run, reference_metrics):
    spec = write_spec({"loss.s3im.weight": [0, 1]}, seeds=[0], baseline={"loss.s3im.weight": 0})
    out = tmp_path / "out"
    killer = kill_one_run(out)
    assert (
        main(["sweep", str(spec), "--out", str(out), "--concurrency", "1", "--threads", "1", "--no-progress-bar"]) == 0
    )
    killed = killer.result()
    assert killed is not None, "no run was caught mid-training"
    state = json.loads((out / "state" / f"{killed}.json").read_text())
    log = (out / "logs" / f"{killed}.log").read_text()
    assert state["status"] == "done" and state["attempts"] == 2 and "attempt 2 (resumed)" in log
    resumed = json.loads((out / "runs" / killed / "metrics.json").read_text())
    reference = reference_metrics(out, killed)
    assert resumed["step"] == reference["step"] == 200
    assert resumed["psnr"] == reference["psnr"] and resumed["ssim"] == reference["ssim"]
    assert [h["psnr"] for h in resumed["eval_history"]] == [h["psnr"] for h in reference["eval_history"]]

    finished = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")}
    logs = {p: p.read_text() for p in (out / "logs").glob("*.log")}
    assert main(["sweep", str(spec), "--out", str(out), "--no-progress-bar"]) == 0
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # nothing re-ran
    assert {p: p.read_text() for p in logs} == logs
    assert "Paired differences" in (out / "summary.md").read_text() and (out / "results.csv").is_file()


@pytest.mark.slow
def test_a_failing_point_does_not_stop_the_others(tmp_path, write_spec, capsys):
    spec = write_spec({"data.kind": ["procedural", "blender"]}, steps=4, retries=1)  # blender: no data.path
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--no-progress-bar"]) == 1
    state = json.loads((out / "state" / "kind-blender_seed-0.json").read_text())
    assert state["status"] == "failed" and state["attempts"] == 2
    assert (out / "runs" / "kind-procedural_seed-0" / "metrics.json").is_file()
    summary = (out / "summary.md").read_text()
    assert "kind-blender_seed-0: failed (attempt 2: exit status 2" in summary
    assert "FAILED kind-blender_seed-0" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_checkpoints_running_runs_and_the_next_sweep_continues(tmp_path, write_spec, running_with_checkpoint):
    spec = write_spec({"loss.s3im.weight": [0, 1]}, seeds=[0], steps=2000)  # long enough to be caught
    out = tmp_path / "out"
    sweep = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nerfplex.cli.main",
            "sweep",
            str(spec),
            "--out",
            str(out),
            "--concurrency",
            "1",
            "--threads",
            "1",
            "--no-progress-bar",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # one run finished, the next one past its first checkpoint
        if list((out / "runs").glob("*/metrics.json")) and running_with_checkpoint(out):
            break
        time.sleep(0.02)
    sweep.send_signal(signal.SIGINT)
    output, _ = sweep.communicate(timeout=240)
    assert sweep.returncode == 130, output
    assert "run the same command again" in output
    finished = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")}
    interrupted = [
        k
        for k, s in ((p.stem, json.loads(p.read_text())) for p in (out / "state").glob("*.json"))
        if s["status"] == "interrupted"
    ]
    assert len(finished) == 1 and len(interrupted) == 1

    assert main(["sweep", str(spec), "--out", str(out), "--concurrency", "1", "--no-progress-bar"]) == 0
    assert {p: p.stat().st_mtime_ns for p in finished} == finished
    log = (out / "logs" / f"{interrupted[0]}.log").read_text()
    assert "Ctrl-C" in log and "attempt 1 (resumed)" in log
    assert len(list((out / "runs").glob("*/metrics.json"))) == 2
