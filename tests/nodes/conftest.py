from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contivctl.testing.vppemu import Emulator, running_emulator
from tests.nodes.support import HostSide, host_side

NICS = ["GigabitEthernet0/8/0", "GigabitEthernet0/9/0"]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@pytest.fixture
async def emu(sockdir: Path) -> AsyncIterator[Emulator]:
    async with running_emulator(sockdir, nics=NICS) as e:
        yield e


@pytest.fixture
def side() -> Iterator[HostSide]:
    with host_side() as s:
        yield s


# kubernetes_asyncio asks for a watch with ``watch=True``; kmock recognises only
# ``watch=true`` (the form kubectl and client-go send). Normalise it on the server side.
def _kmock_watch_fix() -> None:
    import kmock._internal.parsing as kmock_parsing

    original = kmock_parsing.guess_k8s

    def guess_k8s(k8s: object, method: object, query: dict[str, str]) -> object:
        if str(query.get("watch", "")).lower() == "true":
            query = {**query, "watch": "true"}
        return original(k8s, method, query)  # type: ignore[arg-type]

    kmock_parsing.guess_k8s = guess_k8s  # type: ignore[assignment]


_kmock_watch_fix()
