"""Benchmarks of the reconciler, one JSON line per metric: {"metric", "value", "unit"}.

Run from the project root: python bench/reconcile.py [RUNS]

Applying 10,000 and 100,000 creates is repeated RUNS times (3 by default),
alternately, each into a fresh reconciler; the ratio of the two is what
shows whether the apply path stays linear (10 is linear). CPU time is
reported beside wall time: on a shared machine it is the steadier figure.

The item graph looks like a node's: 1,000 parents ("interfaces") with 99
dependents each (routes, addresses...), a fifth of which also depend on
"any parent" through a prefix. The in-memory dataplane runs unchecked and
without yielding, so the figures are the reconciler's own cost.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contivctl.reconcile import Reconciler
from contivctl.testing.memory import MemoryDataplane, MemoryDescriptor, Thing

PARENTS = 1_000
CHILDREN = 99


def emit(metric: str, value: float, unit: str) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), "unit": unit}), flush=True)


def line(metric: str, small: list[float], big: list[float], **more: Any) -> None:
    """Seconds for 10,000 and for 100,000 items: medians, ranges, and their ratio."""
    fields: dict[str, Any] = {"metric": metric, "unit": "s", **more, "10k": spread(small), "100k": spread(big)}
    print(json.dumps(fields | ratio(big, small)), flush=True)


def emit_spread(metric: str, samples: list[float], unit: str) -> None:
    line = {"metric": metric, "value": round(statistics.median(samples), 4), "unit": unit}
    print(json.dumps(line | {"range": [round(min(samples), 4), round(max(samples), 4)]}), flush=True)


def world() -> tuple[MemoryDataplane, Reconciler]:
    dp = MemoryDataplane(strict=False, yields=0)
    descriptors = [MemoryDescriptor("p/", dp), MemoryDescriptor("c/", dp)]
    return dp, Reconciler(descriptors, max_concurrency=8, history=100)


def desired_state(parents: int, children: int) -> dict[str, Thing]:
    desired: dict[str, Thing] = {}
    for i in range(parents):
        desired[f"p/if-{i:05d}"] = Thing(f"parent {i}")
        for j in range(children):
            any_parent = ("p/",) if j % 5 == 0 else ()
            desired[f"c/if-{i:05d}/{j:03d}"] = Thing(f"child {j}", needs=(f"p/if-{i:05d}",), needs_any=any_parent)
    return desired


def spread(samples: list[float], scale: float = 1.0) -> dict[str, float | list[float]]:
    return {
        "median": round(statistics.median(samples) * scale, 4),
        "range": [round(min(samples) * scale, 4), round(max(samples) * scale, 4)],
    }


def ratio(big: list[float], small: list[float]) -> dict[str, float | list[float]]:
    return {
        "ratio_100k_to_10k": round(statistics.median(big) / statistics.median(small), 2),
        "ratio_range": [round(min(big) / max(small), 2), round(max(big) / min(small), 2)],
    }


class CollectorClock:
    """CPU seconds the cyclic garbage collector ran while `running` is set."""

    def __init__(self) -> None:
        self.running = False
        self.seconds = 0.0
        self._t0 = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if not self.running:
            return
        if phase == "start":
            self._t0 = time.process_time()
        else:
            self.seconds += time.process_time() - self._t0


COLLECTOR = CollectorClock()


async def timed_apply(parents: int) -> tuple[MemoryDataplane, Reconciler, dict[str, float]]:
    """A fresh reconciler applying `parents` * 100 creates: wall, CPU and collector seconds."""
    dp, r = world()
    desired = desired_state(parents, CHILDREN)
    gc.collect()
    COLLECTOR.seconds = 0.0
    COLLECTOR.running = True
    t0, c0 = time.perf_counter(), time.process_time()
    rec = await r.apply(desired)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    COLLECTOR.running = False
    assert len(rec.plan) == len(desired) and all(o.outcome == "ok" for o in rec.ops)
    assert len(dp.items) == len(desired)
    return dp, r, {"wall": wall, "cpu": cpu, "gc": COLLECTOR.seconds}


@attrs.frozen
class _Obj:
    a: object
    b: object
    c: object


def control(n: int) -> dict[str, float]:
    """CPU seconds of work linear by construction, on as many items: the machine's own ratio.

    Three passes over `n` keys, each a dictionary lookup or two and a new
    frozen object per key, in insertion order, the garbage collector on as
    in the applies. Its 100k/10k ratio is what memory, caches and the
    collector make of ten times the objects here, whatever the algorithm.
    """
    keys = [f"c/if-{i // CHILDREN:05d}/{i % CHILDREN:03d}" for i in range(n)]
    gc.collect()
    COLLECTOR.seconds = 0.0
    COLLECTOR.running = True
    c0 = time.process_time()
    first = {k: _Obj(k, i, None) for i, k in enumerate(keys)}
    second = {k: _Obj(first[k], k, (k,)) for k in keys}
    third = {k: _Obj(second[k], first.get(k), second[k].c) for k in keys}
    cpu = time.process_time() - c0
    COLLECTOR.running = False
    assert len(third) == n
    return {"cpu": cpu, "gc": COLLECTOR.seconds}


async def on_100k(r: Reconciler) -> None:
    """Small changes and no-change resyncs on top of 100,000 configured items."""
    # planning a 1-item change on top of them: update, add, remove, touching a parent
    changes: list[dict[str, Thing | None]] = [
        {"c/if-00500/050": Thing("changed", needs=("p/if-00500",))},
        {"c/if-00500/new": Thing("new", needs=("p/if-00500",), needs_any=("p/",))},
        {"c/if-00500/051": None},
        {"p/if-00500": Thing("changed parent")},
        {"p/if-new": Thing("new parent")},
    ]
    gc.collect()
    samples = []
    for _ in range(200):
        for change in changes:
            t0 = time.perf_counter()
            plan = r.plan(change)
            samples.append(time.perf_counter() - t0)
            assert len(plan) == 1
    emit("plan_1_change_on_100k", statistics.median(samples) * 1e3, "ms")
    emit("plan_1_change_on_100k_p99", statistics.quantiles(samples, n=100)[98] * 1e3, "ms")

    # the same, applied (plan, execute, record), back and forth
    samples = []
    for i in range(200):
        value = Thing(f"v{i}", needs=("p/if-00500",))
        t0 = time.perf_counter()
        rec = await r.apply({"c/if-00500/050": value})
        samples.append(time.perf_counter() - t0)
        assert len(rec.plan) == 1
    emit("apply_1_change_on_100k", statistics.median(samples) * 1e3, "ms")

    # full resync of 100,000 items with nothing changed: retrieve, diff, plan nothing. Each one
    # leaves 100,000 retrieved values to collect, so runs alternate with and without a full
    # collection: the median of several says more than the best one.
    current = dict(r.desired())
    gc.collect()
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        rec = await r.resync_full(current)
        samples.append(time.perf_counter() - t0)
        assert rec.plan == ()
    emit_spread("full_resync_nochange_100k", samples, "s")
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        plan = r.plan(current, replace=True)
        samples.append(time.perf_counter() - t0)
        assert not plan
    emit_spread("full_diff_nochange_100k", samples, "s")


async def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    applies: dict[int, list[dict[str, float]]] = {100: [], PARENTS: []}
    # First 10,000 then 100,000 creates in a fresh process, and the small changes on the latter, as
    # always; then more of both, alternately, so that both see the same machine.
    made: tuple[MemoryDataplane, Reconciler, dict[str, float]] | None = None
    for run in range(runs):
        for parents in (100, PARENTS):
            made = None  # the previous world goes before the next is timed
            made = await timed_apply(parents)
            applies[parents].append(made[2])
        if run == 0:
            assert made is not None and len(made[0].items) == 100_000
            await on_100k(made[1])
    made = None
    controls: dict[int, list[dict[str, float]]] = {10_000: [], 100_000: []}
    for _ in range(runs):
        for n in controls:
            controls[n].append(control(n))
    small, big = applies[100], applies[PARENTS]
    emit("apply_10k_creates", statistics.median(s["wall"] for s in small), "s")
    emit("apply_10k_creates_rate", 10_000 / statistics.median(s["wall"] for s in small), "ops/s")
    emit("apply_100k_creates", statistics.median(s["wall"] for s in big), "s")
    for label in ("wall", "cpu"):
        # linear is 10; the target is at most 10.5
        line(f"apply_creates_{label}", [s[label] for s in small], [s[label] for s in big], runs=runs)
    line("apply_creates_collector", [s["gc"] for s in small], [s["gc"] for s in big])
    line(
        "apply_creates_cpu_less_collector",
        [s["cpu"] - s["gc"] for s in small],
        [s["cpu"] - s["gc"] for s in big],
    )
    few, many = controls[10_000], controls[100_000]
    line("control_linear_work_cpu", [s["cpu"] for s in few], [s["cpu"] for s in many])
    line(
        "control_linear_work_cpu_less_collector",
        [s["cpu"] - s["gc"] for s in few],
        [s["cpu"] - s["gc"] for s in many],
    )


if __name__ == "__main__":
    asyncio.run(main())
