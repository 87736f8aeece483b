"""Renderers of the VPP dataplane: pods, the vswitch base config, the other nodes.

- ``pod``: a pod's interface in the pod VRF (AF_PACKET on a veth, or a TAP), the
  TCP stack's loopback and STN rule, and the pod's own side;
- ``base``: the pod VRF and its gateway, NICs, the VPP ⇄ host interconnect,
  neighbour scanning, NAT of external traffic, the local half of the overlay;
- ``nodes``: per other node a VXLAN tunnel and its routes, or L2 routes;
- ``services``: per Kubernetes Service its NAT44 load-balanced mappings.
"""

from contivctl.items import Items, vpp
from contivctl.model import NodeInfo
from contivctl.render.inputs import VswitchInputs
from contivctl.render.remote import overlay_plan
from contivctl.render.renderers import Renderers
from contivctl.render.vpp.base import render_vswitch_base
from contivctl.render.vpp.nics import main_if_name
from contivctl.render.vpp.nodes import render_node
from contivctl.render.vpp.pod import pod_network, render_pod
from contivctl.render.vpp.services import render_service


def render_vpp_node(inputs: VswitchInputs, node: NodeInfo) -> Items:
    """This node's items towards ``node``."""
    return render_node(overlay_plan(inputs), node)


def main_interface_key(inputs: VswitchInputs) -> str:
    """The interface carrying the node IP: its DHCP lease, if it has a client, is the node's address."""
    return vpp.interface_key(main_if_name(inputs))


RENDERERS = Renderers(
    name="vpp",
    network=pod_network,
    pod=render_pod,
    base=render_vswitch_base,
    node=render_vpp_node,
    lease_interface=main_interface_key,
    service=render_service,
    service_node_ips=True,
)

__all__ = ["RENDERERS", "render_pod", "render_vpp_node", "render_vswitch_base"]
