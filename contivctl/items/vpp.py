"""VPP items: the values renderers produce and the VPP driver's descriptors apply.

Interfaces are named by the agent's logical name (never by sw_if_index, which
VPP hands out at create time and forgets at restart); a dependent's
descriptor reads the sw_if_index from the interface item's metadata.

Key scheme (one descriptor per prefix; `<if>` is a logical interface name,
addresses and prefixes are written the way `ipaddress` prints them):

| key                                          | value                 |
|----------------------------------------------|-----------------------|
| `vpp/interface/<if>`                         | `Interface`           |
| `vpp/address/<if>/<ip>/<len>`                | `Address`             |
| `vpp/vrf/<id>` (IPv4), `vpp/vrf/<id>/ip6`    | `Vrf`                 |
| `vpp/route/<vrf>/<dst>/<len>`                | `Route`               |
| `vpp/neighbor/<if>/<ip>`                     | `Neighbor`            |
| `vpp/ipneigh/ip4`, `vpp/ipneigh/ip6`         | `NeighborConfig`      |
| `vpp/bd/<bd>`                                | `BridgeDomain`        |
| `vpp/bdmember/<bd>/<if>`                     | `BridgeDomainMember`  |
| `vpp/l2fib/<bd>/<mac>`                       | `L2FibEntry`          |
| `vpp/nat44/global`                           | `Nat44Global`         |
| `vpp/nat44/interface/<if>`                   | `Nat44Interface`      |
| `vpp/nat44/address/<ip>`                     | `Nat44Address`        |
| `vpp/nat44/static/<proto>/<ext ip>:<port>`   | `Nat44StaticMapping`  |
| `vpp/nat44/identity/<vrf>/<proto>/<ip>:<port>`| `Nat44IdentityMapping`|
| `vpp/nat44/lb/<proto>/<ext ip>:<port>`       | `Nat44LbStaticMapping`|
| `vpp/stn/<ip>`                               | `StnRule`             |
| `vpp/containerproxy/<if>/<ip>/<len>`         | `ContainerProxy`      |
| `vpp/session/global`                         | `SessionLayer`        |
| `vpp/appns/<id>`                             | `AppNamespace`        |
| `vpp/dhcp/<if>`                              | `DhcpClient`          |
| `vpp/proxyarp/range/<vrf>/<low>-<high>`      | `ProxyArpRange`       |
| `vpp/proxyarp/interface/<if>`                | `ProxyArpInterface`   |
| `vpp/punt/ip4/<rx if or any>` (`ip6`)        | `PuntRedirect`        |

VRF 0 always exists in VPP, so nothing depends on a `vpp/vrf/0` item.
Addresses, prefixes and interface addresses are `ipaddress` values (the
shared types of `contivctl.iptypes`), as in the Linux items; text given for
one is parsed, so a key is the same whichever form a caller used.
Keys are never parsed back: every value carries all its fields, so a name
with "/" in it (a NIC's VPP name such as `GigabitEthernet0/8/0`, used as its
logical name) is fine.

Items import nothing but the reconciler's vocabulary and the shared IP types:
renderers build them without knowing any driver.
"""

from __future__ import annotations

import enum
import ipaddress

import attrs

from contivctl.iptypes import IPAddress, IPInterface, IPNetwork
from contivctl.reconcile.item import Dependency

#: VRF id VPP reads as "any" (NAT pool addresses usable from every VRF)
ANY_VRF = 0xFFFFFFFF


def _mac(value: str | None) -> str | None:
    if value is None:
        return None
    raw = value.replace("-", ":").replace(".", "").lower()
    parts = raw.split(":") if ":" in raw else [raw[i : i + 2] for i in range(0, len(raw), 2)]
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
        raise ValueError(f"not a MAC address: {value!r}")
    return ":".join(parts)


def _mac_req(value: str) -> str:
    out = _mac(value)
    assert out is not None
    return out


def _ip(value: str | IPAddress) -> IPAddress:
    # An IPv4Interface is an IPv4Address to isinstance and mypy: parsing refuses
    # it, as it refuses "10.0.0.1/24", instead of keeping a prefix in an address.
    if isinstance(value, str | ipaddress.IPv4Interface | ipaddress.IPv6Interface):
        return ipaddress.ip_address(value)
    return value


def _ip_opt(value: str | IPAddress | None) -> IPAddress | None:
    return None if value is None else _ip(value)


def _iface_addr(value: str | IPInterface) -> IPInterface:
    return ipaddress.ip_interface(value) if isinstance(value, str) else value


