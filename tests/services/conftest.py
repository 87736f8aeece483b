from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nodes.support import HostSide, host_side
from tests.services.support import SvcLab

# the kmock fix the node tests install (kubernetes_asyncio's watch=True)
importlib.import_module("tests.nodes.conftest")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@pytest.fixture
def svc_lab() -> Iterator[SvcLab]:
    made = SvcLab()
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture
def store_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="ctlsvc-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def side() -> Iterator[HostSide]:
    with host_side() as s:
        yield s
