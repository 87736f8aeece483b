"""What a configured item leaves behind for the garbage collector.

At a hundred thousand items the apply is bound by memory, not by
instructions: every object the collector tracks is walked by each full
collection, and a large apply triggers several. So the objects an item
keeps are counted here, without timing: its desired and its existing
entry, its dependencies, its plan and outcome records, nothing per item
besides. A set, a status or a dependency object per item again would
fail this.
"""

from __future__ import annotations

import gc

from reconcile_support import make_world

from contivctl.reconcile import Dependency, ItemState
from contivctl.testing.memory import Thing

PARENTS, CHILDREN = 20, 99
#: Want, its dependencies' tuple, Have, PlannedOp, OpRecord, and the in-memory dataplane's own entry
PER_ITEM = 6.1


def _desired() -> dict[str, Thing]:
    desired: dict[str, Thing] = {}
    for i in range(PARENTS):
        desired[f"p/{i:03d}"] = Thing(f"parent {i}")
        for j in range(CHILDREN):
            any_parent = ("p/",) if j % 5 == 0 else ()
            desired[f"a/{i:03d}/{j:03d}"] = Thing(f"child {j}", needs=(f"p/{i:03d}",), needs_any=any_parent)
    return desired


async def test_configured_items_keep_few_tracked_objects() -> None:
    r = make_world(normalise=False).reconciler()  # the dataplane keeps the values it is given
    desired = _desired()
    gc.collect()
    before = len(gc.get_objects())
    rec = await r.apply(desired)
    gc.collect()
    added = len(gc.get_objects()) - before
    assert all(o.outcome == "ok" for o in rec.ops) and len(rec.ops) == len(desired)
    assert {s.state for s in r.states().values()} == {ItemState.CONFIGURED}
    assert added <= PER_ITEM * len(desired), added / len(desired)


async def test_items_share_statuses_and_dependencies() -> None:
    r = make_world().reconciler()
    await r.apply(_desired())
    assert len({id(s) for s in r.states().values()}) == 1  # one transaction, all configured
    assert Dependency.on("p/001") is Dependency.on("p/001")
    assert Dependency.any_under("p/") is Dependency.any_under("p/") != Dependency.on("p/")
