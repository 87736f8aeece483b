from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import etcd_config
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
