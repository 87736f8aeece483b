"""How late the event loop runs: a timer that measures its own lateness.

Everything the agent does runs on one event loop; a piece of work that
holds it (parsing a large file, serialising a large record) delays every
pod waiting behind it. This measures exactly that: a timer asks to be woken
every ``interval`` and records by how much it was late. The worst lateness
is kept per one-second window (the last ``windows`` of them), so a reader
can ask what the loop went through during a given stretch of time, and the
time of the last turn says whether the loop turns at all (a watchdog's
question). The last long stalls are kept with the wall-clock time they
ended: a one-second window cannot say whether a stall in it came before or
after a moment in that second (the end of the start-up, say), a stall's end
and length can.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time

#: how often the timer asks to be woken
INTERVAL = 0.01
#: one-second windows kept
WINDOWS = 300
#: a lateness of at least this much is kept as a stall, with the time it ended
STALL = 0.02
#: stalls kept
STALLS = 100


class LoopLag:
    def __init__(self, interval: float = INTERVAL, windows: int = WINDOWS) -> None:
        self.interval = interval
        #: the worst lateness seen since start, in seconds
        self.max_lag = 0.0
        #: the lateness of the last turn
        self.last_lag = 0.0
        #: wall-clock second → worst lateness in it, oldest first
        self.recent: collections.OrderedDict[int, float] = collections.OrderedDict()
        self._windows = windows
        #: (wall-clock time it ended, seconds) of the last long stalls, oldest first
        self.stalls: collections.deque[tuple[float, float]] = collections.deque(maxlen=STALLS)
        #: monotonic time of the last turn
        self.last_turn = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            self.record(loop.time() - before - self.interval)

    def record(self, lag: float) -> None:
        lag = max(0.0, lag)
        self.last_turn = time.monotonic()
        self.last_lag = lag
        self.max_lag = max(self.max_lag, lag)
        now = time.time()
        if lag >= STALL:
            self.stalls.append((now, lag))
        second = int(now)
        worst = self.recent.get(second)
        if worst is None:
            self.recent[second] = lag
            while len(self.recent) > self._windows:
                self.recent.popitem(last=False)
        elif lag > worst:
            self.recent[second] = lag

    def worst_lately(self, seconds: int = 10) -> float:
        """The worst lateness in the last ``seconds`` one-second windows."""
        since = int(time.time()) - seconds
        return max((lag for second, lag in self.recent.items() if second > since), default=0.0)

    def to_data(self) -> dict[str, object]:
        return {
            "intervalSeconds": self.interval,
            "lastLagSeconds": round(self.last_lag, 6),
            "maxLagSeconds": round(self.max_lag, 6),
            "secondsSinceLastTurn": round(time.monotonic() - self.last_turn, 6),
            "recent": [{"second": s, "maxLagSeconds": round(v, 6)} for s, v in self.recent.items()],
            "stalls": [{"endedAt": round(end, 6), "seconds": round(lag, 6)} for end, lag in self.stalls],
        }
