"""NICs backed by a Linux link: VPP takes one at boot only when Linux let go of it (down, no IPv4 address)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from contivctl.testing.vppemu import running_emulator

from .helpers import connect, disconnect, dump

pytestmark = pytest.mark.usefixtures("root")

NIC = "GigabitEthernet0/9/0"


@pytest.fixture
def lan() -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    netns, link = f"stn{tag}-emu", f"stn{tag}n"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run(
            ["ip", "-n", netns, "link", "add", link, "type", "veth", "peer", "name", f"stn{tag}p"], check=True
        )
        yield netns, link
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)


async def _nics(socket_path: str) -> list[str]:
    client = await connect(socket_path)
    try:
        return [str(d.interface_name) for d in await dump(client, "sw_interface_dump")]
    finally:
        await disconnect(client)


async def test_a_free_link_is_taken_an_active_one_skipped(sockdir: Path, lan: tuple[str, str]) -> None:
    netns, link = lan
    subprocess.run(["ip", "-n", netns, "addr", "add", "10.9.9.5/24", "dev", link], check=True)
    subprocess.run(["ip", "-n", netns, "link", "set", link, "up"], check=True)
    async with running_emulator(sockdir, host_nics={NIC: (netns, link)}) as emu:
        assert NIC not in await _nics(emu.socket_path)
        assert emu.skipped_nics == {NIC: f"{link} is up in Linux"}
        subprocess.run(["ip", "-n", netns, "link", "set", link, "down"], check=True)
        await emu.restart()
        assert emu.skipped_nics == {NIC: f"{link} has IPv4 addresses in Linux"}
        subprocess.run(["ip", "-n", netns, "addr", "flush", "dev", link], check=True)
        await emu.restart()  # what a VPP started after the steal sees
        assert emu.skipped_nics == {}
        assert await _nics(emu.socket_path) == ["local0", NIC]


async def test_a_missing_link_is_skipped(sockdir: Path, lan: tuple[str, str]) -> None:
    netns, _ = lan
    async with running_emulator(sockdir, nics=["GigabitEthernet0/8/0"], host_nics={NIC: (netns, "stnnothere")}) as emu:
        assert await _nics(emu.socket_path) == ["local0", "GigabitEthernet0/8/0"]
        assert emu.skipped_nics == {NIC: "there is no link stnnothere"}
