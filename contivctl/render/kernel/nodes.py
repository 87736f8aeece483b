"""The kernel dataplane's items towards one other node, rendered from that node alone.

VXLAN mode, per other node: a permanent neighbour entry its VXLAN address →
its BVI MAC and an FDB entry that MAC → its node IP on the VXLAN device, and
a route to its pod subnet via its VXLAN address. L2 mode: a route to its pod
subnet via its node IP, out of whatever link faces it.

Its VPP-host subnet is not routed (a kernel node has no VPP ⇄ host link),
nor are its management addresses: the vswitch namespace is the host's own,
so they are reached over the underlay as they are.
"""

from __future__ import annotations

from contivctl.items import Items, keyed
from contivctl.items import kernel as kx
from contivctl.items import linux as lx
from contivctl.model import NodeInfo
from contivctl.render.inputs import VswitchInputs
from contivctl.render.kernel.names import VXLAN_DEV, vxlan_dev_key
from contivctl.render.remote import overlay_plan, remote_node


def render_kernel_node(inputs: VswitchInputs, node: NodeInfo) -> Items:
    """Every item this node needs towards ``node``; empty when it is this node or cannot be wired."""
    plan = overlay_plan(inputs)
    if node.id == plan.node_id:
        return {}
    remote = remote_node(plan, node)
    if remote is None:
        return {}
    netns = inputs.host_netns
    if plan.l2:
        return keyed(kx.GatewayRoute(netns=netns, dst=remote.pod_subnet, via=remote.node_ip))
    if plan.node_ip is None or plan.node_ip == remote.node_ip:
        return {}  # a tunnel needs both ends' addresses, and distinct ones
    dev = vxlan_dev_key(netns)
    mac = plan.bvi_mac(remote.id)
    own_vxlan = lx.Address(netns=netns, ifname=VXLAN_DEV, address=inputs.plan.vxlan_ip, link=dev)
    return keyed(
        lx.Neighbour(netns=netns, ifname=VXLAN_DEV, ip=remote.vxlan_ip, mac=mac, link=dev),
        kx.FdbEntry(netns=netns, ifname=VXLAN_DEV, mac=mac, dst=remote.node_ip, link=dev),
        lx.Route(
            netns=netns,
            dst=remote.pod_subnet,
            dev=VXLAN_DEV,
            link=dev,
            via=remote.vxlan_ip,
            requires=(own_vxlan.key,),
        ),
    )

