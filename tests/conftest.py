"""Fixtures every test package shares: a short socket directory and a VPP emulator."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contivctl.demo import cni_binary
from contivctl.testing.vppemu import Emulator, running_emulator
from tests.agent.support import Pods

#: the physical NIC the emulated VPP finds at boot, unless a package asks for others
NIC = "GigabitEthernet0/8/0"


@pytest.fixture
def sockdir() -> Iterator[Path]:
    """A short directory: unix socket paths must stay under 108 bytes."""
    d = Path(tempfile.mkdtemp(prefix="ctl-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
async def emu(sockdir: Path) -> AsyncIterator[Emulator]:
    async with running_emulator(sockdir, nics=[NIC]) as e:
        yield e


@pytest.fixture
def pods() -> Iterator[Pods]:
    """Pod namespaces and container IDs, with everything they led to removed afterwards."""
    p = Pods()
    try:
        yield p
    finally:
        p.cleanup()


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root for real network namespaces and devices")


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh named network namespace (its name), removed even if the test fails."""
    need_root()
    name = f"ctlns-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture(scope="session")
def contiv_cni() -> str:
    """bin/contiv-cni, built once per session when it is missing or older than cni-plugin/."""
    from tests.cni import support

    try:
        path = cni_binary.ensure()
    except cni_binary.PluginUnavailable as exc:
        pytest.fail(str(exc))
    support.PLUGIN[:] = [path]
    return path


def _host_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    return {line.split(":", 2)[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


@pytest.fixture(scope="session", autouse=True)
def nothing_left_in_the_host_namespace() -> Iterator[None]:
    """Tests make links only in namespaces of their own: one left in the machine's own breaks the next run.

    (A pod's retired veth is deleted by the kernel a moment later, so a few
    seconds are allowed before calling what is left a leak.)
    """
    if os.geteuid() != 0:
        yield
        return
    before = _host_links()
    yield
    import time

    deadline = time.monotonic() + 10
    while (left := _host_links() - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"tests left links in the host namespace: {sorted(left)}"
