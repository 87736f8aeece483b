"""NAT44 endpoint-dependent: plugin state, interfaces, pool, mappings, sessions."""

from __future__ import annotations

import ipaddress

import attrs

# nat_config_flags (u8)
TWICE_NAT = 1
SELF_TWICE_NAT = 2
OUT2IN_ONLY = 4
ADDR_ONLY = 8
OUTSIDE = 16
INSIDE = 32
STATIC = 64
EXT_HOST_VALID = 128

ALL = 0xFFFFFFFF

# VPP's default timeouts in seconds (nat_set_timeouts)
DEFAULT_TIMEOUTS = {"udp": 300, "tcp_established": 7440, "tcp_transitory": 240, "icmp": 60}

IP_PROTO_TCP, IP_PROTO_UDP, IP_PROTO_ICMP = 6, 17, 1


@attrs.define
class PoolAddress:
    ip: ipaddress.IPv4Address
    vrf_id: int
    twice_nat: bool


@attrs.define
class StaticMapping:
    local_ip: ipaddress.IPv4Address
    external_ip: ipaddress.IPv4Address
    protocol: int
    local_port: int
    external_port: int
    external_sw_if_index: int
    vrf_id: int
    flags: int
    tag: str
    pool_ip: ipaddress.IPv4Address
    match_pool: bool

    @property
    def addr_only(self) -> bool:
        return bool(self.flags & ADDR_ONLY)

    def key(self) -> tuple[object, ...]:
        """The out2in key VPP's hash uses: external side (address only or 3-tuple)."""
        if self.addr_only:
            return ("ext", self.external_ip, self.external_sw_if_index, self.vrf_id)
        return ("ext", self.external_ip, self.external_sw_if_index, self.protocol, self.external_port)


@attrs.define
class LbLocal:
    addr: ipaddress.IPv4Address
    port: int
    probability: int
    vrf_id: int

    def key(self) -> tuple[object, ...]:
        return (self.addr, self.port, self.vrf_id)


@attrs.define
class LbStaticMapping:
    """A load-balanced static mapping: one external address and port, several locals in VPP's pool order."""

    external_ip: ipaddress.IPv4Address
    external_port: int
    protocol: int
    flags: int
    affinity: int
    tag: str
    locals: list[LbLocal] = attrs.Factory(list)

    def key(self) -> tuple[object, ...]:
        """VPP's out2in key (address, port, protocol), which plain static mappings share."""
        return (self.external_ip, self.protocol, self.external_port)


@attrs.define
class IdentityMapping:
    ip: ipaddress.IPv4Address
    protocol: int
    port: int
    sw_if_index: int
    vrf_id: int
    flags: int
    tag: str

    def key(self) -> tuple[object, ...]:
        if self.flags & ADDR_ONLY:
            return (self.ip, self.sw_if_index, self.vrf_id)
        return (self.ip, self.sw_if_index, self.protocol, self.port, self.vrf_id)


@attrs.define
class Session:
    """One translation. `last_heard` is seconds on the emulator's clock."""

    inside_ip: ipaddress.IPv4Address
    inside_port: int
    outside_ip: ipaddress.IPv4Address
    outside_port: int
    protocol: int
    ext_host_ip: ipaddress.IPv4Address
    ext_host_port: int
    ext_host_nat_ip: ipaddress.IPv4Address
    ext_host_nat_port: int
    vrf_id: int
    last_heard: float
    total_bytes: int = 0
    total_pkts: int = 0
    flags: int = 0

    def timeout(self, timeouts: dict[str, int], established: bool = True) -> int:
        if self.protocol == IP_PROTO_TCP:
            return timeouts["tcp_established" if established else "tcp_transitory"]
        if self.protocol == IP_PROTO_UDP:
            return timeouts["udp"]
        return timeouts["icmp"]


@attrs.define
class NatState:
    enabled: bool = False
    inside_vrf: int = 0
    outside_vrf: int = 0
    sessions_max: int = 0
    config_flags: int = 0
    forwarding: bool = False
    session_limits: dict[int, int] = attrs.Factory(dict)
    timeouts: dict[str, int] = attrs.Factory(lambda: dict(DEFAULT_TIMEOUTS))
    interfaces: dict[int, int] = attrs.Factory(dict)  # sw_if_index -> INSIDE|OUTSIDE
    output_interfaces: list[int] = attrs.Factory(list)
    addresses: list[PoolAddress] = attrs.Factory(list)
    interface_addresses: dict[int, bool] = attrs.Factory(dict)  # sw_if_index -> twice_nat
    static_mappings: dict[tuple[object, ...], StaticMapping] = attrs.Factory(dict)
    identity_mappings: dict[tuple[object, ...], IdentityMapping] = attrs.Factory(dict)
    lb_mappings: dict[tuple[object, ...], LbStaticMapping] = attrs.Factory(dict)
    sessions: list[Session] = attrs.Factory(list)

    def find_address(self, ip: ipaddress.IPv4Address, twice_nat: bool) -> PoolAddress | None:
        return next((a for a in self.addresses if a.ip == ip and a.twice_nat == twice_nat), None)

    def o2i_taken(self, ip: ipaddress.IPv4Address, protocol: int, port: int) -> bool:
        """Whether a static mapping of either kind already has this external address, protocol and port."""
        return (ip, protocol, port) in self.lb_mappings or ("ext", ip, ALL, protocol, port) in self.static_mappings

    def forget_interface(self, sw_if_index: int) -> None:
        """VPP's interface-delete callback drops the interface's NAT features."""
        self.interfaces.pop(sw_if_index, None)
        if sw_if_index in self.output_interfaces:
            self.output_interfaces.remove(sw_if_index)
        self.interface_addresses.pop(sw_if_index, None)
