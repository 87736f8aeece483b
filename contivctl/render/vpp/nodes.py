"""This node's VPP items towards every other node of the cluster.

VXLAN mode (the default): one BVI loopback in the pod VRF carrying this
node's VXLAN address, one bridge domain, and per other node one VXLAN
tunnel (VNI 10, from this node's IP to that node's IP) in the bridge
domain, a static ARP entry and a static L2 FIB entry for that node's BVI
MAC, and routes in the pod VRF to its pod subnet, its VPP-host subnet and
its management addresses via its VXLAN address. L2 mode: no overlay, the
same destinations are routed in the main VRF via the other node's IP.

Everything of one remote node is rendered by ``render_node`` alone, from
that node and this node's plan, so a node joining, changing its address
or leaving changes exactly its own items. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress

from contivctl.items import Item, Items, keyed, vpp
from contivctl.model import NodeInfo
from contivctl.render import naming
from contivctl.render.remote import OverlayPlan, RemoteNode, remote_node
from contivctl.render.vpp import names as nn


def render_overlay_base(plan: OverlayPlan) -> Items:
    """The local half of the overlay: BVI and bridge domain (nothing in L2 mode)."""
    if plan.l2:
        return {}
    items: list[Item] = [
        vpp.Interface(name=nn.VXLAN_BVI, link=vpp.Loopback(), vrf=plan.pod_vrf, mac=plan.bvi_mac(plan.node_id)),
        vpp.Address(interface=nn.VXLAN_BVI, address=plan.vxlan_ip),
        vpp.BridgeDomain(name=nn.VXLAN_BD, bd_id=nn.VXLAN_BD_ID, flood=False, uu_flood=False, learn=False),
        vpp.BridgeDomainMember(bd=nn.VXLAN_BD, interface=nn.VXLAN_BVI, bvi=True, shg=nn.VXLAN_SPLIT_HORIZON),
    ]
    return keyed(*items)


def render_node(plan: OverlayPlan, node: NodeInfo) -> Items:
    """Every item this node needs towards ``node``; empty when it is this node or cannot be wired."""
    if node.id == plan.node_id:
        return {}
    remote = remote_node(plan, node)
    if remote is None:
        return {}
    if plan.l2:
        return _render_l2(plan, remote)
    if plan.node_ip is None or plan.node_ip == remote.node_ip:
        return {}  # a tunnel needs both ends' addresses, and distinct ones
    return _render_vxlan(plan, remote)


def _render_vxlan(plan: OverlayPlan, r: RemoteNode) -> Items:
    assert plan.node_ip is not None
    tunnel = nn.vxlan_tunnel_name(r.id)
    mac = plan.bvi_mac(r.id)
    nh = r.vxlan_ip
    items: list[Item] = [
        vpp.Interface(
            name=tunnel,
            link=vpp.Vxlan(src=plan.node_ip, dst=r.node_ip, vni=naming.VXLAN_VNI, encap_vrf=plan.main_vrf),
            vrf=plan.main_vrf,
        ),
        vpp.BridgeDomainMember(bd=nn.VXLAN_BD, interface=tunnel, shg=nn.VXLAN_SPLIT_HORIZON),
        vpp.Neighbor(interface=nn.VXLAN_BVI, ip=nh, mac=mac),
        vpp.L2FibEntry(bd=nn.VXLAN_BD, mac=mac, interface=tunnel),
        vpp.Route(vrf=plan.pod_vrf, dst=r.pod_subnet, next_hop=nh, interface=nn.VXLAN_BVI),
        vpp.Route(vrf=plan.pod_vrf, dst=r.vpp_host_subnet, next_hop=nh, interface=nn.VXLAN_BVI),
    ]
    for m in r.management_ips:
        host = ipaddress.ip_network(m)
        items.append(vpp.Route(vrf=plan.pod_vrf, dst=host, next_hop=nh, interface=nn.VXLAN_BVI))
        if not plan.stn:
            items.append(vpp.Route(vrf=plan.main_vrf, dst=host, lookup_vrf=plan.pod_vrf))
    return keyed(*items)


def _render_l2(plan: OverlayPlan, r: RemoteNode) -> Items:
    dsts = [r.pod_subnet, r.vpp_host_subnet, *(ipaddress.ip_network(m) for m in r.management_ips)]
    return keyed(*(vpp.Route(vrf=plan.main_vrf, dst=d, next_hop=r.node_ip) for d in dsts))


def render_nodes(plan: OverlayPlan, nodes: dict[int, NodeInfo]) -> dict[int, Items]:
    """Items per remote node ID (nodes that cannot be wired yet map to an empty dict)."""
    return {node_id: render_node(plan, node) for node_id, node in nodes.items()}
