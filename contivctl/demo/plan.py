"""What a demo builds, as names and addresses: decided before anything is created.

The address ranges are private 10.x ranges chosen not to meet the host's
own networks; every name carries the demo's tag so two demos (or a demo and
a leftover of an old one) never share a namespace.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

import attrs

from contivctl.model import NodeInfo

Transport = Literal["vxlan", "l2"]

UNDERLAY_CIDR = "10.88.0.0/24"
VXLAN_CIDR = "10.89.0.0/24"
POD_SUBNET_CIDR = "10.90.0.0/16"
#: the underlay bridge's own address (the one address on the underlay that is no node's)
UNDERLAY_IP = "10.88.0.254"
NIC = "nic0"
BRIDGE = "br0"
MAX_NODES = 250
MAX_PODS = 250


@attrs.frozen
class NodePlan:
    id: int
    name: str
    netns: str
    ip: str  # with its prefix length

    @property
    def address(self) -> str:
        return self.ip.split("/")[0]

    @property
    def netns_path(self) -> str:
        return f"/var/run/netns/{self.netns}"

    def info(self) -> NodeInfo:
        return NodeInfo(id=self.id, name=self.name, ip_addresses=(self.ip,))


@attrs.frozen
class PodPlan:
    node: str  # the node's name
    name: str
    netns: str
    container_id: str

    @property
    def netns_path(self) -> str:
        return f"/var/run/netns/{self.netns}"


@attrs.frozen
class DemoPlan:
    tag: str
    nodes: int
    pods: int
    transport: Transport = "vxlan"
    etcd: bool = False
    #: a Service backed by one TCP server pod per node (``web<ID>``), see demo/service.py
    service: bool = False

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.nodes <= MAX_NODES:
            raise ValueError(f"--nodes {self.nodes}: between 1 and {MAX_NODES}")
        if not 0 <= self.pods <= MAX_PODS:
            raise ValueError(f"--pods {self.pods}: between 0 and {MAX_PODS}")

    @property
    def underlay(self) -> str:
        return f"cdemo-{self.tag}-ul"

    def node_plans(self) -> list[NodePlan]:
        net = ipaddress.ip_network(UNDERLAY_CIDR)
        return [
            NodePlan(
                id=i,
                name=f"node{i}",
                netns=f"cdemo-{self.tag}-n{i}",
                ip=f"{net.network_address + i}/{net.prefixlen}",
            )
            for i in range(1, self.nodes + 1)
        ]

    def pod_plans(self) -> list[PodPlan]:
        pods = [
            PodPlan(
                node=f"node{i}",
                name=f"pod{i}-{j}",
                netns=f"cdemo-{self.tag}-n{i}p{j}",
                container_id=f"cdemo{self.tag}n{i}p{j}".ljust(64, "0"),
            )
            for i in range(1, self.nodes + 1)
            for j in range(1, self.pods + 1)
        ]
        return pods + self.server_plans()

    def server_plans(self) -> list[PodPlan]:
        """With ``service``: the Service's server pods, one per node."""
        if not self.service:
            return []
        return [
            PodPlan(
                node=f"node{i}",
                name=f"web{i}",
                netns=f"cdemo-{self.tag}-n{i}w",
                container_id=f"cdemo{self.tag}n{i}w".ljust(64, "0"),
            )
            for i in range(1, self.nodes + 1)
        ]

    def config(self) -> dict[str, Any]:
        """The agents' contiv.yaml: the same for every node, as in a real cluster."""
        return {
            "TCPstackDisabled": True,
            "MTUSize": 1450,
            "NatExternalTraffic": False,
            "UseL2Interconnect": self.transport == "l2",
            "IPAMConfig": {
                "PodSubnetCIDR": POD_SUBNET_CIDR,
                "PodNetworkPrefixLen": 24,
                "VPPHostSubnetCIDR": "172.31.0.0/16",
                "VPPHostNetworkPrefixLen": 24,
                "NodeInterconnectCIDR": UNDERLAY_CIDR,
                "VxlanCIDR": VXLAN_CIDR,
            },
        }
