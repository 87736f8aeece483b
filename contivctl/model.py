"""Value types of the agent's view: pods and their attachments.

An attachment is what one CNI ADD creates: one interface (``ifname``) of one
container in one network namespace. The CNI spec keys it by container ID and
interface name; namespace, name and UID say which Kubernetes pod it serves.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import attrs

from contivctl.iptypes import IPAddress


@attrs.frozen
class PodRef:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@attrs.frozen
class AttachmentKey:
    container_id: str
    ifname: str

    def __str__(self) -> str:
        return f"{self.container_id}/{self.ifname}"

    @classmethod
    def parse(cls, text: str) -> AttachmentKey:
        cid, _, ifname = text.rpartition("/")
        return cls(cid, ifname)


#: the pod label that asks for the VPP TCP stack (value "true"), as the original's deployments set it
TCP_STACK_LABEL = "ldpreload"


@attrs.frozen
class Attachment:
    """One wired (or to be wired) pod interface, as the agent persists it."""

    container_id: str
    ifname: str
    netns: str
    pod: PodRef
    ip: IPAddress
    uid: str = ""
    #: wired with the VPP TCP stack (loopback + app namespace + STN rule) as well
    tcp_stack: bool = False

    @property
    def key(self) -> AttachmentKey:
        return AttachmentKey(self.container_id, self.ifname)

    def to_data(self) -> dict[str, Any]:
        return {
            "containerId": self.container_id,
            "ifname": self.ifname,
            "netns": self.netns,
            "namespace": self.pod.namespace,
            "name": self.pod.name,
            "uid": self.uid,
            "ip": str(self.ip),
            "tcpStack": self.tcp_stack,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Attachment:
        return cls(
            container_id=data["containerId"],
            ifname=data["ifname"],
            netns=data["netns"],
            pod=PodRef(data.get("namespace", ""), data.get("name", "")),
            ip=ipaddress.ip_address(data["ip"]),
            uid=data.get("uid", ""),
            tcp_stack=bool(data.get("tcpStack", False)),
        )


@attrs.frozen
class NodeInfo:
    """One node of the cluster as every agent publishes it (the original's etcd node record).

    ``ip_addresses`` are the node's interconnect addresses with their prefix
    (``192.168.16.5/24``); ``management_ips`` the Kubernetes InternalIP /
    ExternalIP addresses, when known.
    """

    id: int
    name: str
    ip_addresses: tuple[str, ...] = ()
    management_ips: tuple[str, ...] = ()


@attrs.frozen
class DhcpLease:
    """A DHCP lease of one of VPP's interfaces, as VPP reported it (typed, never a string to parse later)."""

    #: VPP's index of the interface whose DHCP client got the lease
    sw_if_index: int
    address: ipaddress.IPv4Interface
    router: ipaddress.IPv4Address | None = None


# -- Kubernetes Services ----------------------------------------------------------
# What the agent knows of a Service and of its endpoints, from the Kubernetes
# watch or the services file. A Service's endpoints come in one or more
# EndpointSlices, each named by the service it belongs to; only endpoints
# ready to serve are kept (the sources drop the others).


@attrs.frozen
class ServiceRef:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@attrs.frozen
class ServicePort:
    """One port of a Service: ``port`` on its addresses, ``node_port`` on every node (0: none)."""

    name: str
    protocol: str
    port: int
    #: the endpoints' port by number, or by the name their EndpointSlice ports carry
    target_port: int | str = 0
    node_port: int = 0


@attrs.frozen
class Service:
    """A Service as far as forwarding cares (headless Services and ExternalName ones are not kept)."""

    ref: ServiceRef
    cluster_ips: tuple[IPAddress, ...]
    ports: tuple[ServicePort, ...]
    type: str = "ClusterIP"
    #: externalIPs and load-balancer ingress addresses: treated alike
    external_ips: tuple[IPAddress, ...] = ()
    #: externalTrafficPolicy: Local — NodePort and external traffic to this node's endpoints only
    external_local: bool = False
    #: internalTrafficPolicy: Local — cluster-IP traffic to this node's endpoints only
    internal_local: bool = False
    #: sessionAffinity ClientIP: its timeout in seconds (0: no affinity)
    affinity_timeout: int = 0


@attrs.frozen
class EndpointPort:
    name: str
    protocol: str
    port: int


@attrs.frozen
class Endpoint:
    """One ready endpoint address; ``node_name`` says where it runs (empty: unknown)."""

    ip: IPAddress
    node_name: str = ""


@attrs.frozen
class EndpointSlice:
    """The ready endpoints of one EndpointSlice of ``service``, with the ports they serve."""

    namespace: str
    name: str
    service: str
    ports: tuple[EndpointPort, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def service_ref(self) -> ServiceRef:
        return ServiceRef(self.namespace, self.service)


# -- STN: what the STN daemon stole -------------------------------------------------


@attrs.frozen
class StolenRoute:
    """A route that went out of the stolen NIC: ``dst`` None is the default route, ``via`` None a link route."""

    dst: ipaddress.IPv4Network | None
    via: ipaddress.IPv4Address | None = None

    @property
    def network(self) -> ipaddress.IPv4Network:
        return self.dst if self.dst is not None else ipaddress.IPv4Network("0.0.0.0/0")


@attrs.frozen
class StolenInterface:
    """What the NIC had in Linux before the STN daemon took it for VPP (the daemon's StolenInterfaceInfo).

    Its first address is the node IP; VPP's NIC gets the addresses and the
    routes with a gateway, the host stack the same routes through VPP.
    """

    name: str
    addresses: tuple[ipaddress.IPv4Interface, ...]
    routes: tuple[StolenRoute, ...] = ()
    #: "" when the NIC is no PCI device (a veth)
    pci_address: str = ""
    kernel_driver: str = ""

    @property
    def node_ip(self) -> ipaddress.IPv4Interface | None:
        return self.addresses[0] if self.addresses else None

    @property
    def default_gateway(self) -> ipaddress.IPv4Address | None:
        """The next hop of the stolen default route, if there was one."""
        return next((r.via for r in self.routes if r.network.prefixlen == 0 and r.via is not None), None)

    @property
    def gateway(self) -> ipaddress.IPv4Address | None:
        """Where the host stack sends what goes through VPP: the default gateway, else a made-up one.

        Without a default route any address of the node's subnet other than
        its own will do, because VPP answers ARP for the whole subnet: the
        first host address, or the last when the node has the first (the
        rule of the original's later versions). None when the subnet has no
        address to spare (/31, /32).
        """
        found = self.default_gateway
        ip = self.node_ip
        if found is not None or ip is None:
            return found
        net = ip.network
        if net.num_addresses < 4:
            return None
        first = net.network_address + 1
        return first if first != ip.ip else net.broadcast_address - 1
