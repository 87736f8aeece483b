"""IP layer: VRF tables, interface addresses, routes and neighbours.

Routes are kept per source, as in VPP's FIB: the API's own routes, neighbour
adjacencies, the interface (connected/local) routes and the special routes each
table has from birth. A dump or lookup shows, per prefix, the paths of the
best source. Connected routes are derived from addresses and admin state when
asked for, so they can never go stale.
"""

from __future__ import annotations

import bisect
import enum
import ipaddress
from collections.abc import Iterator

import attrs

from ..errors import Retval, VppApiError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

ALL = 0xFFFFFFFF

# fib_path_type
PATH_NORMAL, PATH_LOCAL, PATH_DROP = 0, 1, 2
# fib_path_nh_proto
NH_IP4, NH_IP6 = 0, 1


class Source(enum.IntEnum):
    """FIB sources, lower value wins (VPP's source priorities, simplified)."""

    SPECIAL = 0
    INTERFACE = 1
    API = 2
    ADJ = 3
    DEFAULT_ROUTE = 4


@attrs.frozen
class Path:
    sw_if_index: int = ALL
    table_id: int = 0
    rpf_id: int = 0
    weight: int = 1
    preference: int = 0
    type: int = PATH_NORMAL
    flags: int = 0
    proto: int = NH_IP4
    nh: IPAddress | None = None
    via_label: int = 0
    obj_id: int = 0
    classify_table_index: int = 0

    @property
    def is_lookup(self) -> bool:
        """A deag path: no interface, no next hop, look up again in `table_id`."""
        return (
            self.type == PATH_NORMAL
            and self.sw_if_index == ALL
            and (self.nh is None or self.nh.packed == bytes(len(self.nh.packed)))
        )


@attrs.define
class Table:
    table_id: int
    is_ip6: bool
    name: str


@attrs.define
class Neighbor:
    sw_if_index: int
    ip: IPAddress
    mac: bytes
    flags: int


def table_key(is_ip6: bool, table_id: int) -> tuple[bool, int]:
    return (is_ip6, table_id)


def _default_name(is_ip6: bool, table_id: int) -> str:
    return f"ipv{6 if is_ip6 else 4}-VRF:{table_id}"


def _special_routes(is_ip6: bool) -> dict[IPNetwork, tuple[Source, list[Path]]]:
    drop6 = Path(type=PATH_DROP, proto=NH_IP6)
    drop4 = Path(type=PATH_DROP)
    if is_ip6:
        return {
            ipaddress.IPv6Network("::/0"): (Source.DEFAULT_ROUTE, [drop6]),
            ipaddress.IPv6Network("fe80::/10"): (Source.SPECIAL, [Path(type=PATH_LOCAL, proto=NH_IP6)]),
        }
    return {
        ipaddress.IPv4Network("0.0.0.0/0"): (Source.DEFAULT_ROUTE, [drop4]),
        ipaddress.IPv4Network("0.0.0.0/32"): (Source.SPECIAL, [drop4]),
        ipaddress.IPv4Network("224.0.0.0/4"): (Source.SPECIAL, [drop4]),
        ipaddress.IPv4Network("240.0.0.0/4"): (Source.SPECIAL, [drop4]),
        ipaddress.IPv4Network("255.255.255.255/32"): (Source.SPECIAL, [drop4]),
    }


class OverlapIndex:
    """The addresses of one family in one VRF, found by overlap without a walk over all of them.

    Two interface addresses overlap when either one's address lies in the
    other's prefix. Those whose prefix holds the new address are looked up
    by prefix, once per prefix length in use; those whose address lies in
    the new prefix are a range of the addresses kept sorted. A node with a
    thousand pods has a thousand addresses, and each new one is checked.
    """

    def __init__(self) -> None:
        self._by_prefix: dict[IPNetwork, list[tuple[int, IPInterface]]] = {}
        self._lengths: dict[int, int] = {}
        #: (address as an integer, sw_if_index, prefix length), sorted
        self._sorted: list[tuple[int, int, int]] = []

    def add(self, sw_if_index: int, addr: IPInterface) -> None:
        self._by_prefix.setdefault(addr.network, []).append((sw_if_index, addr))
        n = addr.network.prefixlen
        self._lengths[n] = self._lengths.get(n, 0) + 1
        bisect.insort(self._sorted, (int(addr.ip), sw_if_index, n))

    def remove(self, sw_if_index: int, addr: IPInterface) -> None:
        entries = self._by_prefix[addr.network]
        entries.remove((sw_if_index, addr))
        if not entries:
            del self._by_prefix[addr.network]
        n = addr.network.prefixlen
        self._lengths[n] -= 1
        if not self._lengths[n]:
            del self._lengths[n]
        entry = (int(addr.ip), sw_if_index, n)
        i = bisect.bisect_left(self._sorted, entry)
        assert self._sorted[i] == entry
        del self._sorted[i]

    def overlapping(self, addr: IPInterface) -> Iterator[tuple[int, IPInterface]]:
        """Every (sw_if_index, address) overlapping `addr`; some more than once."""
        for n in list(self._lengths):
            yield from self._by_prefix.get(ipaddress.ip_network((addr.ip, n), strict=False), ())
        # those with a longer or equal prefix whose address lies in addr's prefix (a shorter
        # prefix holding an address of addr's prefix holds addr too, so it was found above)
        net = addr.network
        make = ipaddress.IPv6Interface if addr.version == 6 else ipaddress.IPv4Interface
        i = bisect.bisect_left(self._sorted, (int(net.network_address), -1, -1))
        high = int(net.broadcast_address)
        while i < len(self._sorted) and self._sorted[i][0] <= high:
            ip, idx, n = self._sorted[i]
            yield idx, make((ip, n))
            i += 1


