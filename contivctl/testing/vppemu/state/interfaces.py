"""Software interfaces: VPP's interface pool and what hangs off each entry."""

from __future__ import annotations

import enum
import heapq
import ipaddress
import random

import attrs

from ..errors import Retval, VppApiError

ALL = 0xFFFFFFFF
MAX_L3_MTU = 9000


class Kind(enum.Enum):
    """Which device class created the interface, with VPP's dev-type string."""

    LOCAL = "local"
    NIC = "dpdk"
    LOOPBACK = "Loopback"
    TAP = "virtio"
    AF_PACKET = "af_packet"
    VXLAN = "VXLAN"
    BVI = "BVI"


# rx_mode enum of interface_types.api
RX_POLLING, RX_INTERRUPT, RX_ADAPTIVE, RX_DEFAULT = 1, 2, 3, 4
_HAS_RX_QUEUES = {Kind.NIC, Kind.TAP, Kind.AF_PACKET}


@attrs.define
class TapInfo:
    id: int
    tx_ring_sz: int
    rx_ring_sz: int
    host_if_name: str
    host_namespace: str
    host_mtu_size: int
    host_mac: bytes
    host_ip4_prefix: ipaddress.IPv4Interface | None
    host_ip6_prefix: ipaddress.IPv6Interface | None
    host_bridge: str
    tap_flags: int
    kernel_key: int = 0


@attrs.define
class VxlanInfo:
    """A tunnel's parameters; `key()` is what VPP's tunnel hash tells tunnels apart by."""

    instance: int
    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    src_port: int
    dst_port: int
    mcast_sw_if_index: int
    encap_vrf_id: int
    decap_next_index: int
    vni: int

    def key(self) -> tuple[object, ...]:
        return (self.src, self.dst, self.vni, self.encap_vrf_id, self.src_port, self.dst_port)


@attrs.define
class Interface:
    sw_if_index: int
    name: str
    kind: Kind
    mac: bytes
    instance: int = 0
    admin_up: bool = False
    link_up: bool = True
    link_mtu: int = MAX_L3_MTU
    mtu: list[int] = attrs.Factory(lambda: [0, 0, 0, 0])
    tag: str = ""
    rx_mode: int = RX_DEFAULT
    vrf4: int = 0
    vrf6: int = 0
    unnumbered_to: int | None = None
    tap: TapInfo | None = None
    host_if_name: str = ""  # af_packet
    vxlan: VxlanInfo | None = None

    def __attrs_post_init__(self) -> None:
        if not any(self.mtu):
            self.mtu = [self.link_mtu] * 4

    @property
    def flags(self) -> int:
        """if_status_flags: ADMIN_UP=1, LINK_UP=2 (link only counts when admin up)."""
        return (1 if self.admin_up else 0) | (2 if self.admin_up and self.link_up else 0)

    def vrf(self, is_ip6: bool) -> int:
        return self.vrf6 if is_ip6 else self.vrf4

    @property
    def has_rx_queues(self) -> bool:
        return self.kind in _HAS_RX_QUEUES


def random_mac() -> bytes:
    """VPP's generated MACs: 02:fe followed by 4 random bytes."""
    return bytes([0x02, 0xFE]) + random.getrandbits(32).to_bytes(4, "big")


#: device classes that number their interfaces (loop0, bvi1, vxlan_tunnel2, tap3)
_NUMBERED = frozenset({Kind.LOOPBACK, Kind.BVI, Kind.VXLAN, Kind.TAP})


class InstancePool:
    """The instance numbers one device class has in use, and the one VPP gives next: the lowest free.

    A cluster makes a tunnel per node, thousands of them, so the lowest free
    number must be found without looking at every interface of the class.
    Every number below `_fresh` that is free waits in the `_holes` heap;
    heap entries taken again since are dropped when they reach the top.
    """

    def __init__(self) -> None:
        self._used: set[int] = set()
        self._fresh = 0
        self._holes: list[int] = []

    def __contains__(self, n: int) -> bool:
        return n in self._used

    def take(self, n: int) -> None:
        self._used.add(n)

    def give_back(self, n: int) -> None:
        self._used.discard(n)
        if n < self._fresh:
            heapq.heappush(self._holes, n)

    def lowest_free(self) -> int:
        used, holes = self._used, self._holes
        while self._fresh in used:
            self._fresh += 1
        while holes and holes[0] in used:
            heapq.heappop(holes)
        return holes[0] if holes else self._fresh


