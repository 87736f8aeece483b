"""Planning rules, checked on plans (dry runs) and on what applying them does."""

from __future__ import annotations

import pytest
from reconcile_support import World

from contivctl.reconcile import (
    DependencyCycle,
    ItemState,
    KeyConflict,
    OpKind,
    Plan,
    UnknownKind,
)
from contivctl.testing.memory import Thing


def ops(plan: Plan) -> list[tuple[str, str]]:
    return [(op.kind.value, op.key) for op in plan.ops]


def test_creates_follow_dependencies_whatever_the_input_order(world: World) -> None:
    r = world.reconciler()
    plan = r.plan(
        {
            "a/3": Thing(needs=("a/2",)),
            "a/2": Thing(needs=("a/1",)),
            "a/1": Thing(),
            "a/x": Thing(),
        }
    )
    seq = [k for _, k in ops(plan)]
    assert seq.index("a/1") < seq.index("a/2") < seq.index("a/3")
    assert all(op.kind is OpKind.CREATE for op in plan.ops)
    by_key = {op.key: i for i, op in enumerate(plan.ops)}
    assert plan.preds[by_key["a/2"]] == (by_key["a/1"],)
    assert plan.preds[by_key["a/x"]] == ()
    assert world.dp.log == []


async def test_deletes_children_before_parents(world: World) -> None:
    r = world.reconciler()
    await r.apply({"a/1": Thing(), "a/2": Thing(needs=("a/1",)), "b/1": Thing(needs=("a/2",))})
    plan = r.plan({"a/1": None, "a/2": None, "b/1": None})
    assert ops(plan) == [("delete", "b/1"), ("delete", "a/2"), ("delete", "a/1")]
    await r.apply({"a/1": None, "a/2": None, "b/1": None})
    assert world.dp.items == {}
    assert r.states() == {}


async def test_missing_dependency_is_pending_then_created_when_it_appears(world: World) -> None:
    r = world.reconciler()
    rec = await r.apply({"a/2": Thing(needs=("a/1",))})
    assert rec.plan == ()
    st = r.state("a/2")
    assert st is not None and st.state is ItemState.PENDING and st.waiting_for == ("a/1",)
    rec = await r.apply({"a/1": Thing()})
    assert [(p.op, p.key) for p in rec.plan] == [("create", "a/1"), ("create", "a/2")]
    assert r.state("a/2").state is ItemState.CONFIGURED  # type: ignore[union-attr]


async def test_removing_a_dependency_deletes_dependents_first_and_pends_them(world: World) -> None:
    r = world.reconciler()
    await r.apply({"a/1": Thing(), "a/2": Thing(needs=("a/1",)), "a/3": Thing(needs=("a/2",))})
    rec = await r.apply({"a/1": None})
    assert [(p.op, p.key) for p in rec.plan] == [("delete", "a/3"), ("delete", "a/2"), ("delete", "a/1")]
    assert r.state("a/2").state is ItemState.PENDING  # type: ignore[union-attr]
    assert r.state("a/3").state is ItemState.PENDING  # type: ignore[union-attr]
    assert r.state("a/1") is None
    rec = await r.apply({"a/1": Thing()})
    assert [(p.op, p.key) for p in rec.plan] == [("create", "a/1"), ("create", "a/2"), ("create", "a/3")]


async def test_update_in_place_when_the_descriptor_can(world: World) -> None:
    r = world.reconciler()
    await r.apply({"a/1": Thing("x"), "a/2": Thing(needs=("a/1",))})
    plan = r.plan({"a/1": Thing("y")})
    assert ops(plan) == [("update", "a/1")]
    assert plan.ops[0].old == Thing("x")


async def test_recreate_recreates_dependents_too(world: World) -> None:
    r = world.reconciler()
    await r.apply({"b/1": Thing("x"), "a/2": Thing(needs=("b/1",)), "a/3": Thing(needs=("a/2",)), "a/4": Thing()})
    before = world.dp.items["a/2"][1]
    rec = await r.apply({"b/1": Thing("y")})
    assert [(p.op, p.key) for p in rec.plan] == [
        ("delete", "a/3"),
        ("delete", "a/2"),
        ("delete", "b/1"),
        ("create", "b/1"),
        ("create", "a/2"),
        ("create", "a/3"),
    ]
    assert world.dp.items["a/2"][1] != before
    # a field the descriptor cannot change in place also means re-create
    plan = r.plan({"a/4": Thing(fixed="f")})
    assert ops(plan) == [("delete", "a/4"), ("create", "a/4")]


