"""API handlers, one module per API area; importing a module registers its handlers."""

from __future__ import annotations

import importlib

MODULES = ("interface", "ip", "neighbor", "l2", "vxlan", "devices", "nat", "services", "dhcp", "vpe", "punt")


def load_all() -> None:
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