def _net(value: str | IPNetwork) -> IPNetwork:
    return ipaddress.ip_network(value, strict=True) if isinstance(value, str) else value


# -- interfaces -----------------------------------------------------------------


def interface_key(name: str) -> str:
    return f"vpp/interface/{name}"


def vrf_key(vrf: int, ipv6: bool = False) -> str:
    return f"vpp/vrf/{vrf}/ip6" if ipv6 else f"vpp/vrf/{vrf}"


def _vrf_deps(*vrfs: int | None, ipv6: bool = False) -> list[Dependency]:
    return [Dependency.on(vrf_key(v, ipv6)) for v in vrfs if v not in (None, 0, ANY_VRF)]


class RxMode(enum.IntEnum):
    """VPP's rx_mode values."""

    POLLING = 1
    INTERRUPT = 2
    ADAPTIVE = 3


@attrs.frozen
class Loopback:
    """A loopback (also used for the pod gateway and the TCP-stack pods)."""


@attrs.frozen
class Bvi:
    """A bridge virtual interface (the L3 port of a bridge domain)."""


@attrs.frozen
class AfPacket:
    """VPP end of a veth pair; the host link must exist first (`requires` names its item)."""

    host_if_name: str
    requires: str | None = None


@attrs.frozen
class Tap:
    """A TAP v2 (virtio) interface; VPP creates the Linux end itself."""

    host_if_name: str
    host_mac: str | None = attrs.field(default=None, converter=_mac)
    host_mtu: int | None = None
    #: network namespace of the Linux end: a name under /var/run/netns or an absolute path
    host_netns: str = ""
    #: 0 leaves the size to VPP (its default, 256)
    rx_ring_size: int = 256
    tx_ring_size: int = 256


@attrs.frozen
class Vxlan:
    """A VXLAN tunnel endpoint (encapsulation looked up in `encap_vrf`)."""

    src: IPAddress = attrs.field(converter=_ip)
    dst: IPAddress = attrs.field(converter=_ip)
    vni: int
    encap_vrf: int = 0


@attrs.frozen
class Physical:
    """A NIC VPP found at boot: configured by the agent, never created or deleted."""

    vpp_name: str


Link = Loopback | Bvi | AfPacket | Tap | Vxlan | Physical


@attrs.frozen
class Interface:
    """A VPP interface and its settings.

    `None` settings are left as VPP chooses (a random MAC, the link MTU,
    the driver's rx mode). Changing `link` or `vrf` re-creates the
    interface: VPP refuses to move an interface with addresses to another
    VRF, and the re-create takes the addresses down and up with it.
    """

    name: str
    link: Link
    enabled: bool = True
    mtu: int | None = None
    mac: str | None = attrs.field(default=None, converter=_mac)
    rx_mode: RxMode | None = None
    vrf: int = 0
    unnumbered_to: str | None = None
    #: the agent's tag is on it: always so for a desired value; False for one found half-made (its
    #: create cut between making and tagging it), which an update then tags
    tagged: bool = True

    @property
    def key(self) -> str:
        return interface_key(self.name)

    def deps(self) -> list[Dependency]:
        out = _vrf_deps(self.vrf)
        if self.unnumbered_to is not None:
            out.append(Dependency.on(interface_key(self.unnumbered_to)))
        if isinstance(self.link, Vxlan):
            out += _vrf_deps(self.link.encap_vrf, ipv6=self.link.src.version == 6)
        if isinstance(self.link, AfPacket) and self.link.requires is not None:
            out.append(Dependency.on(self.link.requires))
        return out


@attrs.frozen
class Address:
    """An IP address with its prefix length on an interface (host bits kept)."""

    interface: str
    address: IPInterface = attrs.field(converter=_iface_addr)

    @property
    def key(self) -> str:
        return f"vpp/address/{self.interface}/{self.address}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(interface_key(self.interface))]


@attrs.frozen
class Vrf:
    """A VRF table (VPP keeps IPv4 and IPv6 tables apart)."""

    id: int
    ipv6: bool = False

    @property
    def key(self) -> str:
        return vrf_key(self.id, self.ipv6)

    def deps(self) -> list[Dependency]:
        return []


