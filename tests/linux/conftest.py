"""Real network namespaces for the Linux driver tests, always removed afterwards."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

if os.geteuid() != 0:
    pytest.skip("the Linux driver tests need root", allow_module_level=True)


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def make_netns() -> Iterator[object]:
    """A factory of fresh named namespaces; returns their /var/run/netns paths."""
    made: list[str] = []

    def make() -> str:
        name = f"ctl-{uuid.uuid4().hex[:8]}"
        _run("ip", "netns", "add", name)
        made.append(name)
        return f"/var/run/netns/{name}"

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
