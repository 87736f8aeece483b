"""Shared helpers: an in-memory southbound with three kinds, and an independent oracle.

The oracle computes, without the reconciler's code, what must exist for a
desired state: the least set of items whose dependencies are all met,
starting from what exists of the dataplane's own.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from contivctl.reconcile import ItemState, ManualClock, Reconciler, RetryPolicy
from contivctl.testing.memory import MemoryDataplane, MemoryDescriptor, Thing


@attrs.define
class World:
    dp: MemoryDataplane
    clock: ManualClock
    descriptors: dict[str, MemoryDescriptor]

    def reconciler(self, **kw: object) -> Reconciler:
        kw.setdefault("max_concurrency", 4)
        kw.setdefault("retry", RetryPolicy(initial=1.0, factor=2.0, max_delay=8.0))
        return Reconciler(self.descriptors.values(), clock=self.clock, **kw)  # type: ignore[arg-type]


def make_world(normalise: bool = True) -> World:
    dp = MemoryDataplane(normalise=normalise)
    descriptors = {
        "a/": MemoryDescriptor("a/", dp),
        "b/": MemoryDescriptor("b/", dp, updatable=False),
        "p/": MemoryDescriptor("p/", dp),
        "d/": MemoryDescriptor("d/", dp, retrieve_after=("a/", "b/")),
    }
    return World(dp, ManualClock(), descriptors)


def expand(desired: Mapping[str, Thing]) -> dict[str, Thing]:
    """Desired items with their derived ones, as the memory descriptor derives them."""
    out: dict[str, Thing] = {}

    def put(key: str, value: Thing) -> None:
        out[key] = value
        for ck, cv in value.derives:
            put(ck, attrs.evolve(cv, parent=key))

    for k, v in desired.items():
        put(k, v)
    return out


def expected_dataplane(desired: Mapping[str, Thing], foreign: Mapping[str, Thing]) -> dict[str, Thing]:
    """What must exist: foreign items plus the least fixpoint of satisfiable desired items."""
    items = expand(desired)
    exists: dict[str, Thing] = dict(foreign)
    changed = True
    while changed:
        changed = False
        for k, v in items.items():
            if k in exists:
                continue
            ok = all(
                any(d.matches(o) and o != k for o in exists) if d.prefix else d.target in exists
                for d in v.dependencies()
            )
            if ok:
                exists[k] = v
                changed = True
    return exists


def same(a: Thing, b: Thing) -> bool:
    return attrs.evolve(a, fill=None) == attrs.evolve(b, fill=None)


def assert_converged(
    r: Reconciler, dp: MemoryDataplane, desired: Mapping[str, Thing], foreign: Mapping[str, Thing]
) -> None:
    """actual == desired except PENDING items, and every status says so."""
    want = expected_dataplane(desired, foreign)
    actual = dp.values()
    assert sorted(actual) == sorted(want)
    for k, v in want.items():
        assert same(actual[k], v), k
    items = expand(desired)
    for k in items:
        st = r.state(k)
        assert st is not None, k
        if k in want:
            assert st.state is ItemState.CONFIGURED, (k, st)
        else:
            assert st.state is ItemState.PENDING, (k, st)
            assert st.waiting_for
    assert set(r.states()) == set(items)
    assert dp.violations == []


async def run_retries(r: Reconciler, clock: ManualClock, limit: int = 100) -> int:
    """Let time pass until no retry is scheduled; returns how many timers fired."""
    fired = 0
    while (when := clock.next_deadline()) is not None:
        assert fired < limit, "retries never stop"
        clock.advance(when - clock.now())
        fired += 1
        await r.drain()
    return fired