@attrs.frozen
class Route:
    """A single-path route to `dst` in `vrf`.

    Exactly one kind of path: via `next_hop` (optionally out of
    `interface`), out of `interface` only, a lookup in `lookup_vrf`,
    `drop`, or `unreachable` (VPP answers with ICMP host unreachable).
    """

    vrf: int
    dst: IPNetwork = attrs.field(converter=_net)
    next_hop: IPAddress | None = attrs.field(default=None, converter=_ip_opt)
    interface: str | None = None
    lookup_vrf: int | None = None
    drop: bool = False
    weight: int = 1
    preference: int = 0
    unreachable: bool = False

    def __attrs_post_init__(self) -> None:
        kinds = [
            self.drop,
            self.unreachable,
            self.lookup_vrf is not None,
            self.next_hop is not None or self.interface is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(f"route {self.dst}: exactly one of next_hop/interface, lookup_vrf, drop or unreachable")

    @property
    def ipv6(self) -> bool:
        return self.dst.version == 6

    @property
    def key(self) -> str:
        return f"vpp/route/{self.vrf}/{self.dst}"

    def deps(self) -> list[Dependency]:
        out = _vrf_deps(self.vrf, self.lookup_vrf, ipv6=self.ipv6)
        if self.interface is not None:
            out.append(Dependency.on(interface_key(self.interface)))
        return out


@attrs.frozen
class Neighbor:
    """A static IP neighbour (ARP/ND entry)."""

    interface: str
    ip: IPAddress = attrs.field(converter=_ip)
    mac: str = attrs.field(converter=_mac_req)
    #: do not install a /32 (/128) route for it
    no_fib_entry: bool = False

    @property
    def key(self) -> str:
        return f"vpp/neighbor/{self.interface}/{self.ip}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(interface_key(self.interface))]


@attrs.frozen
class NeighborConfig:
    """Neighbour table limits and ageing for one address family (VPP's `ip_neighbor_config`)."""

    ipv6: bool = False
    max_number: int = 50000
    #: seconds after which an entry is re-probed (the original's scan); 0 = never
    max_age: int = 0
    recycle: bool = False

    @property
    def key(self) -> str:
        return "vpp/ipneigh/ip6" if self.ipv6 else "vpp/ipneigh/ip4"

    def deps(self) -> list[Dependency]:
        return []


# -- L2 -------------------------------------------------------------------------


def bd_key(name: str) -> str:
    return f"vpp/bd/{name}"


@attrs.frozen
class BridgeDomain:
    name: str
    bd_id: int
    flood: bool = False
    uu_flood: bool = False
    forward: bool = True
    learn: bool = False
    arp_term: bool = False
    mac_age: int = 0

    @property
    def key(self) -> str:
        return bd_key(self.name)

    def deps(self) -> list[Dependency]:
        return []


@attrs.frozen
class BridgeDomainMember:
    bd: str
    interface: str
    bvi: bool = False
    #: split-horizon group
    shg: int = 0

    @property
    def key(self) -> str:
        return f"vpp/bdmember/{self.bd}/{self.interface}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(bd_key(self.bd)), Dependency.on(interface_key(self.interface))]


@attrs.frozen
class L2FibEntry:
    """A static MAC → port entry; the port must be a member of the bridge domain first."""

    bd: str
    mac: str = attrs.field(converter=_mac_req)
    interface: str = ""
    bvi: bool = False

    @property
    def key(self) -> str:
        return f"vpp/l2fib/{self.bd}/{self.mac}"

    def deps(self) -> list[Dependency]:
        return [
            Dependency.on(bd_key(self.bd)),
            Dependency.on(interface_key(self.interface)),
            Dependency.on(f"vpp/bdmember/{self.bd}/{self.interface}"),
        ]


# -- NAT44-ED -------------------------------------------------------------------

NAT44_GLOBAL_KEY = "vpp/nat44/global"


@attrs.frozen
class Nat44Global:
    """The NAT44 endpoint-dependent plugin, enabled (disabling frees all NAT state)."""

    #: session table size per thread; 0 = VPP's default
    sessions: int = 0
    inside_vrf: int = 0
    outside_vrf: int = 0

    @property
    def key(self) -> str:
        return NAT44_GLOBAL_KEY

    def deps(self) -> list[Dependency]:
        return []


@attrs.frozen
class Nat44Interface:
    """NAT44 on an interface: inside and/or outside, or output-feature (post-routing)."""

    interface: str
    inside: bool = False
    outside: bool = False
    output: bool = False

    def __attrs_post_init__(self) -> None:
        if self.output and (self.inside or self.outside):
            raise ValueError("an output-feature NAT interface cannot also be inside/outside")
        if not (self.output or self.inside or self.outside):
            raise ValueError("a NAT interface needs a role")

    @property
    def key(self) -> str:
        return f"vpp/nat44/interface/{self.interface}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(NAT44_GLOBAL_KEY), Dependency.on(interface_key(self.interface))]


@attrs.frozen
class Nat44Address:
    """One address of the NAT pool (`twice_nat`: of the twice-NAT pool)."""

    ip: IPAddress = attrs.field(converter=_ip)
    vrf: int = ANY_VRF
    twice_nat: bool = False

    @property
    def key(self) -> str:
        return f"vpp/nat44/address/{self.ip}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(NAT44_GLOBAL_KEY), *_vrf_deps(self.vrf)]


class NatProtocol(enum.IntEnum):
    """IP protocol numbers NAT mappings use; ANY with port 0 means address-only."""

    ANY = 0
    ICMP = 1
    TCP = 6
    UDP = 17


@attrs.frozen
class Nat44StaticMapping:
    """A 1:1 (address-only when protocol is ANY) or port static mapping."""

    local_ip: IPAddress = attrs.field(converter=_ip)
    external_ip: IPAddress = attrs.field(converter=_ip)
    protocol: NatProtocol = NatProtocol.ANY
    local_port: int = 0
    external_port: int = 0
    vrf: int = 0
    twice_nat: bool = False
    self_twice_nat: bool = False
    out2in_only: bool = False

    @property
    def addr_only(self) -> bool:
        return self.protocol == NatProtocol.ANY

    @property
    def key(self) -> str:
        return f"vpp/nat44/static/{self.protocol.name.lower()}/{self.external_ip}:{self.external_port}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(NAT44_GLOBAL_KEY), *_vrf_deps(self.vrf)]


@attrs.frozen
class Nat44IdentityMapping:
    """Traffic to `ip` (and port) that NAT must leave untranslated."""

    ip: IPAddress = attrs.field(converter=_ip)
    protocol: NatProtocol = NatProtocol.ANY
    port: int = 0
    vrf: int = 0

    @property
    def addr_only(self) -> bool:
        return self.protocol == NatProtocol.ANY

    @property
    def key(self) -> str:
        return f"vpp/nat44/identity/{self.vrf}/{self.protocol.name.lower()}/{self.ip}:{self.port}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(NAT44_GLOBAL_KEY), *_vrf_deps(self.vrf)]


@attrs.frozen
class Nat44LbLocal:
    """One endpoint of a load-balanced mapping; ``probability`` is its weight among the others."""

    ip: IPAddress = attrs.field(converter=_ip)
    port: int = 0
    probability: int = 1
    vrf: int = 0

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.probability <= 255:
            raise ValueError(f"endpoint {self.ip}:{self.port}: probability {self.probability} is not 0-255")


def _lb_locals(value: tuple[Nat44LbLocal, ...]) -> tuple[Nat44LbLocal, ...]:
    return tuple(sorted(value, key=lambda lo: (lo.ip.version, int(lo.ip), lo.port, lo.vrf)))


@attrs.frozen
class Nat44LbStaticMapping:
    """A service frontend (external address, port, protocol) translated to one of its endpoints.

    VPP's load-balanced mappings need at least two endpoints; with one the
    driver makes a plain static mapping of the same frontend, so a service
    scaled between one and more endpoints keeps one key. ``affinity`` is
    VPP's sticky-session timeout in seconds (0: none): the endpoint chosen
    for a client address is kept for its next connections.
    """

    external_ip: IPAddress = attrs.field(converter=_ip)
    external_port: int = 0
    protocol: NatProtocol = NatProtocol.TCP
    locals: tuple[Nat44LbLocal, ...] = attrs.field(default=(), converter=_lb_locals)
    twice_nat: bool = False
    self_twice_nat: bool = False
    #: translate only sessions started from outside (the frontend address is in no NAT pool)
    out2in_only: bool = True
    affinity: int = 0

    def __attrs_post_init__(self) -> None:
        if not self.locals:
            raise ValueError(f"mapping {self.key}: no endpoint")
        if self.twice_nat and self.self_twice_nat:
            raise ValueError(f"mapping {self.key}: twice-NAT and self-twice-NAT exclude each other")
        if self.protocol == NatProtocol.ANY:
            raise ValueError(f"mapping {self.key}: a service mapping names its protocol")

    @property
    def load_balanced(self) -> bool:
        return len(self.locals) > 1

    @property
    def key(self) -> str:
        return lb_mapping_key(self.protocol, self.external_ip, self.external_port)

    def deps(self) -> list[Dependency]:
        return [Dependency.on(NAT44_GLOBAL_KEY), *_vrf_deps(*sorted({lo.vrf for lo in self.locals}))]


def lb_mapping_key(protocol: NatProtocol, ip: IPAddress, port: int) -> str:
    return f"vpp/nat44/lb/{protocol.name.lower()}/{ip}:{port}"


# -- STN, session layer, DHCP ---------------------------------------------------


@attrs.frozen
class StnRule:
    """Steal-the-NIC: traffic to `ip` that VPP does not consume goes out of `interface`."""

    ip: IPAddress = attrs.field(converter=_ip)
    interface: str = ""

    @property
    def key(self) -> str:
        return f"vpp/stn/{self.ip}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(interface_key(self.interface))]


@attrs.frozen
class ContainerProxy:
    """VPP answers ARP for ``prefix`` on ``interface`` and owns it as a local address (a TCP-stack pod's IP)."""

    interface: str
    prefix: IPNetwork = attrs.field(converter=_net)

    @property
    def key(self) -> str:
        return f"vpp/containerproxy/{self.interface}/{self.prefix}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(interface_key(self.interface))]


SESSION_KEY = "vpp/session/global"


@attrs.frozen
class SessionLayer:
    """VPP's host stack (session layer) enabled, with the rule-table engine."""

    @property
    def key(self) -> str:
        return SESSION_KEY

    def deps(self) -> list[Dependency]:
        return []


@attrs.frozen
class AppNamespace:
    """A session-layer application namespace bound to an interface (VPP TCP-stack pods)."""

    id: str
    secret: int
    interface: str
    ip4_vrf: int = 0
    ip6_vrf: int = 0

    @property
    def key(self) -> str:
        return f"vpp/appns/{self.id}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(SESSION_KEY), Dependency.on(interface_key(self.interface))]


@attrs.frozen
class DhcpClient:
    """A DHCP client on an interface; leases arrive as `dhcp_compl_event` on the connection."""

    interface: str
    hostname: str = ""

    @property
    def key(self) -> str:
        return f"vpp/dhcp/{self.interface}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(interface_key(self.interface))]


# -- steal the NIC: proxy ARP and punt redirect ----------------------------------


@attrs.frozen
class ProxyArpRange:
    """VPP answers ARP for every address from ``low`` to ``high`` of ``vrf``, on interfaces with proxy ARP on."""

    low: ipaddress.IPv4Address = attrs.field(converter=ipaddress.IPv4Address)
    high: ipaddress.IPv4Address = attrs.field(converter=ipaddress.IPv4Address)
    vrf: int = 0

    @property
    def key(self) -> str:
        return f"vpp/proxyarp/range/{self.vrf}/{self.low}-{self.high}"

    def deps(self) -> list[Dependency]:
        return _vrf_deps(self.vrf)


@attrs.frozen
class ProxyArpInterface:
    """Proxy ARP on ``interface``: ARP requests there for a proxied range are answered with its MAC."""

    interface: str

    @property
    def key(self) -> str:
        return f"vpp/proxyarp/interface/{self.interface}"

    def deps(self) -> list[Dependency]:
        return [Dependency.on(interface_key(self.interface))]


@attrs.frozen
class PuntRedirect:
    """What VPP would punt (addressed to it, consumed by nothing in VPP) is sent out of ``interface`` to ``next_hop``.

    ``rx_interface`` None: whatever interface it came in on. One redirect per
    receiving interface and address family, as in VPP.
    """

    interface: str
    next_hop: IPAddress = attrs.field(converter=_ip)
    rx_interface: str | None = None

    @property
    def key(self) -> str:
        return f"vpp/punt/ip{self.next_hop.version}/{self.rx_interface or 'any'}"

    def deps(self) -> list[Dependency]:
        out = [Dependency.on(interface_key(self.interface))]
        if self.rx_interface is not None:
            out.append(Dependency.on(interface_key(self.rx_interface)))
        return out


VppItem = (
    Interface
    | Address
    | Vrf
    | Route
    | Neighbor
    | NeighborConfig
    | BridgeDomain
    | BridgeDomainMember
    | L2FibEntry
    | Nat44Global
    | Nat44Interface
    | Nat44Address
    | Nat44StaticMapping
    | Nat44IdentityMapping
    | Nat44LbStaticMapping
    | StnRule
    | ContainerProxy
    | SessionLayer
    | AppNamespace
    | DhcpClient
    | ProxyArpRange
    | ProxyArpInterface
    | PuntRedirect
)
