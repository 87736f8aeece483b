"""Node events: what this node configures towards every other node of the cluster.

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
from typing import Any

import attrs

from contivctl.config.convert import IPAddress, IPInterface, IPNetwork
from contivctl.config.model import IPAMConfig
from contivctl.errors import IPAMError
from contivctl.ipam import subnets
from contivctl.items import vpp
from contivctl.model import NodeInfo
from contivctl.render import node_naming as nn


@attrs.frozen
class OverlayPlan:
    """This node's side of the node-to-node wiring."""

    node_id: int
    ipam: IPAMConfig
    main_vrf: int
    pod_vrf: int
    #: this node's interconnect address; None while unknown (DHCP without a lease yet)
    node_ip: IPAddress | None
    vxlan_ip: IPInterface
    l2: bool = False
    stn: bool = False
    #: addresses skipped when computing node IPs from NodeInterconnectCIDR (file gateways)
    excluded: tuple[IPAddress, ...] = ()


@attrs.frozen
class RemoteNode:
    """What this node needs to know of another node, all derived from its record and its ID."""

    id: int
    node_ip: IPAddress
    vxlan_ip: IPAddress
    pod_subnet: IPNetwork
    vpp_host_subnet: IPNetwork
    management_ips: tuple[IPAddress, ...]


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_interface(text.strip()).ip
    except ValueError:
        return None


def remote_node(plan: OverlayPlan, node: NodeInfo) -> RemoteNode | None:
    """The other node's addresses, or None when it cannot be wired (yet)."""
    ipam = plan.ipam
    if ipam.pod_subnet_cidr is None or ipam.vpp_host_subnet_cidr is None or ipam.vxlan_cidr is None:
        return None
    given = [a for a in (_address(t) for t in node.ip_addresses) if a is not None]
    try:
        if given:
            node_ip: IPAddress = given[0]
        elif ipam.node_interconnect_cidr is not None and not ipam.node_interconnect_dhcp:
            node_ip = subnets.indexed_address(ipam.node_interconnect_cidr, node.id, plan.excluded).ip
        else:
            return None  # a DHCP node that has not published its lease yet
        pod = subnets.node_subnet(ipam.pod_subnet_cidr, ipam.pod_network_prefix_len, node.id)
        host = subnets.node_subnet(ipam.vpp_host_subnet_cidr, ipam.vpp_host_network_prefix_len, node.id)
        vxlan_ip = subnets.indexed_address(ipam.vxlan_cidr, node.id).ip
    except IPAMError:
        return None  # an ID outside the ranges: nothing of it can be routed
    own = set(given) | {node_ip}
    mgmt: list[IPAddress] = []
    for text in node.management_ips:
        m = _address(text)
        # A management address that is also the node's interconnect address
        # must stay reachable in the main VRF: the tunnel itself runs to it.
        if m is not None and m not in own and m != vxlan_ip and m not in mgmt:
            mgmt.append(m)
    return RemoteNode(node.id, node_ip, vxlan_ip, pod, host, tuple(mgmt))


def _host(ip: IPAddress) -> str:
    return f"{ip}/{ip.max_prefixlen}"


def render_overlay_base(plan: OverlayPlan) -> dict[str, Any]:
    """The local half of the overlay: BVI and bridge domain (nothing in L2 mode)."""
    if plan.l2:
        return {}
    items: list[Any] = [
        vpp.Interface(name=nn.VXLAN_BVI, link=vpp.Loopback(), vrf=plan.pod_vrf, mac=nn.bvi_mac(plan.node_id)),
        vpp.Address(interface=nn.VXLAN_BVI, address=str(plan.vxlan_ip)),
        vpp.BridgeDomain(name=nn.VXLAN_BD, bd_id=nn.VXLAN_BD_ID, flood=False, uu_flood=False, learn=False),
        vpp.BridgeDomainMember(bd=nn.VXLAN_BD, interface=nn.VXLAN_BVI, bvi=True, shg=nn.VXLAN_SPLIT_HORIZON),
    ]
    return vpp.keyed(*items)


def render_node(plan: OverlayPlan, node: NodeInfo) -> dict[str, Any]:
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


def _render_vxlan(plan: OverlayPlan, r: RemoteNode) -> dict[str, Any]:
    assert plan.node_ip is not None
    tunnel = nn.vxlan_tunnel_name(r.id)
    mac = nn.bvi_mac(r.id)
    nh = str(r.vxlan_ip)
    items: list[Any] = [
        vpp.Interface(
            name=tunnel,
            link=vpp.Vxlan(src=str(plan.node_ip), dst=str(r.node_ip), vni=nn.VXLAN_VNI, encap_vrf=plan.main_vrf),
            vrf=plan.main_vrf,
        ),
        vpp.BridgeDomainMember(bd=nn.VXLAN_BD, interface=tunnel, shg=nn.VXLAN_SPLIT_HORIZON),
        vpp.Neighbor(interface=nn.VXLAN_BVI, ip=nh, mac=mac),
        vpp.L2FibEntry(bd=nn.VXLAN_BD, mac=mac, interface=tunnel),
        vpp.Route(vrf=plan.pod_vrf, dst=str(r.pod_subnet), next_hop=nh, interface=nn.VXLAN_BVI),
        vpp.Route(vrf=plan.pod_vrf, dst=str(r.vpp_host_subnet), next_hop=nh, interface=nn.VXLAN_BVI),
    ]
    for m in r.management_ips:
        items.append(vpp.Route(vrf=plan.pod_vrf, dst=_host(m), next_hop=nh, interface=nn.VXLAN_BVI))
        if not plan.stn:
            items.append(vpp.Route(vrf=plan.main_vrf, dst=_host(m), lookup_vrf=plan.pod_vrf))
    return vpp.keyed(*items)


def _render_l2(plan: OverlayPlan, r: RemoteNode) -> dict[str, Any]:
    nh = str(r.node_ip)
    dsts = [str(r.pod_subnet), str(r.vpp_host_subnet), *(_host(m) for m in r.management_ips)]
    return vpp.keyed(*(vpp.Route(vrf=plan.main_vrf, dst=d, next_hop=nh) for d in dsts))


def render_nodes(plan: OverlayPlan, nodes: dict[int, NodeInfo]) -> dict[int, dict[str, Any]]:
    """Items per remote node ID (nodes that cannot be wired yet map to an empty dict)."""
    return {node_id: render_node(plan, node) for node_id, node in nodes.items()}
