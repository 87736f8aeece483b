"""Parts of STN that cannot work are refused where they are asked for, with the key that asked (no root)."""

from __future__ import annotations

import pytest

from contivctl.agent.kernel import KernelParts
from contivctl.config import parse_config
from contivctl.errors import ConfigError
from contivctl.ipam import node_setup


async def test_the_kernel_dataplane_refuses_stn() -> None:
    for key, value in (("StealInterface", "eth1"), ("StealFirstNIC", True)):
        cfg = parse_config({key: value})
        with pytest.raises(ConfigError, match=f"{key}: STN needs the VPP dataplane"):
            await KernelParts(scope="t").inputs(node_setup(cfg, "a", 1))
