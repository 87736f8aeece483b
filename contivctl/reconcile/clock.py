"""Time, injectable: retries are scheduled on a Clock so tests can move time by hand.

`LoopClock` is the real one (the running event loop's monotonic time);
`ManualClock` only moves when `advance` is called, firing due callbacks in
order, so a backoff of minutes costs a test nothing.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Protocol

import attrs


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...


class LoopClock:
    """The running event loop's clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback)


@attrs.define(eq=False)
class _ManualTimer:
    when: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that stands still until told to advance."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _ManualTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        t = _ManualTimer(self._now + max(0.0, delay), callback)
        heapq.heappush(self._timers, (t.when, next(self._seq), t))
        return t

    def next_deadline(self) -> float | None:
        """When the earliest live timer fires, or None."""
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due, in order."""
        end = self._now + seconds
        while True:
            when = self.next_deadline()
            if when is None or when > end:
                break
            _, _, t = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            t.callback()
        self._now = end
