"""What readiness and liveness tell, so that both say the truth.

Readiness: a node whose last full resync (the startup's, or the one after
VPP restarted) left items failed is not ready, however connected it is —
pods scheduled to it would meet a vswitch without its base config. The
reason names those items, so ``kubectl describe pod`` says what to look at;
the node is ready again as soon as they are healed (a retry succeeded, or
they are no longer desired).

Liveness: a process whose event loop no longer turns answers nothing, yet
the kernel still accepts its connections, so a probe served on that loop
would time out without saying why, and one that is answered at all says
nothing. The watchdog looks at the time of the loop's last turn
(``LoopLag.last_turn``) from a thread of its own, logs where the loop is
stuck once per episode, and answers the liveness probe from outside the
loop (``rest.py`` serves ``/liveness`` from a thread).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback

from contivctl.agent.looplag import LoopLag
from contivctl.controller import Controller
from contivctl.reconcile import ItemState, Reconciler

log = logging.getLogger(__name__)

_UNHEALTHY = (ItemState.FAILED, ItemState.RETRYING)
#: items a readiness reason names at the most (the rest are counted)
NAMED_ITEMS = 3


class ResyncHealth:
    """Which items the last full resync left failed that still are."""

    def __init__(self, controller: Controller, reconciler: Reconciler) -> None:
        self._controller = controller
        self._reconciler = reconciler
        #: (record seq, the keys it left failed): a record of tens of thousands of states is read once
        self._failed: tuple[int, tuple[str, ...]] = (0, ())

    def _left_failed(self) -> tuple[str, ...]:
        record = self._controller.last_full_resync
        if record is None:
            return ()
        seq, keys = self._failed
        if seq != record.seq:
            keys = tuple(sorted(k for k, s in record.states.items() if s.state in _UNHEALTHY))
            self._failed = (record.seq, keys)
        return keys

    def unhealed(self) -> dict[str, str]:
        """Key → error of each item the last full resync left failed and still failed or being retried."""
        out: dict[str, str] = {}
        for key in self._left_failed():
            status = self._reconciler.state(key)
            if status is not None and status.state in _UNHEALTHY:
                out[key] = status.error or status.state.value
        return out

    def not_ready(self) -> str | None:
        """Why the node is not ready because of items the last full resync left failed, or None."""
        unhealed = self.unhealed()
        if not unhealed:
            return None
        record = self._controller.last_full_resync
        assert record is not None
        # The failures themselves first: an item blocked by one of them says less.
        keys = sorted(unhealed, key=lambda k: (unhealed[k].startswith("Blocked"), k))
        named = "; ".join(f"{k} ({unhealed[k]})" for k in keys[:NAMED_ITEMS])
        more = f"; and {len(keys) - NAMED_ITEMS} more" if len(keys) > NAMED_ITEMS else ""
        return f"{record.trigger} left {len(keys)} items failed: {named}{more} (contivctl txn shows them)"


class Watchdog:
    """Tells whether the event loop has turned within ``limit`` seconds; safe to ask from any thread."""

    def __init__(self, lag: LoopLag, limit: float) -> None:
        self._lag = lag
        self.limit = limit
        #: the thread running the loop (the one that starts the watchdog), whose stack is logged when stuck
        self._loop_thread = threading.get_ident()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def stalled_for(self) -> float:
        """Seconds since the loop last turned (a float read: no lock needed)."""
        return max(0.0, time.monotonic() - self._lag.last_turn)

    def alive(self) -> tuple[bool, str]:
        since = self.stalled_for()
        if since > self.limit:
            return False, f"the event loop has not turned for {since:.1f}s (limit {self.limit:g}s)"
        return True, "alive"

    def start(self) -> None:
        """Watch from a thread: log once per episode where a stuck loop is, and when it turns again.

        Call it from the loop's thread: that is the thread whose stack is logged.
        """
        self._loop_thread = threading.get_ident()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _watch(self) -> None:
        stuck = False
        while not self._stop.wait(min(1.0, self.limit / 4)):
            since = self.stalled_for()
            if since > self.limit and not stuck:
                stuck = True
                log.error("the event loop has not turned for %.1fs; it is at:\n%s", since, self._loop_stack())
            elif since <= self.limit and stuck:
                stuck = False
                log.warning("the event loop turns again")

    def _loop_stack(self) -> str:
        frame = sys._current_frames().get(self._loop_thread)
        return "".join(traceback.format_stack(frame)) if frame is not None else "(the loop's thread is gone)"
