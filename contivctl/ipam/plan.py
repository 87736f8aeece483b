"""Every address one node owns, computed at once from its ID.

The plan is what the renderers and the REST endpoint read; computing it in
one place means an ID that does not fit any range fails once, at start, with
a message naming the range, instead of deep inside wiring.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from contivctl.config.model import IPAMConfig
from contivctl.errors import IPAMError
from contivctl.ipam import subnets
from contivctl.iptypes import IPAddress, IPInterface, IPNetwork

#: Sequence numbers inside a node's pod subnet that never go to a pod.
GATEWAY_SEQ = 1
FIRST_POD_SEQ = 2


@attrs.frozen
class NodeAddressPlan:
    node_id: int
    pod_subnet_cidr: IPNetwork
    pod_subnet_this_node: IPNetwork
    pod_gateway: IPAddress
    pod_ip_first: IPAddress
    pod_ip_last: IPAddress
    nat_loopback_ip: IPAddress
    vpp_host_network: IPNetwork
    vpp_host_vpp_ip: IPInterface
    vpp_host_host_ip: IPInterface
    #: None when the node takes its IP from DHCP (known only once a lease arrives).
    node_ip: IPInterface | None
    vxlan_ip: IPInterface
    pod_if_ip_cidr: IPNetwork | None

    def to_json(self, ipam: IPAMConfig) -> dict[str, Any]:
        """The ``ipam plan`` output: stable camelCase keys, strings for addresses."""
        return {
            "nodeId": self.node_id,
            "podSubnetCIDR": str(self.pod_subnet_cidr),
            "podSubnetThisNode": str(self.pod_subnet_this_node),
            "podGateway": str(self.pod_gateway),
            "podIPFirst": str(self.pod_ip_first),
            "podIPLast": str(self.pod_ip_last),
            "natLoopbackIP": str(self.nat_loopback_ip),
            "vppHostNetwork": str(self.vpp_host_network),
            "vppHostVppIP": str(self.vpp_host_vpp_ip),
            "vppHostHostIP": str(self.vpp_host_host_ip),
            "nodeIP": None if self.node_ip is None else str(self.node_ip),
            "vxlanIP": str(self.vxlan_ip),
            "podIfIPCIDR": None if self.pod_if_ip_cidr is None else str(self.pod_if_ip_cidr),
            "config": ipam_config_json(ipam),
        }


def ipam_config_json(ipam: IPAMConfig) -> dict[str, Any]:
    """The IPAM config under the JSON keys the original's REST endpoint used."""

    def s(value: object | None) -> str:
        return "" if value is None else str(value)

    return {
        "podIfIPCIDR": s(ipam.pod_if_ip_cidr),
        "podSubnetCIDR": s(ipam.pod_subnet_cidr),
        "podNetworkPrefixLen": ipam.pod_network_prefix_len,
        "vppHostSubnetCIDR": s(ipam.vpp_host_subnet_cidr),
        "vppHostNetworkPrefixLen": ipam.vpp_host_network_prefix_len,
        "nodeInterconnectCIDR": s(ipam.node_interconnect_cidr),
        "nodeInterconnectDHCP": ipam.node_interconnect_dhcp,
        "vxlanCIDR": s(ipam.vxlan_cidr),
        "serviceCIDR": s(ipam.service_cidr),
        "contivCIDR": s(ipam.contiv_cidr),
    }


def _required(value: IPNetwork | None, name: str) -> IPNetwork:
    if value is None:
        raise IPAMError(f"{name} is not set")
    return value


def node_plan(
    ipam: IPAMConfig,
    node_id: int,
    *,
    excluded: Iterable[IPAddress] = (),
    dhcp: bool | None = None,
    static_ip: IPInterface | None = None,
) -> NodeAddressPlan:
    """All addresses of node ``node_id``; raises IPAMError if the ID does not fit.

    ``dhcp`` defaults to NodeInterconnectDHCP; a ``static_ip`` (the node's
    configured main interface address) is used as the node IP as given.
    """
    pods = _required(ipam.pod_subnet_cidr, "PodSubnetCIDR")
    host = _required(ipam.vpp_host_subnet_cidr, "VPPHostSubnetCIDR")
    vxlan = _required(ipam.vxlan_cidr, "VxlanCIDR")
    pod_net = subnets.node_subnet(pods, ipam.pod_network_prefix_len, node_id)
    host_net = subnets.node_subnet(host, ipam.vpp_host_network_prefix_len, node_id)
    use_dhcp = ipam.node_interconnect_dhcp if dhcp is None else dhcp
    node_ip: IPInterface | None
    if static_ip is not None:
        node_ip = static_ip
    elif use_dhcp:
        node_ip = None
    else:
        if ipam.node_interconnect_cidr is None:
            raise IPAMError("NodeInterconnectCIDR is not set and NodeInterconnectDHCP is off: no node IP")
        node_ip = subnets.indexed_address(ipam.node_interconnect_cidr, node_id, excluded)
    return NodeAddressPlan(
        node_id=node_id,
        pod_subnet_cidr=pods,
        pod_subnet_this_node=pod_net,
        pod_gateway=subnets.nth(pod_net, GATEWAY_SEQ),
        pod_ip_first=subnets.nth(pod_net, FIRST_POD_SEQ),
        pod_ip_last=subnets.nth(pod_net, -3),
        nat_loopback_ip=subnets.nth(pod_net, -2),
        vpp_host_network=host_net,
        vpp_host_vpp_ip=subnets.with_prefix(subnets.nth(host_net, 1), host_net.prefixlen),
        vpp_host_host_ip=subnets.with_prefix(subnets.nth(host_net, 2), host_net.prefixlen),
        node_ip=node_ip,
        vxlan_ip=subnets.indexed_address(vxlan, node_id),
        pod_if_ip_cidr=ipam.pod_if_ip_cidr,
    )
