"""Software interfaces: VPP's interface pool and what hangs off each entry."""

from __future__ import annotations

import enum
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
    instance: int
    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    src_port: int
    dst_port: int
    mcast_sw_if_index: int
    encap_vrf_id: int
    decap_next_index: int
    vni: int


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


@attrs.define
class Interfaces:
    by_index: dict[int, Interface] = attrs.Factory(dict)
    next_index: int = 0

    def add(self, name: str, kind: Kind, mac: bytes, **kw: object) -> Interface:
        iface = Interface(self.next_index, name, kind, mac, **kw)  # type: ignore[arg-type]
        self.by_index[iface.sw_if_index] = iface
        self.next_index += 1
        return iface

    def get(self, sw_if_index: int, retval: Retval = Retval.INVALID_SW_IF_INDEX) -> Interface:
        """VPP's VALIDATE_SW_IF_INDEX: an unknown index refuses the request."""
        iface = self.by_index.get(sw_if_index)
        if iface is None:
            raise VppApiError(retval, f"sw_if_index {sw_if_index}")
        return iface

    def remove(self, sw_if_index: int) -> Interface:
        return self.by_index.pop(sw_if_index)

    def of_kind(self, kind: Kind) -> list[Interface]:
        return [i for i in self.by_index.values() if i.kind is kind]

    def by_name(self, name: str) -> Interface | None:
        return next((i for i in self.by_index.values() if i.name == name), None)

    def free_instance(self, kind: Kind, wanted: int | None) -> int:
        used = {i.instance for i in self.of_kind(kind)}
        if wanted is not None and wanted != ALL:
            if wanted in used:
                raise VppApiError(Retval.INSTANCE_IN_USE, f"{kind.value} instance {wanted}")
            return wanted
        n = 0
        while n in used:
            n += 1
        return n
