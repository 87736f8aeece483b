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


def spread(samples: list[float]) -> dict[str, float | list[float]]:
    return {
        "median": round(statistics.median(samples), 4),
        "range": [round(min(samples), 4), round(max(samples), 4)],
    }


async def timed_apply(parents: int) -> tuple[MemoryDataplane, Reconciler, float, float]:
    """A fresh reconciler applying `parents` * 100 creates: wall and CPU seconds."""
    dp, r = world()
    desired = desired_state(parents, CHILDREN)
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    rec = await r.apply(desired)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert len(rec.plan) == len(desired) and all(o.outcome == "ok" for o in rec.ops)
    assert len(dp.items) == len(desired)
    return dp, r, wall, cpu


async def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    # applying 10,000 and 100,000 creates, alternately, so that both see the same machine
    walls: dict[int, list[float]] = {100: [], PARENTS: []}
    cpus: dict[int, list[float]] = {100: [], PARENTS: []}
    last: tuple[MemoryDataplane, Reconciler, float, float] | None = None
    for _ in range(runs):
        for parents in (100, PARENTS):
            last = None  # the previous world goes before the next is timed
            last = await timed_apply(parents)
            walls[parents].append(last[2])
            cpus[parents].append(last[3])
    assert last is not None
    dp, r, _, _ = last
    small_wall, big_wall = walls[100], walls[PARENTS]
    emit("apply_10k_creates", statistics.median(small_wall), "s")
    emit("apply_10k_creates_rate", 10_000 / statistics.median(small_wall), "ops/s")
    emit("apply_100k_creates", statistics.median(big_wall), "s")
    for label, samples in (("wall", walls), ("cpu", cpus)):
        small, big = samples[100], samples[PARENTS]
        print(
            json.dumps(
                {
                    "metric": f"apply_creates_{label}",
                    "unit": "s",
                    "runs": runs,
                    "10k": spread(small),
                    "100k": spread(big),
                    # linear would be 10; the target is at most 10.5
                    "ratio_100k_to_10k": round(statistics.median(big) / statistics.median(small), 2),
                    "ratio_range": [round(min(big) / max(small), 2), round(max(big) / min(small), 2)],
                }
            ),
            flush=True,
        )
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
