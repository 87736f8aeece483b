"""IP layer: VRF tables, interface addresses, routes and neighbours.

Routes are kept per source, as in VPP's FIB: the API's own routes, neighbour
adjacencies, the interface (connected/local) routes and the special routes each
table has from birth. A dump or lookup shows, per prefix, the paths of the
best source. Connected routes are derived from addresses and admin state when
asked for, so they can never go stale.
"""

from __future__ import annotations

import enum
import ipaddress

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
    addresses: dict[int, list[IPInterface]] = attrs.Factory(dict)
    neighbors: dict[tuple[int, IPAddress], Neighbor] = attrs.Factory(dict)
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
