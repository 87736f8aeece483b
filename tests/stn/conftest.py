from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.stn.support import StandInNic, stand_in_nic

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@pytest.fixture
def nic() -> Iterator[StandInNic]:
    with stand_in_nic() as n:
        yield n
