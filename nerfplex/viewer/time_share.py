"""One model, two users: training and the viewer's renders take turns, renders for a bounded share.

:class:`TimeShare` owns the lock that guards the model. While a trainer is attached, its thread holds
the lock all the time (so a training step is never interleaved with a render) and, after each step,
lends the model for one render slice when a render is waiting and the render *credit* allows it. The
credit grows by ``step_seconds · share / (1 - share)`` per step (capped at ``max_credit`` seconds) and
shrinks by the seconds each slice took, so over any stretch of steps renders take at most ``share`` of
the wall-clock time. A *priority* slice (the quick frame after a camera move) may run the credit into
debt (down to ``-max_credit``), repaid by the next steps, so the page answers a move within about one
step. Paused or detached training leaves the model to the renders entirely.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator


class TimeShare:
    """The model's lock and the turn-taking between a training thread and a render thread."""

    def __init__(self, share: float, max_credit: float = 1.0):
        self.share = share
        self.max_credit = max_credit
        self.lock = threading.Lock()  # held while the model is used: training (steps) or a render slice
        self._cond = threading.Condition()
        self._credit = 0.0
        self._trainer_holds = False  # a training thread holds the lock between its turns
        self._turn = False  # the training thread lent the model for one slice
        self._waiting: list[bool] = []  # priority flags of the renders waiting for a turn
        self.render_seconds = 0.0  # total seconds of lent slices (statistics)

    @property
    def credit(self) -> float:
        return self._credit

    # ------------------------------------------------------------ training thread
    def attach_trainer(self) -> None:
        """The training thread takes the model (call before its first step)."""
        self.lock.acquire()
        with self._cond:
            self._trainer_holds = True

    def detach_trainer(self) -> None:
        """The training thread gives the model up (paused, finished or stopped)."""
        with self._cond:
            self._trainer_holds = False
            self._turn = False
            self._cond.notify_all()
        self.lock.release()

    def lend(self, step_seconds: float) -> float:
        """After a step of ``step_seconds``: earn credit and, when a render waits and may run, lend the
        model for one slice and wait for it. Returns the seconds spent lending (0 when no slice ran)."""
        start = time.perf_counter()
        with self._cond:
            gain = step_seconds * self.share / max(1.0 - self.share, 1e-6)
            self._credit = min(self._credit + gain, self.max_credit)
            if not self._may_run():
                return 0.0
            self._turn = True
            self.lock.release()
            self._cond.notify_all()
            while self._turn:
                self._cond.wait()
        self.lock.acquire()
        return time.perf_counter() - start

    def _may_run(self) -> bool:
        if not self._waiting:
            return False
        floor = -self.max_credit if any(self._waiting) else 0.0
        return self._credit > floor

    # ------------------------------------------------------------ render thread
    @contextmanager
    def render_slice(self, priority: bool = False) -> Iterator[None]:
        """Hold the model for one render slice: at once when no trainer holds it, else at the trainer's
        next turn. ``priority`` slices may borrow credit (see the module docstring)."""
        with self._cond:
            self._waiting.append(priority)
            try:
                while self._trainer_holds and not self._turn:
                    self._cond.wait()
            finally:
                self._waiting.remove(priority)
        self.lock.acquire()
        start = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - start
            self.lock.release()
            with self._cond:
                if self._turn:
                    self._credit -= spent
                    self.render_seconds += spent
                    self._turn = False
                    self._cond.notify_all()

    def slice_budget(self, limit: float) -> float:
        """Seconds the next slice may take: the credit, at least a little, at most ``limit``."""
        return min(max(self._credit, 0.02), limit)
