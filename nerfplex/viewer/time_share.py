"""One model, two users: training and the viewer's renders take turns, renders for a bounded share.

:class:`TimeShare` owns the lock that guards the model. While a trainer is attached, its thread holds
the lock all the time, and renders are *run by the training thread itself*, between two steps: the
render thread hands a slice of work (:meth:`TimeShare.run_slice`) over and waits for its result. So
a render never interleaves with a step, and only one thread ever drives torch while training runs (on a
CPU, two threads each with their own OpenMP team slow each other down many times over).

After each step the trainer runs at most one waiting slice, when the render *credit* allows it. The
credit grows by ``step_seconds · share / (1 - share)`` per step (capped at ``max_credit`` seconds) and
shrinks by the seconds each slice took, so over any stretch of steps renders take at most ``share`` of
the wall-clock time. A *priority* slice (the quick frame after a camera move) may run the credit into
debt (down to ``-max_credit``), repaid by the next steps, so the page answers a move within about one
step. With no trainer attached (paused, finished, ``nerfplex view``) the render thread runs its slices
itself, under the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

T = TypeVar("T")


class SliceCancelled(Exception):
    """A render slice was withdrawn before it ran."""


@dataclass
class _Ticket:
    """A slice of render work waiting for the training thread."""

    work: Callable[[], Any]
    priority: bool
    done: bool = False
    result: Any = None
    error: Optional[BaseException] = None


class TimeShare:
    """The model's lock and the turn-taking between a training thread and a render thread."""

    def __init__(self, share: float, max_credit: float = 1.0):
        self.share = share
        self.max_credit = max_credit
        self.lock = threading.Lock()  # held while the model is used: by the trainer while attached
        self._cond = threading.Condition()
        self._credit = 0.0
        self._trainer_holds = False
        self._queue: list[_Ticket] = []
        self.render_seconds = 0.0  # total seconds of slices the training thread ran (statistics)

    @property
    def credit(self) -> float:
        return self._credit

    # ------------------------------------------------------------ training thread
    def attach_trainer(self) -> None:
        """The training thread takes the model (before its first step, or when it resumes): slices
        submitted from now on wait for it; a slice the render thread runs itself finishes first."""
        with self._cond:
            self._trainer_holds = True
        self.lock.acquire()

    def detach_trainer(self) -> None:
        """The training thread gives the model up (paused, finished or stopped); waiting slices are
        then run by the render thread."""
        with self._cond:
            self._trainer_holds = False
            self._cond.notify_all()
        self.lock.release()

    def lend(self, step_seconds: float) -> float:
        """After a step of ``step_seconds``: earn credit and, when a slice waits and may run, run it here
        (in the training thread). Returns the seconds it took (0 when none ran)."""
        with self._cond:
            gain = step_seconds * self.share / max(1.0 - self.share, 1e-6)
            self._credit = min(self._credit + gain, self.max_credit)
            if not self._queue:
                return 0.0
            ticket = next((t for t in self._queue if t.priority), self._queue[0])
            if self._credit <= (-self.max_credit if ticket.priority else 0.0):
                return 0.0
            self._queue.remove(ticket)
        start = time.perf_counter()
        try:
            ticket.result = ticket.work()
        except Exception as err:  # the render thread reports it
            ticket.error = err
        spent = time.perf_counter() - start
        with self._cond:
            self._credit -= spent
            self.render_seconds += spent
            ticket.done = True
            self._cond.notify_all()
        return spent

    # ------------------------------------------------------------ render thread
    def run_slice(
        self, work: Callable[[], T], priority: bool = False, cancelled: Optional[Callable[[], bool]] = None
    ) -> T:
        """Run ``work`` (a render slice) with the model held: by the training thread at its next turn
        while a trainer is attached, else here under the lock. ``priority`` slices may borrow credit.
        Raises :class:`SliceCancelled` when ``cancelled()`` turns true while the slice still waits (the
        camera moved: the render thread has a quicker frame to ask for)."""
        while True:
            with self._cond:
                if self._trainer_holds:
                    ticket = _Ticket(work, priority)
                    self._queue.append(ticket)
                    while not ticket.done and self._trainer_holds:
                        self._cond.wait(timeout=0.02 if cancelled else None)
                        # Withdraw it only while it waits: once the trainer took it, it runs to the end.
                        if ticket in self._queue and cancelled is not None and cancelled():
                            self._queue.remove(ticket)
                            raise SliceCancelled
                    if ticket.done:
                        if ticket.error is not None:
                            raise ticket.error
                        return ticket.result
                    self._queue.remove(ticket)  # the trainer let go (paused, finished) first
                    continue
            if self.lock.acquire(timeout=0.05):
                try:
                    return work()
                finally:
                    self.lock.release()

    def slice_budget(self, limit: float) -> float:
        """Seconds the next slice may take: while training, the credit (at least a little), at most
        ``limit``; without training, ``limit``."""
        if not self._trainer_holds:
            return limit
        return min(max(self._credit, 0.02), limit)
