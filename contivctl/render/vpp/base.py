"""The whole vswitch base config of one VPP node: everything but the pods and the other nodes."""

from __future__ import annotations

from contivctl.items import Items
from contivctl.render.inputs import VswitchInputs
from contivctl.render.remote import overlay_plan
from contivctl.render.vpp.interconnect import render_interconnect
from contivctl.render.vpp.nat import render_nat
from contivctl.render.vpp.nics import render_neighbor_config, render_nics
from contivctl.render.vpp.nodes import render_overlay_base
from contivctl.render.vpp.pod_vrf import pod_vrf_plan, render_pod_vrf
from contivctl.render.vpp.services import render_service_base
from contivctl.render.vpp.stn import render_stn


def render_vswitch_base(inputs: VswitchInputs) -> Items:
    """Pod VRF, NICs, gateway, host interconnect (or STN's), neighbour scanning, NAT and the overlay's local half."""
    items: Items = {}
    items.update(render_pod_vrf(pod_vrf_plan(inputs)))
    items.update(render_nics(inputs))
    items.update(render_interconnect(inputs))
    items.update(render_stn(inputs))
    items.update(render_neighbor_config(inputs))
    items.update(render_nat(inputs))
    items.update(render_service_base(inputs))
    items.update(render_overlay_base(overlay_plan(inputs)))
    return items
