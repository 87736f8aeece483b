"""The resuming prefix watch: changes after a restart, a fresh snapshot after compaction or data loss.

The watch is pulled: while a test does not ask for the next update, the
watch makes no progress, so "changes made while it was disconnected" are
deterministic — the test makes them before it pulls again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdwatch import Change, Resumed, Snapshot, WatchUpdate
from contivctl.testing.etcd import EtcdServer
from tests.cluster.conftest import store_for

P = "/t/nodes/"


async def pull(it: AsyncIterator[WatchUpdate]) -> WatchUpdate:
    """The next Snapshot or Change (a Resumed marker is skipped)."""
    while True:
        update = await asyncio.wait_for(anext(it), 15)
        if not isinstance(update, Resumed):
            return update


async def writer(etcd: EtcdServer) -> EtcdStore:
    s = store_for(etcd)
    await s.connect()
    return s


async def test_snapshot_then_changes(etcd: EtcdServer, store: EtcdStore) -> None:
    await store.put(P + "1", b"a")
    await store.put("/t/other", b"x")
    it = store.watch(P)
    try:
        first = await pull(it)
        assert isinstance(first, Snapshot) and first.entries == {P + "1": b"a"}
        await store.put(P + "2", b"b")
        await store.put("/t/other", b"y")  # outside the prefix: not seen
        await store.put(P + "1", b"a2")
        await store.delete(P + "2")
        got = [await pull(it) for _ in range(3)]
        assert [(c.key, c.value) for c in got if isinstance(c, Change)] == [
            (P + "2", b"b"),
            (P + "1", b"a2"),
            (P + "2", None),
        ]
        revisions = [u.revision for u in got]
        assert revisions == sorted(revisions) and revisions[0] > first.revision
    finally:
        await it.aclose()  # type: ignore[attr-defined]


async def test_resumes_after_restart_without_missing_or_repeating(etcd: EtcdServer, store: EtcdStore) -> None:
    it = store.watch(P)
    other = await writer(etcd)
    try:
        assert isinstance(await pull(it), Snapshot)
        await other.put(P + "1", b"a")
        before = await pull(it)
        assert isinstance(before, Change) and before.key == P + "1"

        etcd.stop()
        etcd.start()
        await until_writable(other)
        await other.put(P + "2", b"b")
        await other.delete(P + "1")

        resumed = await asyncio.wait_for(anext(it), 15)
        assert resumed == Resumed(before.revision)
        after = [await pull(it), await pull(it)]
        assert all(isinstance(u, Change) for u in after), after  # resumed, not listed again
        assert [(u.key, u.value) for u in after if isinstance(u, Change)] == [(P + "2", b"b"), (P + "1", None)]
        await other.put(P + "3", b"c")
        live = await pull(it)
        assert isinstance(live, Change) and live.key == P + "3"
    finally:
        await it.aclose()  # type: ignore[attr-defined]
        await other.close()


async def test_compacted_revision_turns_into_a_fresh_snapshot(etcd: EtcdServer, store: EtcdStore) -> None:
    it = store.watch(P)
    other = await writer(etcd)
    try:
        assert isinstance(await pull(it), Snapshot)
        await other.put(P + "1", b"a")
        assert isinstance(await pull(it), Change)

        etcd.stop()
        etcd.start()
        await until_writable(other)
        for i in range(5):
            await other.put(P + "2", str(i).encode())
        await other.delete(P + "1")
        now, _ = await other.revision()
        await other.compact(now)

        update = await pull(it)
        assert isinstance(update, Snapshot), update
        assert update.entries == {P + "2": b"4"}
        await other.put(P + "3", b"c")
        live = await pull(it)
        assert isinstance(live, Change) and live.key == P + "3"
    finally:
        await it.aclose()  # type: ignore[attr-defined]
        await other.close()


async def test_etcd_that_lost_its_data_turns_into_a_fresh_snapshot(etcd: EtcdServer, store: EtcdStore) -> None:
    await store.put(P + "1", b"a")
    await store.put(P + "2", b"b")
    it = store.watch(P)
    other = await writer(etcd)
    try:
        first = await pull(it)
        assert isinstance(first, Snapshot) and set(first.entries) == {P + "1", P + "2"}
        await other.put(P + "2", b"b2")
        assert isinstance(await pull(it), Change)

        etcd.wipe()
        await until_writable(other)
        await other.put(P + "9", b"z")

        update = await pull(it)
        assert isinstance(update, Snapshot), update
        assert update.entries == {P + "9": b"z"}
    finally:
        await it.aclose()  # type: ignore[attr-defined]
        await other.close()


async def until_writable(store: EtcdStore, timeout: float = 10.0) -> None:
    from contivctl.errors import StoreError

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            await store.revision()
            return
        except StoreError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.02)