@attrs.define
class Interfaces:
    """VPP's interface pool, with the hash tables VPP keeps beside it.

    `by_index` is the pool; the other tables answer, without a walk over all
    interfaces, what VPP answers from its own hashes: the interfaces of one
    device class, the tunnel with given endpoints, the af_packet of a host
    link, the free instance numbers, who borrows an interface's addresses.
    Only `add`, `remove` and `set_unnumbered` change an interface's entry in
    them, so they cannot drift from the pool.
    """

    by_index: dict[int, Interface] = attrs.Factory(dict)
    next_index: int = 0
    _by_kind: dict[Kind, dict[int, Interface]] = attrs.field(factory=dict, init=False, repr=False)
    _instances: dict[Kind, InstancePool] = attrs.field(factory=dict, init=False, repr=False)
    _vxlan: dict[tuple[object, ...], Interface] = attrs.field(factory=dict, init=False, repr=False)
    _af_packet: dict[str, Interface] = attrs.field(factory=dict, init=False, repr=False)
    _borrowers: dict[int, set[int]] = attrs.field(factory=dict, init=False, repr=False)

    def add(self, name: str, kind: Kind, mac: bytes, **kw: object) -> Interface:
        iface = Interface(self.next_index, name, kind, mac, **kw)  # type: ignore[arg-type]
        idx = iface.sw_if_index
        self.by_index[idx] = iface
        self.next_index += 1
        self._by_kind.setdefault(kind, {})[idx] = iface
        if kind in _NUMBERED:
            self.instances(kind).take(iface.instance)
        if iface.vxlan is not None:
            self._vxlan[iface.vxlan.key()] = iface
        if kind is Kind.AF_PACKET:
            self._af_packet[iface.host_if_name] = iface
        return iface

    def get(self, sw_if_index: int, retval: Retval = Retval.INVALID_SW_IF_INDEX) -> Interface:
        """VPP's VALIDATE_SW_IF_INDEX: an unknown index refuses the request."""
        iface = self.by_index.get(sw_if_index)
        if iface is None:
            raise VppApiError(retval, f"sw_if_index {sw_if_index}")
        return iface

    def remove(self, sw_if_index: int) -> Interface:
        """Take an interface out of the pool; whoever borrowed its addresses is numbered no more."""
        iface = self.by_index.pop(sw_if_index)
        del self._by_kind[iface.kind][sw_if_index]
        if iface.kind in _NUMBERED:
            self.instances(iface.kind).give_back(iface.instance)
        if iface.vxlan is not None:
            self._vxlan.pop(iface.vxlan.key(), None)
        if iface.kind is Kind.AF_PACKET:
            self._af_packet.pop(iface.host_if_name, None)
        self._unlend(iface)
        for borrower in self._borrowers.pop(sw_if_index, ()):
            self.by_index[borrower].unnumbered_to = None
        return iface

    def set_unnumbered(self, iface: Interface, lender: int | None) -> None:
        """Make `iface` borrow the addresses of `lender` (None: of nobody)."""
        self._unlend(iface)
        iface.unnumbered_to = lender
        if lender is not None:
            self._borrowers.setdefault(lender, set()).add(iface.sw_if_index)

    def _unlend(self, iface: Interface) -> None:
        lender = iface.unnumbered_to
        if lender is None:
            return
        borrowers = self._borrowers.get(lender)
        if borrowers is not None:
            borrowers.discard(iface.sw_if_index)
            if not borrowers:
                del self._borrowers[lender]

    def of_kind(self, kind: Kind) -> list[Interface]:
        """The interfaces of one device class, in index order."""
        return list(self._by_kind.get(kind, {}).values())

    def vxlan_tunnel(self, info: VxlanInfo) -> Interface | None:
        return self._vxlan.get(info.key())

    def af_packet(self, host_if_name: str) -> Interface | None:
        return self._af_packet.get(host_if_name)

    def free_instance(self, kind: Kind, wanted: int | None) -> int:
        pool = self.instances(kind)
        if wanted is not None and wanted != ALL:
            if wanted in pool:
                raise VppApiError(Retval.INSTANCE_IN_USE, f"{kind.value} instance {wanted}")
            return wanted
        return pool.lowest_free()

    def instances(self, kind: Kind) -> InstancePool:
        """The instance numbers of a numbering device class (loopback, BVI, VXLAN, tap)."""
        pool = self._instances.get(kind)
        if pool is None:
            pool = self._instances[kind] = InstancePool()
        return pool
