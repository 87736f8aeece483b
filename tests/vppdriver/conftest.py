from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contivctl.dataplane.vpp.connection import Backoff, VPPConnection
from contivctl.testing.vppemu import Emulator

NIC = "GigabitEthernet0/8/0"
API_DIR = str(Path(__file__).resolve().parents[2] / "contivctl" / "testing" / "vppemu" / "api")


def connection(emu: Emulator, **kw: object) -> VPPConnection:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("backoff", Backoff(initial=0.01, maximum=0.1))
    return VPPConnection(emu.socket_path, api_dir=API_DIR, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def vpp(emu: Emulator) -> AsyncIterator[VPPConnection]:
    conn = connection(emu)
    await conn.start(wait=5)
    try:
        yield conn
    finally:
        await conn.close()


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root for real network namespaces and devices")


@pytest.fixture
def veth() -> Iterator[str]:
    """A veth pair in the test's namespace (af_packet needs a host link); removed afterwards."""
    _need_root()
    name = f"vd{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], check=False)
