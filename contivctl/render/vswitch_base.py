"""The whole vswitch base config of one node (besides the pod VRF of render/vswitch.py)."""

from __future__ import annotations

from typing import Any

from contivctl.render.base import VswitchInputs, overlay_plan
from contivctl.render.interconnect import render_interconnect
from contivctl.render.nat import render_nat
from contivctl.render.nics import render_neighbor_config, render_nics
from contivctl.render.nodes import render_overlay_base


def render_vswitch_base(inputs: VswitchInputs) -> dict[str, Any]:
    """NICs, gateway, host interconnect, neighbour scanning, NAT and the local half of the overlay."""
    items: dict[str, Any] = {}
    items.update(render_nics(inputs))
    items.update(render_interconnect(inputs))
    items.update(render_neighbor_config(inputs))
    items.update(render_nat(inputs))
    items.update(render_overlay_base(overlay_plan(inputs)))
    return items
