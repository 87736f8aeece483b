from __future__ import annotations

import pytest
from reconcile_support import World, make_world


@pytest.fixture
def world() -> World:
    return make_world()
