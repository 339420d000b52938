"""Where a sweep's runs execute: processes on this machine (``local``) or tasks on a Ray cluster (``ray``).

Both run :func:`nerfplex.sweep.runner.run_point` once per run and return its outcomes; ``on_tick`` is
called about once a second (the progress view). Ctrl-C stops starting new runs and asks every running
run to stop (a threading event locally, the sweep folder's stop file on Ray): each gives its training
process one SIGINT (it saves a checkpoint and exits). A later ``nerfplex sweep`` resumes exactly there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Optional

from nerfplex.errors import NerfplexError
from nerfplex.io import write_text_atomic
from nerfplex.sweep.runner import RunTask, run_point, stop_requested


class SweepInterrupted(Exception):
    """Ctrl-C stopped the sweep; ``args[0]`` holds the outcomes gathered so far."""


def cpu_count() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no usable CUDA is "no GPUs"
        return 0


def local_plan(n_runs: int, concurrency: Optional[int], threads: Optional[int]) -> tuple[int, int, list[str]]:
    """(concurrent runs, threads per run, GPU ids) for this machine.

    With GPUs: one run per GPU (each process sees only its GPU). Without: ``concurrency x threads`` never
    exceeds the cores (by default single-threaded processes, one per core, at most one per run)."""
    gpus = [str(i) for i in range(gpu_count())]
    cores = cpu_count()
    if gpus:
        concurrency = concurrency or len(gpus)
        if concurrency > len(gpus):
            raise NerfplexError(
                f"--concurrency {concurrency} exceeds the {len(gpus)} GPUs; runs would share "
                f"a GPU. Use at most {len(gpus)}."
            )
        threads = threads or max(1, cores // concurrency)
        return concurrency, threads, gpus
    if concurrency is None:
        threads = threads or 1
        concurrency = max(1, min(n_runs, cores // threads))
    else:
        threads = threads or max(1, cores // concurrency)
    return concurrency, threads, []


class LocalExecutor:
    """Child processes on this machine, ``concurrency`` at a time, ``threads`` CPU threads each."""

    name = "local"

    def __init__(self, concurrency: int, threads: int, gpus: Optional[list[str]] = None):
        self.concurrency, self.threads, self.gpus = concurrency, threads, list(gpus or [])

    def describe(self) -> str:
        where = f", one GPU each ({', '.join(self.gpus)})" if self.gpus else ""
        return f"local: {self.concurrency} run(s) at a time, {self.threads} thread(s) each{where}"

    def execute(self, tasks: list[RunTask], on_tick: Callable[[], None]) -> list[dict]:
        stop = threading.Event()
        free_gpus = list(self.gpus)
        lock = threading.Lock()

        def work(task: RunTask) -> dict:
            gpu = None
            if free_gpus:
                with lock:
                    gpu = free_gpus.pop(0)
            try:
                return run_point(replace(task, threads=self.threads, gpu=gpu), stop=stop)
            finally:
                if gpu is not None:
                    with lock:
                        free_gpus.append(gpu)

        outcomes: list[dict] = []
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sweep-run")
        pending = {pool.submit(work, task) for task in tasks}
        try:
            while pending:
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                outcomes += [future.result() for future in done]
                on_tick()
        except KeyboardInterrupt:
            stop.set()  # each running run_point sends its child one SIGINT: checkpoint, then exit
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)
            outcomes += [f.result() for f in pending if f.done() and not f.cancelled()]
            raise SweepInterrupted(outcomes) from None
        pool.shutdown(wait=True)
        return outcomes


class RayExecutor:
    """Ray tasks: one per run, each holding ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs.

    ``address`` None starts a Ray instance on this machine; otherwise it joins that cluster (``auto``,
    ``HOST:PORT`` or ``ray://HOST:10001``). The sweep folder and the Python environment must be visible at
    the same paths on every node."""

    name = "ray"

    def __init__(self, address: Optional[str] = None, cpus_per_run: float = 1, gpus_per_run: Optional[float] = None):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise NerfplexError("--executor ray needs Ray: pip install 'nerfplex[ray]' (or pip install ray).") from None
        self.address, self.cpus, self.gpus = address, cpus_per_run, gpus_per_run

    def describe(self) -> str:
        where = self.address or "a local Ray instance"
        gpus = "GPUs if the cluster has any" if self.gpus is None else f"{self.gpus:g} GPU(s)"
        return f"ray: {where}, {self.cpus:g} CPU(s) and {gpus} per run"

    def _resources(self, ray) -> tuple[float, float]:
        """(CPUs, GPUs) per run, checked against the cluster (a run no node can hold would wait forever)."""
        total = ray.cluster_resources()
        gpus = self.gpus if self.gpus is not None else (1.0 if total.get("GPU", 0) > 0 else 0.0)
        for name, need in (("CPU", self.cpus), ("GPU", gpus)):
            if need > total.get(name, 0):
                raise NerfplexError(
                    f"each run asks for {need:g} {name}(s) but the Ray cluster has "
                    f"{total.get(name, 0):g}. Lower --{name.lower()}s-per-run."
                )
        return self.cpus, gpus

    def execute(self, tasks: list[RunTask], on_tick: Callable[[], None]) -> list[dict]:
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            kwargs = {"address": self.address} if self.address else {"include_dashboard": False}
            ray.init(log_to_driver=False, **kwargs)
        try:
            cpus, gpus = self._resources(ray)
            threads = max(1, int(cpus))
            remote = ray.remote(
                num_cpus=cpus, num_gpus=gpus, max_retries=max(t.retries for t in tasks) if tasks else 0
            )(run_point)
            refs = {remote.remote(replace(task, threads=threads)): task for task in tasks}
            pending, outcomes = list(refs), []
            try:
                while pending:
                    done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                    for ref in done:
                        outcomes.append(self._outcome(ray, ref, refs[ref]))
                    on_tick()
            except KeyboardInterrupt:
                # every run_point, on any node, sees the stop file: one SIGINT to its child, which
                # checkpoints and exits; runs not started yet return at once
                write_text_atomic(stop_requested(Path(tasks[0].sweep_dir)), "stop requested by Ctrl-C\n")
                for ref in pending:
                    try:
                        outcomes.append(self._outcome(ray, ref, refs[ref], timeout=600))
                    except Exception:  # noqa: BLE001 - cancelled tasks raise; their state files say why
                        pass
                raise SweepInterrupted(outcomes) from None
            return outcomes
        finally:
            if started_here:
                ray.shutdown()

    @staticmethod
    def _outcome(ray, ref, task: RunTask, timeout: Optional[float] = None) -> dict:
        try:
            return ray.get(ref, timeout=timeout)
        except ray.exceptions.TaskCancelledError:
            return {"run_id": task.run_id, "status": "interrupted", "attempts": 0, "error": None}
        except ray.exceptions.RayError as err:
            return {
                "run_id": task.run_id,
                "status": "failed",
                "attempts": 0,
                "error": f"Ray task failed: {str(err).strip().splitlines()[-1] if str(err).strip() else err}",
            }