async def test_cycles_are_rejected_naming_the_keys_and_nothing_changes(world: World) -> None:
    r = world.reconciler()
    await r.apply({"a/0": Thing()})
    with pytest.raises(DependencyCycle) as err:
        await r.apply({"a/1": Thing(needs=("a/3",)), "a/2": Thing(needs=("a/1",)), "a/3": Thing(needs=("a/2", "a/0"))})
    assert set(err.value.keys) == {"a/1", "a/2", "a/3"}
    assert "a/1" in str(err.value)
    assert set(world.dp.items) == {"a/0"}
    assert set(r.desired()) == {"a/0"}
    assert len(r.history()) == 1
    with pytest.raises(DependencyCycle) as err:
        r.plan({"a/5": Thing(needs=("a/5",))})
    assert err.value.keys == ("a/5",)


async def test_a_cycle_through_an_existing_item_is_found(world: World) -> None:
    r = world.reconciler()
    await r.apply({"a/1": Thing(), "a/2": Thing(needs=("a/1",))})
    with pytest.raises(DependencyCycle) as err:
        await r.apply({"a/1": Thing(needs=("a/2",))})
    assert set(err.value.keys) == {"a/1", "a/2"}


def test_unknown_kinds_and_conflicting_derived_keys_are_rejected(world: World) -> None:
    r = world.reconciler()
    with pytest.raises(UnknownKind):
        r.plan({"zz/1": Thing()})
    with pytest.raises(UnknownKind):
        r.plan({"a/1": Thing(derives=(("zz/1", Thing()),))})
    with pytest.raises(KeyConflict):
        r.plan({"a/1": Thing(derives=(("d/x", Thing()),)), "a/2": Thing(derives=(("d/x", Thing()),))})
    with pytest.raises(KeyConflict):
        r.plan({"a/1": Thing(derives=(("d/x", Thing()),)), "d/x": Thing()})


async def test_derived_items_follow_their_parent(world: World) -> None:
    r = world.reconciler()
    rec = await r.apply({"a/1": Thing(derives=(("d/1", Thing("addr")),))})
    assert [(p.op, p.key) for p in rec.plan] == [("create", "a/1"), ("create", "d/1")]
    assert world.dp.values()["d/1"].parent == "a/1"
    rec = await r.apply({"a/1": Thing(derives=(("d/2", Thing("addr")),))})
    assert sorted((p.op, p.key) for p in rec.plan) == [
        ("create", "d/2"),
        ("delete", "d/1"),
        ("update", "a/1"),
    ]
    rec = await r.apply({"a/1": None})
    assert [(p.op, p.key) for p in rec.plan] == [("delete", "d/2"), ("delete", "a/1")]
    assert r.states() == {}


async def test_same_desired_twice_plans_nothing(world: World) -> None:
    r = world.reconciler()
    desired = {
        "a/1": Thing(derives=(("d/1", Thing()),)),
        "b/1": Thing(needs=("a/1",), needs_any=("p/",)),
        "p/1": Thing(),
        "a/9": Thing(needs=("a/ghost",)),
    }
    await r.apply(desired, replace=True)
    assert not r.plan(desired, replace=True)
    rec = await r.apply(desired, replace=True)
    assert rec.plan == () and rec.ops == ()
    rec = await r.apply(desired)
    assert rec.plan == ()


async def test_prefix_dependency_waits_for_any_key_and_goes_with_the_last(world: World) -> None:
    r = world.reconciler()
    await r.apply({"a/1": Thing(needs_any=("p/",))})
    assert r.state("a/1").waiting_for == ("p/*",)  # type: ignore[union-attr]
    rec = await r.apply({"p/1": Thing(), "p/2": Thing()})
    assert ("create", "a/1") in [(p.op, p.key) for p in rec.plan]
    rec = await r.apply({"p/1": None})
    assert [(p.op, p.key) for p in rec.plan] == [("delete", "p/1")]
    rec = await r.apply({"p/2": None})
    assert [(p.op, p.key) for p in rec.plan] == [("delete", "a/1"), ("delete", "p/2")]
    assert r.state("a/1").state is ItemState.PENDING  # type: ignore[union-attr]


async def test_prune_runs_before_sync(world: World) -> None:
    r = world.reconciler()
    await r.apply({"a/old": Thing()})
    plan = r.plan({"a/old": None, "a/new": Thing()})
    assert ops(plan) == [("delete", "a/old"), ("create", "a/new")]
    assert plan.barrier == 1


async def test_incremental_planning_looks_only_at_what_changed(world: World) -> None:
    r = world.reconciler()
    desired = {f"p/{i}": Thing() for i in range(200)}
    desired.update({f"a/{i}": Thing(needs=(f"p/{i}",), needs_any=("p/",)) for i in range(200)})
    await r.apply(desired)
    plan = r.plan({"a/7": Thing("changed", needs=("p/7",), needs_any=("p/",))})
    assert ops(plan) == [("update", "a/7")]
    assert plan.visited == {"a/7"}
    plan = r.plan({"p/8": None})
    assert ops(plan) == [("delete", "a/8"), ("delete", "p/8")]
    assert plan.visited == {"a/8", "p/8"}
