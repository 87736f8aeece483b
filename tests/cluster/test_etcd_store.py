"""The etcd store against a real etcd: the Store protocol, conditional writes, leases, TLS, outages."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from contivctl.errors import StoreError
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import etcd_config
from contivctl.kv.store import Commit
from contivctl.testing.etcd import EtcdServer, free_port, make_certificates
from tests.cluster.conftest import store_for


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


async def test_store_protocol(store: EtcdStore) -> None:
    await store.put("/t/pods/a", b"1")
    await store.put("/t/pods/b", b"2")
    await store.put("/t/podsx/c", b"3")
    assert await store.get("/t/pods/a") == b"1"
    assert await store.get("/t/none") is None
    assert await store.list("/t/pods/") == {"/t/pods/a": b"1", "/t/pods/b": b"2"}
    assert await store.delete("/t/pods/a") is True
    assert await store.delete("/t/pods/a") is False
    await store.commit(Commit(puts={"/t/x": b"x", "/t/y": b"y"}, deletes=["/t/pods/b"]))
    assert await store.list("/t/") == {"/t/podsx/c": b"3", "/t/x": b"x", "/t/y": b"y"}
    assert await store.delete_prefix("/t/") == 3
    assert await store.list("/t/") == {}


async def test_commit_is_atomic(store: EtcdStore) -> None:
    await store.put("/t/keep", b"1")
    # etcd refuses a transaction that writes and deletes the same key: nothing of it may land.
    with pytest.raises(StoreError):
        await store.commit(Commit(puts={"/t/new": b"n", "/t/keep": b"2"}, deletes=["/t/keep"]))
    assert await store.list("/t/") == {"/t/keep": b"1"}


async def test_create_only_when_absent_and_replace_on_revision(store: EtcdStore) -> None:
    assert await store.create("/t/id/1", b"a") is True
    assert await store.create("/t/id/1", b"b") is False
    entry = await store.get_entry("/t/id/1")
    assert entry is not None and entry.value == b"a" and entry.version == 1
    assert await store.replace("/t/id/1", b"c", entry.mod_revision) is True
    assert await store.replace("/t/id/1", b"d", entry.mod_revision) is False
    assert await store.get("/t/id/1") == b"c"
    assert await store.delete("/t/id/1")
    assert await store.create("/t/id/1", b"e") is True  # a deleted key's version is 0 again


async def test_concurrent_creates_have_one_winner(etcd: EtcdServer) -> None:
    stores = [store_for(etcd) for _ in range(5)]
    try:
        results = await asyncio.gather(*(s.create("/t/race", str(i).encode()) for i, s in enumerate(stores)))
        assert sorted(results) == [False] * 4 + [True]
        winner = results.index(True)
        assert await stores[0].get("/t/race") == str(winner).encode()
    finally:
        for s in stores:
            await s.close()


async def test_unreachable_etcd_is_a_store_error_naming_the_endpoint() -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    store = EtcdStore(etcd_config([endpoint], dial_timeout=0.5, op_timeout=0.5))
    try:
        with pytest.raises(StoreError, match=endpoint):
            await store.connect()
        with pytest.raises(StoreError, match=endpoint):
            await store.get("/x")
    finally:
        await store.close()


async def test_stopped_etcd_fails_calls_and_the_store_recovers(etcd: EtcdServer, store: EtcdStore) -> None:
    await store.put("/t/a", b"1")
    etcd.stop()
    with pytest.raises(StoreError):
        await store.put("/t/a", b"2")
    etcd.start()

    async def back() -> bool:
        try:
            return await store.get("/t/a") == b"1"
        except StoreError:
            return False

    await until(back)


async def test_failover_to_the_next_endpoint(etcd: EtcdServer) -> None:
    dead = f"127.0.0.1:{free_port()}"
    store = EtcdStore(etcd_config([dead, etcd.endpoint], dial_timeout=0.5, op_timeout=1.0))
    try:
        await store.connect()
        assert store.endpoint == etcd.endpoint
        await store.put("/t/a", b"1")
        assert await store.get("/t/a") == b"1"
    finally:
        await store.close()


async def test_kept_lease_outlives_its_ttl_and_expires_once_dropped(store: EtcdStore) -> None:
    lease = await store.grant(1)
    assert await store.create("/t/alive", b"yes", lease=lease.id)

    async def refreshed() -> bool:
        return lease.refreshes >= 4  # four refreshes a third of the TTL apart: more than the TTL has passed

    await until(refreshed)
    assert await store.get("/t/alive") == b"yes"
    assert not lease.lost.is_set()
    await lease.close(revoke=False)

    async def expired() -> bool:
        return await store.get("/t/alive") is None

    await until(expired)


async def test_lease_revoked_elsewhere_is_reported_lost(etcd: EtcdServer, store: EtcdStore) -> None:
    lease = await store.grant(2)
    other = store_for(etcd)
    try:
        await other.client().revoke_lease(lease.id)
    finally:
        await other.close()
    await asyncio.wait_for(lease.lost.wait(), 10)
    await lease.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make certificates")
async def test_tls_with_client_certificates(tmp_path: Path) -> None:
    tls = make_certificates(tmp_path)
    server = EtcdServer(tls=tls)
    try:
        server.start()
        secure = EtcdStore(
            etcd_config(
                [f"https://{server.endpoint}"],
                ca_file=tls.ca_file,
                cert_file=tls.client_cert,
                key_file=tls.client_key,
                dial_timeout=2,
                op_timeout=2,
            )
        )
        plain = EtcdStore(etcd_config([server.endpoint], dial_timeout=0.5, op_timeout=0.5))
        try:
            await secure.connect()
            await secure.put("/t/tls", b"ok")
            assert await secure.get("/t/tls") == b"ok"
            with pytest.raises(StoreError):
                await plain.get("/t/tls")
        finally:
            await secure.close()
            await plain.close()
    finally:
        server.close()
