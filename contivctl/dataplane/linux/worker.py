"""A thread that runs blocking jobs in order and hands their results back to the event loop in batches.

Wiring one pod takes about ten netlink jobs, most of which keep the kernel
busy for tens of microseconds. Sending each through a ThreadPoolExecutor
cost more than that on the event loop (a concurrent future per job, chained
to an asyncio future, and a wake-up of the loop per result). Here a job is
a plain tuple on a ``SimpleQueue``, and the thread delivers the results of
all the jobs it found queued with one wake-up of the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

#: the longest a finished job's result waits for those of the jobs queued behind it
MAX_HOLD = 0.0005

#: a job; one posted without an awaiter has neither loop nor future
_Job = tuple[asyncio.AbstractEventLoop | None, "asyncio.Future[Any] | None", Callable[[], Any]]
_Done = tuple["asyncio.Future[Any]", Any, BaseException | None]


def _deliver(done: list[_Done]) -> None:
    for fut, result, error in done:
        if fut.done():
            continue  # its awaiter was cancelled; the job ran anyway
        if error is None:
            fut.set_result(result)
        else:
            fut.set_exception(error)


def _send(loop: asyncio.AbstractEventLoop, done: list[_Done]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile: nobody waits any more
        loop.call_soon_threadsafe(_deliver, done)


class Worker:
    """One daemon thread, started on first use; jobs run one at a time in the order submitted."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
                self._thread.start()

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the thread; its exceptions are raised here."""
        if self._thread is None:
            self._start()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, fut, fn))
        return await fut

    def post(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the thread after the jobs queued before it, without waiting for it.

        Nothing comes back to the event loop, so the loop is not woken for
        it: for housekeeping nobody awaits (an error is logged). A thread
        that was never started has run nothing, so there is nothing to do.
        """
        if self._thread is not None:
            self._jobs.put((None, None, fn))

    def _main(self) -> None:
        jobs = self._jobs
        while True:
            pending: dict[asyncio.AbstractEventLoop, list[_Done]] = {}
            job: _Job | None = jobs.get()
            first_done = 0.0
            while job is not None:
                loop, fut, fn = job
                if loop is None or fut is None:
                    try:
                        fn()
                    except Exception:
                        log.exception("%s: a posted job failed", self.name)
                else:
                    try:
                        done: _Done = (fut, fn(), None)
                    except BaseException as exc:  # handed to the awaiting task, whatever it is
                        done = (fut, None, exc)
                    pending.setdefault(loop, []).append(done)
                now = time.monotonic()
                first_done = first_done or now
                if now - first_done > MAX_HOLD:
                    break
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    job = None
            for loop, finished in pending.items():
                _send(loop, finished)
