"""Resync: drift repair, foreign items, restart, zero operations when nothing changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from reconcile_support import World, make_world

from contivctl.reconcile import Context, ItemState, Retrieved, RetrieveFailed, TxnKind
from contivctl.testing.memory import MemoryDescriptor, Thing

DESIRED = {
    "a/1": Thing("one", derives=(("d/1", Thing("addr")),)),
    "a/2": Thing("two", needs=("a/1",)),
    "b/1": Thing("bee", needs=("a/sys-host",)),
    "b/2": Thing("bee2", needs=("b/1",)),
    "p/1": Thing("p"),
    "a/3": Thing("three", needs_any=("p/",)),
}


async def converged(world: World) -> None:
    world.dp.put_behind_back("a/sys-host", Thing("host link"))
    world.dp.put_behind_back("b/sys-local0", Thing("vswitch's own"))


async def test_resync_with_nothing_changed_does_nothing(world: World) -> None:
    await converged(world)
    r = world.reconciler()
    first = await r.resync_full(DESIRED)
    assert first.kind is TxnKind.RESYNC_FULL and len(first.plan) == 7
    log = list(world.dp.log)
    # the dataplane filled fields in: still equivalent, so nothing to do
    for _ in range(2):
        rec = await r.resync_full(DESIRED)
        assert rec.plan == () and rec.ops == ()
        rec = await r.resync_downstream()
        assert rec.plan == () and rec.ops == ()
    assert world.dp.log == log


async def test_full_resync_repairs_exactly_the_drifted_items(world: World) -> None:
    await converged(world)
    r = world.reconciler()
    await r.resync_full(DESIRED)
    dp = world.dp
    dp.put_behind_back("a/2", Thing("tampered", needs=("a/1",)))  # changed
    dp.remove_behind_back("p/1")  # removed (a/3 depended on it)
    dp.put_behind_back("a/stale", Thing())  # ours, not desired
    dp.put_behind_back("a/sys-new", Thing())  # not ours
    dp.put_behind_back("b/sys-local0", Thing("changed by its owner"))  # not ours, changed
    log = len(dp.log)
    rec = await r.resync_full(DESIRED)
    assert sorted((p.op, p.key) for p in rec.plan) == [
        ("create", "p/1"),
        ("delete", "a/stale"),
        ("update", "a/2"),
    ]
    assert all(o.outcome == "ok" for o in rec.ops)
    assert sorted(k for _, k in dp.log[log:]) == ["a/2", "a/stale", "p/1"]
    assert dp.values()["a/sys-new"] == Thing()
    assert dp.values()["b/sys-local0"] == Thing("changed by its owner")
    assert (await r.resync_full(DESIRED)).plan == ()
    assert all(s.state is ItemState.CONFIGURED for s in r.states().values())


async def test_drift_of_an_item_that_cannot_be_updated_recreates_it_and_its_dependents(world: World) -> None:
    await converged(world)
    r = world.reconciler()
    await r.resync_full(DESIRED)
    world.dp.put_behind_back("b/1", Thing("tampered", needs=("a/sys-host",)))
    rec = await r.resync_downstream()
    assert rec.kind is TxnKind.RESYNC_DOWNSTREAM
    assert [(p.op, p.key) for p in rec.plan] == [
        ("delete", "b/2"),
        ("delete", "b/1"),
        ("create", "b/1"),
        ("create", "b/2"),
    ]


async def test_foreign_items_are_never_changed_or_deleted(world: World) -> None:
    await converged(world)
    r = world.reconciler()
    await r.resync_full({"a/sys-host": Thing("host link"), "b/sys-local0": Thing("mine now?")})
    assert r.state("a/sys-host").state is ItemState.CONFIGURED  # type: ignore[union-attr]
    st = r.state("b/sys-local0")
    assert st is not None and st.state is ItemState.FAILED and "not owned" in (st.error or "")
    await r.resync_full({})
    await r.apply({"a/sys-host": None, "b/sys-local0": None})
    assert world.dp.log == []
    assert set(world.dp.items) == {"a/sys-host", "b/sys-local0"}
    assert r.owned("a/sys-host") is False


async def test_restart_adopts_what_exists_and_changes_only_the_difference() -> None:
    world = make_world()
    await converged(world)
    old = world.reconciler()
    await old.resync_full(DESIRED)
    index = world.dp.items["a/1"][1]
    log = len(world.dp.log)
    # a new agent process: empty cache, same dataplane, slightly different desired state
    desired = dict(DESIRED)
    desired["a/4"] = Thing("new", needs=("a/1",))
    del desired["b/2"]
    r = world.reconciler()
    rec = await r.resync_full(desired)
    assert sorted((p.op, p.key) for p in rec.plan) == [("create", "a/4"), ("delete", "b/2")]
    assert world.descriptors["a/"].seen_metadata["a/4"] == {"a/1": index}
    assert r.metadata("a/1") == index
    assert len(world.dp.log) == log + 2


async def test_retrieve_after_sees_the_metadata_of_earlier_kinds(world: World) -> None:
    seen: list[bool] = []

    class Addresses(MemoryDescriptor):
        async def retrieve(self, ctx: Context, expected: Mapping[str, Any]) -> Iterable[Retrieved]:
            seen.append(ctx.exists("a/1") and ctx.metadata("a/1") == world.dp.items["a/1"][1])
            return await super().retrieve(ctx, expected)

    world.descriptors["d/"] = Addresses("d/", world.dp, retrieve_after=("a/",))
    r = world.reconciler()
    await r.apply({"a/1": Thing(derives=(("d/1", Thing()),))})
    assert (await r.resync_downstream()).plan == ()
    assert seen == [True]


async def test_a_failed_retrieve_stops_the_resync_before_anything_changes(world: World) -> None:
    class Broken(MemoryDescriptor):
        async def retrieve(self, ctx: Context, expected: Mapping[str, Any]) -> Iterable[Retrieved]:
            raise OSError("socket closed")

    world.descriptors["p/"] = Broken("p/", world.dp)
    r = world.reconciler()
    await r.apply({"a/1": Thing()})
    world.dp.remove_behind_back("a/1")
    with pytest.raises(RetrieveFailed) as err:
        await r.resync_full({})
    assert err.value.prefix == "p/" and "socket closed" in str(err.value)
    assert set(r.desired()) == {"a/1"}
    assert len(r.history()) == 1


async def test_failed_items_are_retried_by_a_resync(world: World) -> None:
    r = world.reconciler()
    world.dp.fail("update", "a/1")
    await r.apply({"a/1": Thing("x")})
    await r.apply({"a/1": Thing("y")})
    assert r.state("a/1").state is ItemState.FAILED  # type: ignore[union-attr]
    rec = await r.resync_downstream()
    assert [(p.op, p.key) for p in rec.plan] == [("update", "a/1")]
    assert world.dp.values()["a/1"].data == "y"
    assert r.state("a/1").state is ItemState.CONFIGURED  # type: ignore[union-attr]


async def test_verify_names_missing_and_different_items_and_changes_nothing(world: World) -> None:
    await converged(world)
    r = world.reconciler()
    await r.resync_full(DESIRED)
    assert await r.verify(["a/1", "a/2", "p/1"]) == {}
    dp = world.dp
    dp.remove_behind_back("d/1")  # derived from a/1: verified with it
    dp.put_behind_back("a/2", Thing("tampered", needs=("a/1",)))
    log = len(dp.log)
    problems = await r.verify(["a/1", "a/2", "p/1", "a/unknown"])
    assert set(problems) == {"d/1", "a/2", "a/unknown"}
    assert problems["d/1"] == "missing"
    assert problems["a/2"].startswith("differs: ") and "tampered" in problems["a/2"]
    assert problems["a/unknown"] == "not desired"
    assert len(dp.log) == log  # read-only
    assert r.history()[-1].kind is TxnKind.RESYNC_FULL  # no transaction recorded
    # only the next resync repairs
    rec = await r.resync_downstream()
    assert sorted(p.key for p in rec.plan) == ["a/2", "d/1"]
    assert await r.verify(["a/1", "a/2"]) == {}
