from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from contivctl.testing.vppemu import Emulator

from .helpers import AsyncClient, connect, disconnect

NIC = "GigabitEthernet0/8/0"


@pytest.fixture
async def vpp(emu: Emulator) -> AsyncIterator[AsyncClient]:
    client = await connect(emu.socket_path)
    try:
        yield client
    finally:
        if client.socket_index in emu.clients:
            await disconnect(client)


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root for real network namespaces and tap devices")


@pytest.fixture
def root() -> None:
    _need_root()
