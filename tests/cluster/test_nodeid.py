"""Node ID allocation against a real etcd: the original's algorithm and data, and the #1492 fix."""

from __future__ import annotations

import asyncio
import json

import pytest

from contivctl.cluster.nodeid import LOCAL_KEY, MAX_ATTEMPTS, allocate_node_id, claim_node_id, remembered_id
from contivctl.cluster.record import ALLOCATED_IDS, decode, encode, id_key
from contivctl.errors import NodeIDConflict, NodeIDUnavailable
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import etcd_config
from contivctl.model import NodeInfo
from contivctl.testing.etcd import EtcdServer, free_port
from tests.cluster.conftest import MemoryStore, store_for

ORIGINAL_RECORD = b'{"id":1,"name":"k8s-master","ip_address":"192.168.16.1/24","management_ip_address":"10.20.0.2"}'


async def test_concurrent_allocators_get_distinct_ids(etcd: EtcdServer) -> None:
    stores = [store_for(etcd) for _ in range(6)]
    try:
        ids = await asyncio.gather(*(allocate_node_id(s, MemoryStore(), f"node-{i}") for i, s in enumerate(stores)))
        assert sorted(ids) == [1, 2, 3, 4, 5, 6]
        records = await stores[0].list(ALLOCATED_IDS)
        names = {decode(v, k).name: decode(v, k).id for k, v in records.items()}
        assert names == {f"node-{i}": ids[i] for i in range(6)}
    finally:
        for s in stores:
            await s.close()


async def test_restarted_node_keeps_its_id(store: EtcdStore) -> None:
    local = MemoryStore()
    first = await allocate_node_id(store, local, "node-a")
    await allocate_node_id(store, MemoryStore(), "node-b")
    assert await allocate_node_id(store, local, "node-a") == first
    # Even with its local store gone, etcd's record under its name gives the same ID back.
    assert await allocate_node_id(store, MemoryStore(), "node-a") == first


async def test_smallest_free_id_is_taken(store: EtcdStore) -> None:
    for name in ("a", "b", "c"):
        await allocate_node_id(store, MemoryStore(), name)
    assert await store.delete(id_key(2))
    assert await allocate_node_id(store, MemoryStore(), "d") == 2
    assert await allocate_node_id(store, MemoryStore(), "e") == 4


async def test_record_of_the_original_is_reused_and_respected(store: EtcdStore) -> None:
    await store.put(id_key(1), ORIGINAL_RECORD)
    node = decode(ORIGINAL_RECORD, id_key(1))
    assert node == NodeInfo(1, "k8s-master", ("192.168.16.1/24",), ("10.20.0.2",))
    local = MemoryStore()
    assert await allocate_node_id(store, local, "k8s-master") == 1
    assert await store.get(id_key(1)) == ORIGINAL_RECORD  # reusing does not rewrite it
    assert await allocate_node_id(store, MemoryStore(), "k8s-worker1", ip_addresses=["192.168.16.2/24"]) == 2
    written = json.loads(await store.get(id_key(2)) or b"")
    # What the original agent reads (id, name, ip_address) is there, in its key names.
    assert written == {
        "id": 2,
        "name": "k8s-worker1",
        "ip_address": "192.168.16.2/24",
        "ip_addresses": ["192.168.16.2/24"],
    }


async def test_unreadable_record_keeps_its_id_taken(store: EtcdStore) -> None:
    await store.put(id_key(1), b"not json")
    await store.put(ALLOCATED_IDS + "junk", b"{}")
    assert await allocate_node_id(store, MemoryStore(), "a") == 2


async def test_etcd_wiped_node_reclaims_its_own_id(etcd: EtcdServer, store: EtcdStore) -> None:
    """#1492: etcd loses its data; a restarting node must come back with the ID its subnet is from."""
    locals_ = {name: MemoryStore() for name in ("a", "b", "c")}
    ids = {name: await allocate_node_id(store, local, name) for name, local in locals_.items()}
    assert ids == {"a": 1, "b": 2, "c": 3}
    etcd.wipe()
    # b restarts first: the original would hand it ID 1 (smallest free) — a's subnet.
    assert await allocate_node_id(store, locals_["b"], "b") == 2
    assert await allocate_node_id(store, locals_["c"], "c") == 3
    assert decode(await store.get(id_key(2)) or b"", id_key(2)).name == "b"
    assert await allocate_node_id(store, locals_["a"], "a") == 1


async def test_etcd_wiped_and_id_taken_by_another_node_refuses_to_start(etcd: EtcdServer, store: EtcdStore) -> None:
    local_a = MemoryStore()
    assert await allocate_node_id(store, local_a, "a") == 1
    assert await allocate_node_id(store, MemoryStore(), "b") == 2
    etcd.wipe()
    assert await allocate_node_id(store, MemoryStore(), "newcomer") == 1
    with pytest.raises(NodeIDConflict, match=r"node ID 1.*'a'.*'newcomer'"):
        await allocate_node_id(store, local_a, "a")
    assert decode(await store.get(id_key(1)) or b"", id_key(1)).name == "newcomer"  # left alone
    assert await remembered_id(local_a) is not None  # and a still remembers its ID


async def test_local_memory_follows_etcd_when_etcd_names_another_id(store: EtcdStore) -> None:
    local = MemoryStore()
    await local.put(LOCAL_KEY, b'{"id": 7, "name": "a"}')
    await store.put(id_key(3), encode(NodeInfo(3, "a")))
    assert await allocate_node_id(store, local, "a") == 3
    remembered = await remembered_id(local)
    assert remembered is not None and remembered.id == 3


async def test_gives_up_after_eleven_tries(store: EtcdStore) -> None:
    """Every create loses (the key appears between list and create): the original's attempt limit."""
    tries = 0
    real_create = store.create

    async def losing_create(key: str, value: bytes, *, lease: int | None = None) -> bool:
        nonlocal tries
        tries += 1
        await store.put(key, encode(NodeInfo(int(key.rsplit("/", 1)[1]), f"racer-{tries}")))
        return await real_create(key, value)

    store.create = losing_create  # type: ignore[method-assign]
    with pytest.raises(NodeIDUnavailable, match="max attempt limit"):
        await allocate_node_id(store, MemoryStore(), "unlucky")
    assert tries == MAX_ATTEMPTS


async def test_claim_without_etcd_uses_the_remembered_id() -> None:
    down = EtcdStore(etcd_config([f"127.0.0.1:{free_port()}"], dial_timeout=0.3, op_timeout=0.3))
    try:
        local = MemoryStore()
        with pytest.raises(NodeIDUnavailable, match="no node ID yet"):
            await claim_node_id(down, local, "a")
        await local.put(LOCAL_KEY, b'{"id": 4, "name": "a"}')
        claim = await claim_node_id(down, local, "a")
        assert (claim.id, claim.confirmed) == (4, False)
    finally:
        await down.close()


async def test_claim_with_etcd_is_confirmed(store: EtcdStore) -> None:
    claim = await claim_node_id(store, MemoryStore(), "a")
    assert (claim.id, claim.confirmed) == (1, True)
