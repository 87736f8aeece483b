from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contivctl.testing.vppemu import Emulator, running_emulator
from tests.agent.support import Pods


@pytest.fixture
def sockdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="ctlcni-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
async def emu(sockdir: Path) -> AsyncIterator[Emulator]:
    async with running_emulator(sockdir, nics=["GigabitEthernet0/8/0"]) as e:
        yield e


@pytest.fixture
def pods() -> Iterator[Pods]:
    p = Pods()
    try:
        yield p
    finally:
        p.cleanup()
