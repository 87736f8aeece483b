"""Linux objects only the kernel dataplane needs, as keyed values.

When the kernel plays the vswitch, the node's own network namespace does
what VPP does otherwise: it forwards between pods, tunnels to other nodes
and translates traffic leaving the cluster. Besides the links, addresses,
routes and neighbours of ``items/linux.py`` that takes:

- ``linux/sysctl/<ns>/<name>``              a sysctl of the namespace (forwarding)
- ``linux/vxlan/<ns>/<name>``               a VXLAN device (one per node, all peers behind it)
- ``linux/fdb/<ns>/<ifname>/<mac>``         a permanent FDB entry: a peer's MAC → its node IP
- ``linux/gwroute/<ns>/<dst>``              a route via a next hop on a link that is not ours (L2 mode)
- ``linux/nftables/<ns>/<table>``           an nftables table holding the SNAT of traffic leaving the cluster
- ``linux/svctable/<ns>/<table>``           the nftables table of Services: its hooks, verdict maps and helper chains
- ``linux/svcrules/<ns>/<table>/<svc ns>/<svc name>``  one Service's chains and map elements in that table
"""

from __future__ import annotations

import attrs

from contivctl.iptypes import IPAddress, IPNetwork
from contivctl.items.linux import ns_label
from contivctl.reconcile.item import Dependency


@attrs.frozen
class Sysctl:
    """One sysctl of a namespace, by its dotted name (``net.ipv4.ip_forward``)."""

    netns: str
    name: str
    value: str

    @property
    def key(self) -> str:
        return sysctl_key(self.netns, self.name)

    def deps(self) -> tuple[Dependency, ...]:
        return ()


def sysctl_key(netns: str, name: str) -> str:
    return f"linux/sysctl/{ns_label(netns)}/{name}"


@attrs.frozen
class VxlanLink:
    """A VXLAN device whose peers are listed by FDB entries (no learning, no flooding group)."""

    netns: str
    name: str
    vni: int
    #: the node's own address: the source of the tunnel's packets
    local: IPAddress
    port: int = 4789
    #: the MAC other nodes' neighbour entries name for this node
    mac: str | None = None
    mtu: int = 0
    up: bool = True

    @property
    def key(self) -> str:
        return vxlan_key(self.netns, self.name)

    def deps(self) -> tuple[Dependency, ...]:
        return ()


def vxlan_key(netns: str, name: str) -> str:
    return f"linux/vxlan/{ns_label(netns)}/{name}"


@attrs.frozen
class FdbEntry:
    """A permanent FDB entry of a VXLAN device: frames for ``mac`` go to ``dst``."""

    netns: str
    ifname: str
    mac: str
    dst: IPAddress
    #: key of the item that makes the device
    link: str

    @property
    def key(self) -> str:
        return f"linux/fdb/{ns_label(self.netns)}/{self.ifname}/{self.mac}"

    def deps(self) -> tuple[Dependency, ...]:
        return (Dependency.on(self.link),)


@attrs.frozen
class GatewayRoute:
    """A main-table route via a next hop, out of whichever link the kernel finds for it.

    The link is the host's (its NIC), not the agent's, so unlike ``Route``
    this names no link item; the agent's route protocol number marks it.
    """

    netns: str
    dst: IPNetwork
    via: IPAddress

    @property
    def key(self) -> str:
        return f"linux/gwroute/{ns_label(self.netns)}/{self.dst}"

    def deps(self) -> tuple[Dependency, ...]:
        return ()


@attrs.frozen
class SnatTable:
    """An nftables table (family ip) that masquerades what ``sources`` send outside ``internal``.

    Masquerade rather than SNAT to a fixed address: the node's address on
    the outgoing interface is the host's business and may change (DHCP).
    """

    netns: str
    name: str
    sources: tuple[IPNetwork, ...]
    internal: tuple[IPNetwork, ...]

    @property
    def key(self) -> str:
        return snat_key(self.netns, self.name)

    def deps(self) -> tuple[Dependency, ...]:
        return ()


def snat_key(netns: str, name: str) -> str:
    return f"linux/nftables/{ns_label(netns)}/{name}"


@attrs.frozen
class ServiceTable:
    """The nftables table (family ip) Services are forwarded by, as kube-proxy's nftables mode does.

    It holds what every Service shares: the NAT and filter hooks, the verdict
    maps each Service adds its addresses and ports to, and the masquerade
    chains. Each Service's own chains are a ``ServiceRules`` item of their own.
    """

    netns: str
    name: str

    @property
    def key(self) -> str:
        return service_table_key(self.netns, self.name)

    def deps(self) -> tuple[Dependency, ...]:
        return ()


def service_table_key(netns: str, name: str) -> str:
    return f"linux/svctable/{ns_label(netns)}/{name}"


@attrs.frozen
class ServiceBackend:
    """An endpoint a Service port is translated to; ``weight`` is its share among the others."""

    ip: IPAddress
    port: int
    weight: int = 1
    #: runs on this node (a connection from it to its own Service may come back to it)
    local: bool = False


@attrs.frozen
class ServicePortRules:
    """One port of a Service: where it is reached, and its endpoints.

    ``backends`` serve traffic to the cluster IPs; ``external_backends`` serve
    the node port and the external IPs (None: the same ones, and that traffic
    is masqueraded; a tuple: externalTrafficPolicy Local, this node's
    endpoints only, the client address kept). No backends at all: the port
    answers with a reject.
    """

    protocol: str
    port: int
    cluster_ips: tuple[IPAddress, ...] = ()
    external_ips: tuple[IPAddress, ...] = ()
    node_port: int = 0
    backends: tuple[ServiceBackend, ...] = ()
    external_backends: tuple[ServiceBackend, ...] | None = None


@attrs.frozen
class ServiceRules:
    """Every chain, set and map element of one Service in a ``ServiceTable``."""

    netns: str
    table: str
    namespace: str
    name: str
    ports: tuple[ServicePortRules, ...] = ()
    #: the cluster's own addresses (the pod CIDR): cluster-IP traffic from elsewhere is masqueraded
    internal: tuple[IPNetwork, ...] = ()
    #: sessionAffinity ClientIP timeout in seconds (0: none)
    affinity_timeout: int = 0

    @property
    def key(self) -> str:
        return f"linux/svcrules/{ns_label(self.netns)}/{self.table}/{self.namespace}/{self.name}"

    def deps(self) -> tuple[Dependency, ...]:
        return (Dependency.on(service_table_key(self.netns, self.table)),)


KernelItem = Sysctl | VxlanLink | FdbEntry | GatewayRoute | SnatTable | ServiceTable | ServiceRules

__all__ = [
    "FdbEntry",
    "GatewayRoute",
    "KernelItem",
    "ServiceBackend",
    "ServicePortRules",
    "ServiceRules",
    "ServiceTable",
    "SnatTable",
    "Sysctl",
    "VxlanLink",
    "service_table_key",
    "snat_key",
    "sysctl_key",
    "vxlan_key",
]
