from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kernel.support import Lab, lab

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@pytest.fixture
def the_lab() -> Iterator[Lab]:
    with lab() as made:
        yield made


@pytest.fixture
def store_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="ctlkernel-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
