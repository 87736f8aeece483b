"""The other nodes as this node sees them: their addresses, all derived from their record and ID.

Both dataplanes wire a remote node from the same ``RemoteNode`` value, so a
VPP node and a kernel node agree on where every other node's pods and
overlay end are. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress

import attrs

from contivctl.config.model import IPAMConfig
from contivctl.config.node import node_ip_exclusions
from contivctl.errors import IPAMError
from contivctl.ipam import subnets
from contivctl.iptypes import IPAddress, IPInterface, IPNetwork
from contivctl.model import NodeInfo
from contivctl.render import naming
from contivctl.render.inputs import VswitchInputs, l2_mode


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
    #: BVI MACs by Contiv-VPP v2.0's rule (LegacyBVIMACs)
    legacy_bvi_macs: bool = False

    def bvi_mac(self, node_id: int) -> str:
        """The BVI MAC of node ``node_id`` as this cluster computes it."""
        return naming.bvi_mac(node_id, self.legacy_bvi_macs)


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



def overlay_plan(inputs: VswitchInputs) -> OverlayPlan:
    cfg = inputs.config
    node_ip = inputs.plan.node_ip
    return OverlayPlan(
        node_id=inputs.plan.node_id,
        ipam=cfg.ipam,
        main_vrf=cfg.main_vrf_id,
        pod_vrf=cfg.pod_vrf_id,
        node_ip=None if node_ip is None else node_ip.ip,
        vxlan_ip=inputs.plan.vxlan_ip,
        l2=l2_mode(cfg),
        stn=inputs.eff.stn_mode,
        excluded=node_ip_exclusions(cfg),
        legacy_bvi_macs=cfg.legacy_bvi_macs,
    )
