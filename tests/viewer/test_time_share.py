"""Turn-taking between a training thread and a render thread (nerfplex/viewer/time_share.py)."""

from __future__ import annotations

import threading
import time

from nerfplex.viewer.time_share import TimeShare


def _train(share: TimeShare, seconds: float, step: float, steps: list[int]) -> None:
    share.attach_trainer()
    end = time.perf_counter() + seconds
    try:
        while time.perf_counter() < end:
            time.sleep(step)  # a "training step" while holding the model
            steps[0] += 1
            share.lend(step)
    finally:
        share.detach_trainer()


def test_renders_take_at_most_their_share_of_the_time():
    share = TimeShare(0.25, max_credit=0.1)
    steps, stop = [0], threading.Event()

    def render():
        while not stop.is_set():
            budget = share.slice_budget(0.05)
            share.run_slice(lambda budget=budget: time.sleep(budget))

    renderer = threading.Thread(target=render)
    renderer.start()
    start = time.perf_counter()
    _train(share, 1.2, 0.01, steps)  # attached while the renderer already runs: it must not starve
    total = time.perf_counter() - start
    stop.set()
    renderer.join(timeout=5)
    assert 0.1 * total < share.render_seconds <= 0.25 * total + 0.1  # the cap plus one credit's worth
    assert steps[0] > 40


def test_lending_costs_nothing_without_a_waiting_render():
    share = TimeShare(0.5)
    share.attach_trainer()
    start = time.perf_counter()
    for _ in range(10000):
        assert share.lend(0.01) == 0.0
    assert time.perf_counter() - start < 0.5
    share.detach_trainer()


def test_priority_slice_runs_after_one_step_even_in_debt_and_waits_for_it():
    share = TimeShare(0.1, max_credit=1.0)
    share._credit = -0.5  # repaying an earlier frame
    share.attach_trainer()
    ran = threading.Event()
    threads = []

    def quick_frame():
        share.run_slice(lambda: (ran.set(), threads.append(threading.current_thread())), priority=True)

    renderer = threading.Thread(target=quick_frame)
    renderer.start()
    time.sleep(0.1)
    assert not ran.is_set()  # the trainer holds the model between its turns
    assert share.lend(0.01) > 0  # the next step end runs it, in the training thread
    assert ran.is_set() and threads == [threading.current_thread()]
    renderer.join(timeout=5)
    share.detach_trainer()


def test_without_a_trainer_renders_run_at_once():
    share = TimeShare(0.2)
    assert share.run_slice(lambda: share.lock.locked())
    assert not share.lock.locked()


def test_slices_waiting_when_training_pauses_run_in_the_render_thread():
    share = TimeShare(0.2)
    share.attach_trainer()
    result = []
    renderer = threading.Thread(target=lambda: result.append(share.run_slice(lambda: 42)))
    renderer.start()
    time.sleep(0.1)
    assert not result
    share.detach_trainer()  # pause
    renderer.join(timeout=5)
    assert result == [42]


def test_a_waiting_slice_can_be_withdrawn():
    from nerfplex.viewer.time_share import SliceCancelled

    share = TimeShare(0.2)
    share.attach_trainer()
    moved = threading.Event()
    outcome = []

    def band():
        try:
            share.run_slice(lambda: outcome.append("ran"), cancelled=moved.is_set)
        except SliceCancelled:
            outcome.append("cancelled")

    renderer = threading.Thread(target=band)
    renderer.start()
    time.sleep(0.1)
    moved.set()
    renderer.join(timeout=5)
    assert outcome == ["cancelled"] and share.lend(1.0) == 0.0  # nothing left to run
    share.detach_trainer()


def test_a_slice_the_trainer_already_runs_is_not_withdrawn_but_finishes():
    """The camera moves while the training thread runs the slice: the render thread waits for its end
    (it used to try to take it out of the queue and fail)."""
    from nerfplex.viewer.time_share import SliceCancelled

    share = TimeShare(0.5)
    share.attach_trainer()
    running, moved, outcome = threading.Event(), threading.Event(), []

    def work():
        running.set()
        moved.wait(timeout=5)
        time.sleep(0.1)  # the render thread polls `cancelled` meanwhile
        return "ran"

    def band():
        try:
            outcome.append(share.run_slice(work, cancelled=moved.is_set))
        except SliceCancelled:
            outcome.append("cancelled")
        except Exception as err:  # noqa: BLE001 - the failure this test is about
            outcome.append(repr(err))

    renderer = threading.Thread(target=band)
    renderer.start()
    while not share._queue:
        time.sleep(0.005)
    trainer = threading.Thread(target=lambda: share.lend(1.0))
    trainer.start()
    running.wait(timeout=5)
    moved.set()
    trainer.join(timeout=5)
    renderer.join(timeout=5)
    assert outcome == ["ran"]
    share.detach_trainer()
