from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import etcd_config
from contivctl.kv.store import Commit
from contivctl.testing.etcd import ETCD_BINARY, EtcdServer

if shutil.which(ETCD_BINARY) is None:
    pytest.skip(f"{ETCD_BINARY} (Debian package etcd-server) is not installed", allow_module_level=True)


@pytest.fixture
def etcd() -> Iterator[EtcdServer]:
    """A fresh single-member etcd per test; stopped and its data removed afterwards."""
    server = EtcdServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


def store_for(server: EtcdServer, **kw: float) -> EtcdStore:
    return EtcdStore(etcd_config([server.endpoint], dial_timeout=kw.get("dial", 2.0), op_timeout=kw.get("op", 2.0)))


@pytest.fixture
async def store(etcd: EtcdServer) -> AsyncIterator[EtcdStore]:
    s = store_for(etcd)
    await s.connect()
    try:
        yield s
    finally:
        await s.close()


class MemoryStore:
    """A node's local store for tests that do not need it on disk."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    async def list(self, prefix: str) -> dict[str, bytes]:
        return {k: v for k, v in sorted(self.data.items()) if k.startswith(prefix)}

    async def put(self, key: str, value: bytes) -> None:
        self.data[key] = value

    async def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None

    async def commit(self, commit: Commit) -> None:
        self.data.update(commit.puts)
        for key in commit.deletes:
            self.data.pop(key, None)

    async def close(self) -> None:
        pass


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll an async predicate until it holds; fail the test at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)
