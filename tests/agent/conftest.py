from __future__ import annotations

import os

import pytest

if os.geteuid() != 0:
    pytest.skip("pod wiring tests need root", allow_module_level=True)
