"""The loop-lag monitor: how late the event loop runs, per second, and when it last turned."""

from __future__ import annotations

import asyncio
import time

from contivctl.agent.looplag import LoopLag


def test_worst_lateness_is_kept_per_second_and_overall() -> None:
    lag = LoopLag(windows=2)
    lag.record(0.001)
    lag.record(0.030)
    lag.record(-0.5)  # a timer woken early is not late
    data = lag.to_data()
    assert data["maxLagSeconds"] == 0.03 and data["lastLagSeconds"] == 0.0
    assert [w["maxLagSeconds"] for w in data["recent"]] == [0.03]  # type: ignore[attr-defined]


def test_only_the_last_windows_are_kept() -> None:
    lag = LoopLag(windows=2)
    for second in (100, 101, 102):
        lag.recent[second] = 0.0
        while len(lag.recent) > 2:
            lag.recent.popitem(last=False)
    lag.record(0.5)
    assert len(lag.recent) == 2 and lag.max_lag == 0.5


async def test_a_blocked_loop_is_seen() -> None:
    lag = LoopLag(interval=0.005)
    lag.start()
    try:
        while lag.last_turn == 0 or (lag.max_lag == 0 and lag.last_lag == 0 and len(lag.recent) == 0):
            await asyncio.sleep(0.005)
        time.sleep(0.2)  # holds the loop: what the monitor is there to see
        seen = lag.last_turn
        while lag.last_turn == seen:
            await asyncio.sleep(0.005)
        assert lag.max_lag >= 0.15
    finally:
        await lag.stop()


def test_long_stalls_are_kept_with_when_they_ended() -> None:
    lag = LoopLag()
    before = time.time()
    lag.record(0.001)  # not a stall
    lag.record(0.25)
    (stall,) = lag.to_data()["stalls"]  # type: ignore[misc]
    assert stall["seconds"] == 0.25 and before <= stall["endedAt"] <= time.time()