@attrs.define
class IpState:
    tables: dict[tuple[bool, int], Table] = attrs.Factory(
        lambda: {
            table_key(False, 0): Table(0, False, _default_name(False, 0)),
            table_key(True, 0): Table(0, True, _default_name(True, 0)),
        }
    )
    # API-sourced routes: table key -> prefix -> paths
    routes: dict[tuple[bool, int], dict[IPNetwork, list[Path]]] = attrs.Factory(dict)
    #: per interface, in the order added; changed only through add_address, remove_address, drop_addresses
    addresses: dict[int, list[IPInterface]] = attrs.Factory(dict)
    _overlap: dict[tuple[bool, int], OverlapIndex] = attrs.field(factory=dict, init=False, repr=False)
    _placed: dict[tuple[int, IPInterface], tuple[bool, int]] = attrs.field(factory=dict, init=False, repr=False)
    #: per interface, as VPP's neighbour database: an interface's go with it in one step
    neighbors: dict[int, dict[IPAddress, Neighbor]] = attrs.Factory(dict)
    container_proxies: set[tuple[IPNetwork, int]] = attrs.Factory(set)
    proxy_arp_ranges: list[tuple[int, ipaddress.IPv4Address, ipaddress.IPv4Address]] = attrs.Factory(list)
    proxy_arp_interfaces: set[int] = attrs.Factory(set)
    #: IP punt redirects: (is_ip6, receiving sw_if_index or ALL for any) -> paths
    punt_redirects: dict[tuple[bool, int], list[Path]] = attrs.Factory(dict)
    neighbor_config: dict[int, tuple[int, int, bool]] = attrs.Factory(
        lambda: {0: (50000, 0, False), 1: (50000, 0, False)}
    )

    # ---- tables
    def table(self, is_ip6: bool, table_id: int) -> Table:
        t = self.tables.get(table_key(is_ip6, table_id))
        if t is None:
            raise VppApiError(Retval.NO_SUCH_FIB, f"ipv{6 if is_ip6 else 4} table {table_id}")
        return t

    def add_table(self, is_ip6: bool, table_id: int, name: str) -> None:
        if table_id == 0:
            return  # the default table always exists and cannot be touched
        key = table_key(is_ip6, table_id)
        if key not in self.tables:
            self.tables[key] = Table(table_id, is_ip6, name or _default_name(is_ip6, table_id))

    def del_table(self, is_ip6: bool, table_id: int) -> None:
        """VPP drops the API's lock and flushes the API's routes; a missing table is no error."""
        if table_id == 0:
            return
        key = table_key(is_ip6, table_id)
        self.tables.pop(key, None)
        self.routes.pop(key, None)

    # ---- addresses
    def addrs(self, sw_if_index: int, is_ip6: bool | None = None) -> list[IPInterface]:
        lst = self.addresses.get(sw_if_index, [])
        if is_ip6 is None:
            return list(lst)
        return [a for a in lst if (a.version == 6) == is_ip6]

    def add_address(self, sw_if_index: int, vrf: int, addr: IPInterface) -> None:
        """Put `addr` on an interface that is in `vrf` for the address's family."""
        self.addresses.setdefault(sw_if_index, []).append(addr)
        key = (addr.version == 6, vrf)
        self._placed[(sw_if_index, addr)] = key
        index = self._overlap.get(key)
        if index is None:
            index = self._overlap[key] = OverlapIndex()
        index.add(sw_if_index, addr)

    def remove_address(self, sw_if_index: int, addr: IPInterface) -> None:
        mine = self.addresses.get(sw_if_index, [])
        mine.remove(addr)
        if not mine:
            self.addresses.pop(sw_if_index, None)
        key = self._placed.pop((sw_if_index, addr), None)
        if key is not None:
            self._overlap[key].remove(sw_if_index, addr)

    def drop_addresses(self, sw_if_index: int) -> None:
        for addr in list(self.addresses.get(sw_if_index, ())):
            self.remove_address(sw_if_index, addr)

    def conflict(self, sw_if_index: int, vrf: int, addr: IPInterface) -> tuple[int, IPInterface] | None:
        """An address `addr` would overlap in `vrf`: VPP refuses it, unless it is another address
        of the same prefix on the same interface. None when there is none."""
        index = self._overlap.get((addr.version == 6, vrf))
        if index is None:
            return None
        for other, existing in index.overlapping(addr):
            same_prefix_sibling = (
                other == sw_if_index and existing.network.prefixlen == addr.network.prefixlen and existing.ip != addr.ip
            )
            if not same_prefix_sibling:
                return other, existing
        return None

    # ---- routes
    def api_routes(self, is_ip6: bool, table_id: int) -> dict[IPNetwork, list[Path]]:
        return self.routes.setdefault(table_key(is_ip6, table_id), {})

    def add_route(self, is_ip6: bool, table_id: int, prefix: IPNetwork, paths: list[Path], multipath: bool) -> None:
        table = self.api_routes(is_ip6, table_id)
        if multipath and prefix in table:
            merged = list(table[prefix])
            merged.extend(p for p in paths if p not in merged)
            table[prefix] = merged
        else:
            table[prefix] = list(paths)

    def del_route(self, is_ip6: bool, table_id: int, prefix: IPNetwork, paths: list[Path], multipath: bool) -> None:
        table = self.api_routes(is_ip6, table_id)
        if prefix not in table:
            return  # fib_table_entry_delete of a missing entry is silent
        if multipath:
            remaining = [p for p in table[prefix] if p not in paths]
            if remaining:
                table[prefix] = remaining
                return
        del table[prefix]


def special_routes(is_ip6: bool) -> dict[IPNetwork, tuple[Source, list[Path]]]:
    return _special_routes(is_ip6)
