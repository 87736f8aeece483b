"""Transactions: metadata, revert and best-effort modes, retries, concurrency, history."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from reconcile_support import World, run_retries

from contivctl.reconcile import (
    Context,
    Descriptor,
    ItemState,
    Metadata,
    Mode,
    ReconcilerClosed,
    Retrieved,
    RetryPolicy,
    TransactionFailed,
    TxnKind,
)
from contivctl.testing.memory import MemoryFault, Thing, TransientFault


async def test_metadata_of_dependencies_is_readable_by_dependents(world: World) -> None:
    r = world.reconciler()
    await r.apply({"a/1": Thing(), "p/1": Thing(), "b/1": Thing(needs=("a/1", "p/1"))})
    seen = world.descriptors["b/"].seen_metadata["b/1"]
    assert seen == {"a/1": r.metadata("a/1"), "p/1": r.metadata("p/1")}
    assert seen["a/1"] == world.dp.items["a/1"][1]
    with pytest.raises(KeyError):
        r.metadata("a/none")


async def test_revert_undoes_everything_and_names_the_failed_item(world: World) -> None:
    r = world.reconciler()
    await r.apply({"a/1": Thing("x"), "b/1": Thing("x"), "a/2": Thing(needs=("b/1",)), "a/gone": Thing()})
    before = world.dp.values()
    desired_before = dict(r.desired())
    world.dp.fail("create", "a/4")
    with pytest.raises(TransactionFailed) as err:
        await r.apply(
            {
                "a/1": Thing("y"),  # update
                "b/1": Thing("y"),  # re-create, with its dependent
                "a/gone": None,  # delete
                "a/3": Thing(),  # create
                "a/4": Thing(needs=("a/3",)),  # fails
            },
            mode=Mode.REVERT,
            trigger="pod add",
        )
    e = err.value
    assert (e.key, e.op) == ("a/4", "create")
    assert isinstance(e.cause, MemoryFault)
    assert "a/4" in str(e) and "injected failure" in str(e)
    assert e.revert_errors == ()
    assert world.dp.values() == before
    assert dict(r.desired()) == desired_before
    assert r.state("a/3") is None and r.state("a/4") is None
    assert r.state("a/2").state is ItemState.CONFIGURED  # type: ignore[union-attr]
    rec = e.record
    assert rec is not None and rec.error is not None and "a/4" in rec.error
    assert rec.trigger == "pod add" and rec.mode is Mode.REVERT and rec.done
    assert any(o.undo for o in rec.ops)
    assert r.history()[-1] == rec
    # nothing left to do: the state is exactly the one before
    assert not r.plan(desired_before, replace=True)


async def test_revert_that_cannot_undo_says_so_and_tries_to_remove_the_item_again(world: World) -> None:
    r = world.reconciler()
    await r.apply({"a/1": Thing()})
    world.dp.fail("create", "a/3")
    world.dp.fail("delete", "a/2")  # undoing the create of a/2
    with pytest.raises(TransactionFailed) as err:
        await r.apply({"a/2": Thing(), "a/3": Thing(needs=("a/2",))}, mode=Mode.REVERT)
    assert [(k, op) for k, op, _ in err.value.revert_errors] == [("a/2", "delete")]
    assert "could not undo" in str(err.value)
    st = r.state("a/2")
    assert st is not None and st.state is ItemState.RETRYING and "injected failure" in (st.error or "")
    # not wanted: removed by a retry, whatever the error was
    await run_retries(r, world.clock)
    assert set(world.dp.items) == {"a/1"}
    assert r.state("a/2") is None


async def test_what_an_item_whose_undo_failed_depends_on_is_not_undone_under_it(world: World) -> None:
    r = world.reconciler()
    world.dp.fail("create", "a/3")
    world.dp.fail("delete", "a/2", TransientFault("lost"))  # undoing the create of a/2
    with pytest.raises(TransactionFailed):
        await r.apply({"a/1": Thing(), "a/2": Thing(needs=("a/1",)), "a/3": Thing(needs=("a/2",))}, mode=Mode.REVERT)
    # a/2 is still there, so a/1 is too: deleting it would have left a/2 without it
    assert set(world.dp.items) == {"a/1", "a/2"}
    assert r.state("a/1").state is ItemState.RETRYING  # type: ignore[union-attr]
    await run_retries(r, world.clock)
    assert world.dp.items == {} and r.states() == {}
    assert world.dp.violations == []


async def test_a_retry_reads_again_what_half_happened(world: World) -> None:
    r = world.reconciler()
    world.dp.fail("create", "a/1", TransientFault("answer lost"))
    await r.apply({"a/1": Thing(), "a/2": Thing(needs=("a/1",))})
    world.dp.put_behind_back("a/1", Thing())  # the create was done; only its answer was lost
    assert r.state("a/1").state is ItemState.RETRYING  # type: ignore[union-attr]
    await run_retries(r, world.clock)
    # read again before the retry: no second create of what exists (the dataplane would refuse it)
    assert r.state("a/1").state is ItemState.CONFIGURED  # type: ignore[union-attr]
    assert r.state("a/2").state is ItemState.CONFIGURED  # type: ignore[union-attr]
    assert ("create", "a/1") not in world.dp.log and ("create", "a/2") in world.dp.log


async def test_what_failed_is_read_again_before_it_is_removed(world: World) -> None:
    r = world.reconciler()
    world.dp.fail("create", "a/1", TransientFault("answer lost"))
    await r.apply({"a/1": Thing()})
    world.dp.put_behind_back("a/1", Thing())  # it was made after all
    await r.apply({"a/1": None})  # no longer wanted, before its retry came
    assert world.dp.items == {} and r.states() == {}


async def test_best_effort_keeps_going_and_keeps_failures_failed(world: World) -> None:
    r = world.reconciler()
    world.dp.fail("create", "a/1", MemoryFault("no such thing"))
    rec = await r.apply({"a/1": Thing(), "a/2": Thing(needs=("a/1",)), "a/3": Thing(), "d/x": Thing(needs=("a/3",))})
    assert set(world.dp.items) == {"a/3", "d/x"}
    st = r.state("a/1")
    assert st is not None and st.state is ItemState.FAILED and "no such thing" in (st.error or "")
    st2 = r.state("a/2")
    assert st2 is not None and st2.state is ItemState.PENDING and st2.waiting_for == ("a/1",)
    outcomes = {(o.key, o.outcome) for o in rec.ops}
    assert ("a/1", "failed") in outcomes and ("a/2", "skipped") in outcomes
    assert world.clock.next_deadline() is None  # not retriable: nothing scheduled
    # the next resync heals it
    await r.resync_downstream()
    assert set(world.dp.items) == {"a/1", "a/2", "a/3", "d/x"}


async def test_failed_child_delete_blocks_the_parent_delete(world: World) -> None:
    r = world.reconciler()
    await r.apply({"a/1": Thing(), "a/2": Thing(needs=("a/1",))})
    world.dp.fail("delete", "a/2", TransientFault("busy"))
    await r.apply({"a/1": None, "a/2": None})
    assert set(world.dp.items) == {"a/1", "a/2"}
    assert r.state("a/2").state is ItemState.RETRYING  # type: ignore[union-attr]
    st = r.state("a/1")
    assert st is not None and st.state is ItemState.RETRYING and "a/2" in (st.error or "")
    await run_retries(r, world.clock)
    assert world.dp.items == {}
    assert r.states() == {}


async def test_retriable_failures_back_off_exponentially_without_blocking(world: World) -> None:
    r = world.reconciler(retry=RetryPolicy(initial=1.0, factor=2.0, max_delay=5.0))
    world.dp.fail("create", "a/1", TransientFault("try later"), times=5)
    rec = await r.apply({"a/1": Thing(), "a/2": Thing(needs=("a/1",))})
    assert rec.kind is TxnKind.APPLY
    st = r.state("a/1")
    assert st is not None and st.state is ItemState.RETRYING and st.attempts == 1 and st.retry_at == 1.0
    delays = []
    while (st := r.state("a/1")) is not None and st.state is ItemState.RETRYING:
        assert st.retry_at is not None
        delays.append(st.retry_at - world.clock.now())
        world.clock.advance(st.retry_at - world.clock.now())
        await r.drain()
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert r.state("a/1").state is ItemState.CONFIGURED  # type: ignore[union-attr]
    assert r.state("a/2").state is ItemState.CONFIGURED  # type: ignore[union-attr]
    kinds = [h.kind for h in r.history()]
    assert kinds.count(TxnKind.RETRY) == 5
    assert world.clock.next_deadline() is None


async def test_retries_give_up_after_max_attempts(world: World) -> None:
    r = world.reconciler(retry=RetryPolicy(initial=1.0, max_attempts=3))
    world.dp.fail("create", "a/1", TransientFault("down"), times=10)
    await r.apply({"a/1": Thing()})
    await run_retries(r, world.clock)
    st = r.state("a/1")
    assert st is not None and st.state is ItemState.FAILED and st.attempts == 3


async def test_a_new_desired_value_resets_the_backoff(world: World) -> None:
    r = world.reconciler()
    world.dp.fail("create", "a/1", TransientFault("down"), times=2)
    await r.apply({"a/1": Thing()})
    world.clock.advance(1.0)
    await r.drain()
    assert r.state("a/1").attempts == 2  # type: ignore[union-attr]
    await r.apply({"a/1": Thing("other")})
    assert r.state("a/1").state is ItemState.CONFIGURED  # type: ignore[union-attr]
    assert r.state("a/1").attempts == 0  # type: ignore[union-attr]


async def test_concurrency_is_bounded_and_related_operations_never_overlap(world: World) -> None:
    r = world.reconciler(max_concurrency=3)
    desired: dict[str, Any] = {f"p/{i}": Thing() for i in range(10)}
    desired.update({f"a/{i}": Thing(needs=(f"p/{i}",), needs_any=("p/",)) for i in range(10)})
    desired.update({f"b/{i}": Thing(needs=(f"a/{i}",), derives=((f"d/{i}", Thing()),)) for i in range(10)})
    await r.apply(desired)
    assert world.dp.max_inflight == 3
    assert world.dp.violations == []
    await r.apply({k: None for k in desired})
    assert world.dp.items == {} and world.dp.violations == []


async def test_transactions_run_one_at_a_time_and_the_plan_is_recorded_first(world: World) -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    class Slow(Descriptor[Thing]):
        prefix = "s/"

        async def create(self, ctx: Context, key: str, value: Thing) -> Metadata:
            started.set()
            await gate.wait()
            return None

        async def delete(self, ctx: Context, key: str, value: Thing, metadata: Metadata) -> None:
            return None

        async def retrieve(self, ctx: Context, expected: Mapping[str, Any]) -> Iterable[Retrieved]:
            return ()

        def owns(self, key: str, value: Thing) -> bool:
            return True

    world.descriptors["s/"] = Slow()  # type: ignore[assignment]
    r = world.reconciler()
    first = asyncio.create_task(r.apply({"s/1": Thing()}, trigger="first"))
    await started.wait()
    second = asyncio.create_task(r.apply({"a/1": Thing()}, trigger="second"))
    running = r.history()[-1]
    assert running.trigger == "first" and not running.done
    assert [(p.op, p.key) for p in running.plan] == [("create", "s/1")]
    for _ in range(5):
        await asyncio.sleep(0)
    assert world.dp.log == [] and not second.done()
    gate.set()
    await first
    await second
    assert [h.trigger for h in r.history()] == ["first", "second"]


async def test_history_is_bounded_plain_data(world: World) -> None:
    r = world.reconciler(history=3)
    for i in range(5):
        await r.apply({f"a/{i}": Thing(needs=("a/ghost",) if i == 4 else ())}, trigger=f"t{i}")
    hist = r.history()
    assert [h.seq for h in hist] == [3, 4, 5]
    assert [h.trigger for h in hist] == ["t2", "t3", "t4"]
    last = hist[-1].to_dict()
    json.dumps(last)
    assert last["states"]["a/4"]["state"] == "pending"
    assert last["states"]["a/4"]["waitingFor"] == ["a/ghost"]
    rec = hist[-2].to_dict()
    assert rec["plan"] == [{"op": "create", "key": "a/3", "reason": "changed", "after": []}]
    assert rec["ops"][0]["outcome"] == "ok" and rec["ops"][0]["duration"] >= 0
    configured = {"state": "configured", "waitingFor": [], "txn": 4}
    assert rec["states"] == {"a/3": {**last["states"]["a/4"], **configured}}


async def test_a_closed_reconciler_refuses_work(world: World) -> None:
    r = world.reconciler()
    world.dp.fail("create", "a/1", TransientFault("x"))
    await r.apply({"a/1": Thing()})
    assert world.clock.next_deadline() is not None
    await r.aclose()
    assert world.clock.next_deadline() is None
    with pytest.raises(ReconcilerClosed):
        await r.apply({"a/2": Thing()})


def _link_with_items() -> dict[str, Thing]:
    return {
        "p/link": Thing("link"),
        "a/addr": Thing("addr", needs=("p/link",), goes_with="p/link"),
        "b/route": Thing("route", needs=("p/link",), goes_with="p/link"),
    }


async def test_items_a_delete_takes_along_are_not_deleted_one_by_one(world: World) -> None:
    r = world.reconciler()
    await r.apply(_link_with_items())
    record = await r.apply({k: None for k in _link_with_items()})
    assert world.dp.values() == {}
    # one request for the link; its items went with it
    assert [entry for entry in world.dp.log if entry[0] == "delete"] == [("delete", "p/link")]
    assert {("gone with p/link", "a/addr"), ("gone with p/link", "b/route")} <= set(world.dp.log)
    planned = {p.key: p.reason for p in record.plan}
    assert "goes with p/link" in planned["a/addr"] and "goes with" not in planned["p/link"]
    assert all(o.outcome == "ok" for o in record.ops)
    assert r.actual() == {}


async def test_an_item_deleted_alone_is_deleted(world: World) -> None:
    r = world.reconciler()
    await r.apply(_link_with_items())
    await r.apply({"a/addr": None})
    assert ("delete", "a/addr") in world.dp.log
    assert set(world.dp.values()) == {"p/link", "b/route"}


async def test_when_the_delete_that_takes_items_along_fails_they_come_back(world: World) -> None:
    r = world.reconciler()
    await r.apply(_link_with_items())
    world.dp.fail("delete", "p/link")
    with pytest.raises(TransactionFailed):
        await r.apply({k: None for k in _link_with_items()}, mode=Mode.REVERT)
    assert set(world.dp.values()) == set(_link_with_items())
    assert set(r.actual()) == set(_link_with_items())
    assert not r.plan(dict(r.desired()), replace=True)


async def test_best_effort_a_failed_delete_leaves_items_the_next_resync_removes(world: World) -> None:
    r = world.reconciler()
    await r.apply(_link_with_items())
    world.dp.fail("delete", "p/link")
    await r.apply({k: None for k in _link_with_items()})
    assert set(world.dp.values()) == set(_link_with_items())  # nothing went
    await r.resync_full({})
    assert world.dp.values() == {}


async def test_undoing_a_delete_that_took_items_along_brings_them_back_too(world: World) -> None:
    r = world.reconciler()
    await r.apply(_link_with_items())
    world.dp.fail("create", "a/other")
    with pytest.raises(TransactionFailed):
        await r.apply({**{k: None for k in _link_with_items()}, "a/other": Thing()}, mode=Mode.REVERT)
    assert set(world.dp.values()) == set(_link_with_items())
    assert set(r.actual()) == set(_link_with_items())
    assert not r.plan(dict(r.desired()), replace=True)


async def test_what_waits_for_an_item_that_goes_along_waits_for_the_delete_that_takes_it(world: World) -> None:
    r = world.reconciler(max_concurrency=4)
    items = {**_link_with_items(), "b/dep": Thing("v1")}
    items["a/addr"] = Thing("addr", needs=("p/link", "b/dep"), goes_with="p/link")
    await r.apply(items)
    slow = world.dp.gate("delete", "p/link")
    # a/addr goes with p/link; b/dep, which a/addr needs, is re-created (b/ cannot update in place)
    task = asyncio.ensure_future(r.apply({"a/addr": None, "b/route": None, "p/link": None, "b/dep": Thing("v2")}))
    for _ in range(20):
        await asyncio.sleep(0)
    assert ("delete", "b/dep") not in world.dp.log  # a/addr is still there until p/link goes
    slow.set()
    record = await task
    assert all(o.outcome == "ok" for o in record.ops), record.ops
    assert set(world.dp.values()) == {"b/dep"} and world.dp.values()["b/dep"].data == "v2"


async def test_a_chain_of_items_going_along_waits_for_its_last_delete(world: World) -> None:
    r = world.reconciler()
    chain = {
        "p/dev": Thing("dev"),
        "a/link": Thing("link", needs=("p/dev",), goes_with="p/dev"),
        "b/addr": Thing("addr", needs=("a/link",), goes_with="a/link"),
    }
    await r.apply(chain)
    world.dp.fail("delete", "p/dev")
    with pytest.raises(TransactionFailed):
        await r.apply({k: None for k in chain}, mode=Mode.REVERT)
    assert set(world.dp.values()) == set(chain) and set(r.actual()) == set(chain)
    record = await r.apply({k: None for k in chain})
    assert [entry for entry in world.dp.log if entry[0] == "delete"] == [("delete", "p/dev")]
    assert all(o.outcome == "ok" for o in record.ops) and world.dp.values() == {}


class LazyNames(Descriptor[str]):
    """Items holding a name (their value); a delete retires the name, which stays held until ``settle``."""

    prefix = "n/"

    def __init__(self) -> None:
        self.held: dict[str, str] = {}  # name -> key holding it ("" once retired)
        self.settled = 0

    async def create(self, ctx: Context, key: str, value: str) -> Metadata:
        if value in self.held:
            raise MemoryFault(f"name {value} is taken")
        self.held[value] = key
        return None

    async def delete(self, ctx: Context, key: str, value: str, metadata: Metadata) -> None:
        self.held[value] = ""  # retired: gone for the reconciler, the name not free yet

    async def settle(self) -> None:
        self.settled += 1
        self.held = {name: key for name, key in self.held.items() if key}

    async def retrieve(self, ctx: Context, expected: Mapping[str, str]) -> Iterable[Retrieved]:
        return [Retrieved(key, name) for name, key in self.held.items() if key]

    def owns(self, key: str, value: str) -> bool:
        return True


async def test_a_name_a_delete_gave_up_is_free_when_a_create_of_the_same_transaction_takes_it() -> None:
    from contivctl.reconcile import Reconciler

    names = LazyNames()
    r = Reconciler([names])
    await r.apply({"n/veth": "vpp1"})
    await r.apply({"n/tap": "vpp1", "n/veth": None})  # one transaction: delete, settle, create
    assert names.held == {"vpp1": "n/tap"} and names.settled == 1
    await r.apply({"n/tap": None})  # deletes only: nothing waits for the name, no settling
    await r.apply({"n/other": "vpp2"})  # creates only
    assert names.settled == 1 and names.held == {"vpp1": "", "vpp2": "n/other"}
    await r.aclose()
