"""Executors: the local concurrency plan, and the Ray executor on a single-node Ray cluster that the test
starts itself (two worker CPUs, token authentication on, every socket on 127.0.0.1)."""

import importlib.util
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from nerfplex.cli.main import main
from nerfplex.errors import NerfplexError
from nerfplex.sweep import executors
from nerfplex.sweep.executors import local_plan


def test_local_plan_never_oversubscribes_the_cores(monkeypatch):
    monkeypatch.setattr(executors, "gpu_count", lambda: 0)
    monkeypatch.setattr(executors, "cpu_count", lambda: 8)
    assert local_plan(20, None, None) == (8, 1, [])  # one single-threaded run per core
    assert local_plan(3, None, None) == (3, 1, [])  # no more processes than runs
    assert local_plan(20, None, 4) == (2, 4, [])
    assert local_plan(20, 2, None) == (2, 4, [])  # the cores shared out
    monkeypatch.setattr(executors, "gpu_count", lambda: 2)
    assert local_plan(20, None, None) == (2, 4, ["0", "1"])  # one run per GPU
    with pytest.raises(NerfplexError, match="exceeds the 2 GPUs"):
        local_plan(20, 3, None)


# ----------------------------------------------------------------------------------------------- Ray
@pytest.fixture(scope="module")
def ray_cluster():
    """A single-node Ray cluster on 127.0.0.1 with 2 worker CPUs and token authentication (a fresh token in
    a temporary file, so the user's ~/.ray is not touched). Yields the GCS address."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed (pip install 'nerfplex[ray]')")
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths have a length limit
    token = os.path.join(temp, "auth_token")
    with open(token, "w") as handle:
        handle.write(secrets.token_hex(32))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keeps a single-node cluster on loopback
        patch.setenv("RAY_AUTH_MODE", "token")
        patch.setenv("RAY_AUTH_TOKEN_PATH", token)
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        import ray  # after the environment: Ray reads its settings when first imported

        try:
            context = ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, log_to_driver=False)
            assert context.address_info["node_ip_address"] == "127.0.0.1"
            yield context.address_info["gcs_address"]
        finally:
            ray.shutdown()
            shutil.rmtree(temp, ignore_errors=True)


def _sweep_process(spec, out, address, cpus_per_run=1):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nerfplex.cli.main",
            "sweep",
            str(spec),
            "--out",
            str(out),
            "--executor",
            "ray",
            "--ray-address",
            address,
            "--cpus-per-run",
            str(cpus_per_run),
            "--no-progress-bar",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _non_loopback_sockets() -> list:
    """Internet sockets of this process and all its descendants (the Ray cluster) off 127.0.0.1 / ::1."""
    import psutil

    me = psutil.Process()
    bad = []
    for proc in [me, *me.children(recursive=True)]:
        try:
            connections = proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        for conn in connections:
            for address in (conn.laddr, conn.raddr):
                if not address:
                    continue
                ip = ipaddress.ip_address(address.ip)
                ip = getattr(ip, "ipv4_mapped", None) or ip
                if not ip.is_loopback:
                    bad.append((proc.pid, conn))
    return bad


def _states(out):
    return {p.stem: json.loads(p.read_text()) for p in (out / "state").glob("*.json")}


@pytest.mark.slow
def test_ray_grid_survives_a_killed_run(tmp_path, ray_cluster, write_spec, kill_one_run, reference_metrics):
    spec = write_spec({"loss.s3im.weight": [0, 1], "data.train_fraction": [0.5, 1.0]}, seeds=[0])
    out = tmp_path / "out"
    killer = kill_one_run(out)
    sweep = _sweep_process(spec, out, ray_cluster)
    output, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, output
    killed = killer.result()
    assert killed is not None, "no run was caught mid-training"
    assert _non_loopback_sockets() == []

    states = _states(out)
    assert len(states) == 4 and all(s["status"] == "done" for s in states.values())
    assert states[killed]["attempts"] == 2
    assert "attempt 2 (resumed)" in (out / "logs" / f"{killed}.log").read_text()
    resumed = json.loads((out / "runs" / killed / "metrics.json").read_text())
    reference = reference_metrics(out, killed)
    assert (resumed["step"], resumed["psnr"], resumed["ssim"]) == (
        reference["step"],
        reference["psnr"],
        reference["ssim"],
    )
    workers = {s["worker"] for s in states.values()}  # the Ray worker processes that ran run_point
    assert len(workers) >= 2 and sweep.pid not in workers and os.getpid() not in workers
    assert len(list((out / "runs").glob("*/metrics.json"))) == 4


@pytest.mark.slow
def test_ray_sweep_interrupted_with_ctrl_c_continues_without_rerunning(
    tmp_path, ray_cluster, write_spec, running_with_checkpoint
):
    spec = write_spec({"loss.s3im.weight": [0, 1]}, seeds=[0], steps=2000)  # long enough to be caught
    out = tmp_path / "out"
    sweep = _sweep_process(spec, out, ray_cluster, cpus_per_run=2)  # one run at a time
    deadline = time.monotonic() + 480  # ~35 s alone on 2 cores; generous for a loaded machine
    caught = False
    while time.monotonic() < deadline and not caught:  # one finished run and one training past a checkpoint
        states = _states(out) if (out / "state").is_dir() else {}
        caught = any(s.get("status") == "done" for s in states.values()) and running_with_checkpoint(out)
        time.sleep(0.02)
    sweep.send_signal(signal.SIGINT)
    assert caught, f"the sweep never had one run done and one past a checkpoint: {_states(out)}"
    output, _ = sweep.communicate(timeout=240)
    assert sweep.returncode == 130, output
    finished = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/metrics.json")}
    assert len(finished) == 1
    interrupted = [k for k, s in _states(out).items() if s["status"] == "interrupted"]
    assert interrupted, _states(out)

    assert main(["sweep", str(spec), "--out", str(out), "--executor", "ray", "--no-progress-bar"]) == 0
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # finished runs were not re-run
    for path in finished:
        log = (out / "logs" / f"{path.parent.name}.log").read_text()
        assert log.count("=== attempt") == 1
    assert len(list((out / "runs").glob("*/metrics.json"))) == 2
    logs = [(out / "logs" / f"{run_id}.log").read_text() for run_id in interrupted]
    assert any("attempt 1 (resumed)" in log for log in logs)  # continued from the Ctrl-C checkpoint
