from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


#: the names a demo gives its namespaces (other tests may run beside it: only these are the demo's)
DEMO_NETNS = "cdemo-"
#: the names of the node-level links a demo makes inside its namespaces (in the host's, one would be a
#: leak); pod veths (cv…) are left out: other tests and benches make those in the host's namespace
DEMO_LINK = re.compile(r"^(ul\d+|nic0|br0|contiv-vxlan)(@.*)?$")


def netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {n for n in (line.split()[0] for line in out.splitlines() if line.strip()) if n.startswith(DEMO_NETNS)}


def host_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {n for n in (line.split(":")[1].strip() for line in out.splitlines()) if DEMO_LINK.match(n)}


def processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited meanwhile
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


@attrs.frozen
class Machine:
    """What the host had before a demo: the demo must leave exactly this behind."""

    netns: set[str]
    links: set[str]


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A private state directory (never the user's /run/contivctl-demo); anything left is removed, then failed."""
    d = Path(tempfile.mkdtemp(prefix="cdemo-test-", dir="/tmp"))
    before = Machine(netns_names(), host_links())
    try:
        yield d
    finally:
        leftover_procs = processes_mentioning(str(d))
        from contivctl.demo.run import demo_down

        if (d / "state.json").exists():
            with open(os.devnull, "w") as sink:
                demo_down(d, sink)
        shutil.rmtree(d, ignore_errors=True)
        assert not leftover_procs, leftover_procs
        assert netns_names() - before.netns == set()
        assert host_links() - before.links == set()
