"""Membership against a real etcd: events for other nodes, this node's record kept published."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from contivctl.cluster.admin import remove_node
from contivctl.cluster.membership import Membership
from contivctl.cluster.nodeid import allocate_node_id
from contivctl.cluster.record import decode, encode, id_key
from contivctl.errors import StoreError
from contivctl.events import Event, NodeRemoved, NodeUpdated
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdwatch import RetryDelay
from contivctl.model import NodeInfo
from contivctl.testing.etcd import EtcdServer
from tests.cluster.conftest import MemoryStore, store_for, wait_until
from tests.cluster.test_nodeid import ORIGINAL_RECORD

FAST = RetryDelay(initial=0.02, maximum=0.2)


class Events:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    def post(self, event: Event) -> None:
        self.queue.put_nowait(event)

    async def next(self) -> Event:
        return await asyncio.wait_for(self.queue.get(), 15)

    async def next_for(self, node_id: int) -> Event:
        """The next event about ``node_id``, skipping others (their order across nodes is not promised)."""
        while True:
            event = await self.next()
            if (isinstance(event, NodeUpdated) and event.node.id == node_id) or (
                isinstance(event, NodeRemoved) and event.node_id == node_id
            ):
                return event


@pytest.fixture
async def member(etcd: EtcdServer) -> AsyncIterator[tuple[Membership, Events]]:
    store = store_for(etcd)
    node_id = await allocate_node_id(store, MemoryStore(), "a", ip_addresses=["192.168.16.1/24"])
    events = Events()
    m = Membership(store, NodeInfo(node_id, "a", ("192.168.16.1/24",)), events.post, retry=FAST)
    await m.start()
    try:
        yield m, events
    finally:
        await m.stop()
        await store.close()


async def record(store: EtcdStore, node_id: int) -> NodeInfo | None:
    raw = await store.get(id_key(node_id))
    return None if raw is None else decode(raw, id_key(node_id))


async def test_join_change_leave_become_events(member: tuple[Membership, Events], store: EtcdStore) -> None:
    m, events = member
    b = await allocate_node_id(store, MemoryStore(), "b", ip_addresses=["192.168.16.2/24"])
    joined = await events.next_for(b)
    assert isinstance(joined, NodeUpdated) and joined.node == NodeInfo(b, "b", ("192.168.16.2/24",))

    await store.put(id_key(b), encode(NodeInfo(b, "b", ("192.168.16.20/24",), ("10.0.0.2",))))
    changed = await events.next_for(b)
    assert isinstance(changed, NodeUpdated) and changed.node.ip_addresses == ("192.168.16.20/24",)
    assert changed.node.management_ips == ("10.0.0.2",)

    removed = await remove_node(store, "b")
    assert removed.ids == (b,)
    left = await events.next_for(b)
    assert isinstance(left, NodeRemoved) and (left.node_id, left.node_name) == (b, "b")
    assert m.nodes == {}
    assert events.queue.empty()  # and never an event about this node itself


async def test_existing_nodes_and_original_records_arrive_at_start(etcd: EtcdServer, store: EtcdStore) -> None:
    await store.put(id_key(1), ORIGINAL_RECORD)
    await allocate_node_id(store, MemoryStore(), "b")
    events = Events()
    me = await allocate_node_id(store, MemoryStore(), "a")
    m = Membership(store_for(etcd), NodeInfo(me, "a"), events.post, retry=FAST)
    await m.start()
    try:
        got = {(await events.next()), (await events.next())}
        nodes = {e.node for e in got if isinstance(e, NodeUpdated)}
        assert nodes == {NodeInfo(1, "k8s-master", ("192.168.16.1/24",), ("10.20.0.2",)), NodeInfo(2, "b")}
    finally:
        await m.stop()
        await m.store.close()


async def test_publish_updates_the_record(member: tuple[Membership, Events], store: EtcdStore) -> None:
    m, _ = member
    await m.wait_published()
    await m.publish(["192.168.16.9/24"], ["10.0.0.1", "10.0.0.5"])
    await m.wait_published()
    assert await record(store, m.me.id) == NodeInfo(m.me.id, "a", ("192.168.16.9/24",), ("10.0.0.1", "10.0.0.5"))
    await m.publish(["192.168.16.10/24"])  # management IPs kept
    await m.wait_published()
    assert await record(store, m.me.id) == NodeInfo(m.me.id, "a", ("192.168.16.10/24",), ("10.0.0.1", "10.0.0.5"))


async def test_publish_while_etcd_is_down_lands_when_it_is_back(
    member: tuple[Membership, Events], etcd: EtcdServer, store: EtcdStore
) -> None:
    m, _ = member
    await m.wait_published()
    etcd.stop()
    await asyncio.wait_for(m.publish(["192.168.16.7/24"]), 1)  # returns at once: nobody waits for etcd
    etcd.start()
    await asyncio.wait_for(m.wait_published(), 15)

    async def landed() -> bool:
        try:
            return await record(store, m.me.id) == NodeInfo(m.me.id, "a", ("192.168.16.7/24",))
        except StoreError:
            return False

    await wait_until(landed)


async def test_record_is_republished_after_etcd_lost_its_data(
    member: tuple[Membership, Events], etcd: EtcdServer, store: EtcdStore
) -> None:
    m, events = member
    b = await allocate_node_id(store, MemoryStore(), "b")
    assert isinstance(await events.next_for(b), NodeUpdated)
    await m.wait_published()

    etcd.wipe()

    async def republished() -> bool:
        try:
            return await record(store, m.me.id) == m.me
        except StoreError:
            return False

    await wait_until(republished)
    # b's agent is not running in this test: its record is gone, and so is b for us.
    left = await events.next_for(b)
    assert isinstance(left, NodeRemoved)
    # A node joining now cannot take a's ID.
    assert await allocate_node_id(store, MemoryStore(), "c") != m.me.id


async def test_events_follow_after_an_etcd_restart(
    member: tuple[Membership, Events], etcd: EtcdServer, store: EtcdStore
) -> None:
    _, events = member
    etcd.restart()
    other = store_for(etcd)
    try:
        await other.connect()
        b = await allocate_node_id(other, MemoryStore(), "b")
        assert isinstance(await events.next_for(b), NodeUpdated)
    finally:
        await other.close()


async def test_id_taken_while_this_node_was_away_is_reported_not_shared(etcd: EtcdServer, store: EtcdStore) -> None:
    """Started with its remembered ID while etcd lost it to a newcomer: a conflict, never a remote node."""
    me = await allocate_node_id(store, MemoryStore(), "a")
    etcd.wipe()
    newcomer = await allocate_node_id(store, MemoryStore(), "newcomer")
    assert newcomer == me
    events = Events()
    m = Membership(store_for(etcd), NodeInfo(me, "a"), events.post, retry=FAST)
    await m.start()
    try:

        async def reported() -> bool:
            return m.conflict is not None

        await wait_until(reported)
        assert "'newcomer'" in (m.conflict or "")
        assert (await record(store, me) or NodeInfo(0, "")).name == "newcomer"  # not overwritten
        c = await allocate_node_id(store, MemoryStore(), "c")
        event = await events.next()
        assert isinstance(event, NodeUpdated) and event.node.id == c  # the newcomer never was one
        assert me not in m.nodes
    finally:
        await m.stop()
        await m.store.close()
