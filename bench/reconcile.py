"""Benchmarks of the reconciler, one JSON line per metric: {"metric", "value", "unit"}.

Run from the project root: python bench/reconcile.py

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contivctl.reconcile import Reconciler
from contivctl.testing.memory import MemoryDataplane, MemoryDescriptor, Thing

PARENTS = 1_000
CHILDREN = 99


def emit(metric: str, value: float, unit: str) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), "unit": unit}), flush=True)


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


async def main() -> None:
    # applying 10,000 creates
    _, r = world()
    small = desired_state(100, 99)
    t0 = time.perf_counter()
    rec = await r.apply(small)
    elapsed = time.perf_counter() - t0
    assert len(rec.plan) == 10_000 and all(o.outcome == "ok" for o in rec.ops)
    emit("apply_10k_creates", elapsed, "s")
    emit("apply_10k_creates_rate", 10_000 / elapsed, "ops/s")

    # 100,000 configured items
    dp, r = world()
    desired = desired_state(PARENTS, CHILDREN)
    assert len(desired) == 100_000
    t0 = time.perf_counter()
    await r.apply(desired)
    emit("apply_100k_creates", time.perf_counter() - t0, "s")
    assert len(dp.items) == 100_000

    # planning a 1-item change on top of them: update, add, remove, touching a parent
    changes = [
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

    # full resync of 100,000 items with nothing changed: retrieve, diff, plan nothing
    current = dict(r.desired())
    gc.collect()
    samples = []
    for _ in range(3):
        t0 = time.perf_counter()
        rec = await r.resync_full(current)
        samples.append(time.perf_counter() - t0)
        assert rec.plan == ()
    emit("full_resync_nochange_100k", min(samples), "s")
    samples = []
    for _ in range(3):
        t0 = time.perf_counter()
        plan = r.plan(current, replace=True)
        samples.append(time.perf_counter() - t0)
        assert not plan
    emit("full_diff_nochange_100k", min(samples), "s")


if __name__ == "__main__":
    asyncio.run(main())
