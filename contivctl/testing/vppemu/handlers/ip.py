"""ip.api: VRF tables, interface addresses, unnumbered, routes, container proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from ..errors import Retval, VppApiError
from ..state import VppState
from ..state.interfaces import ALL, Kind
from ..state.ip import (
    NH_IP4,
    NH_IP6,
    PATH_DROP,
    PATH_LOCAL,
    PATH_NORMAL,
    IPNetwork,
    Path,
    Source,
    special_routes,
)
from .base import Context, Fields, dump, ensure, reply, text

# ---- tables


@reply("ip_table_add_del")
def ip_table_add_del(ctx: Context, m: Any) -> None:
    t = m.table
    if m.is_add:
        ctx.state.ip.add_table(bool(t.is_ip6), t.table_id, text(t.name))
    else:
        ctx.state.ip.del_table(bool(t.is_ip6), t.table_id)


@dump("ip_table_dump")
def ip_table_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    for t in sorted(ctx.state.ip.tables.values(), key=lambda t: (t.is_ip6, t.table_id)):
        yield {"table": {"table_id": t.table_id, "is_ip6": t.is_ip6, "name": t.name}}


# ---- addresses


@reply("sw_interface_add_del_address")
def add_del_address(ctx: Context, m: Any) -> None:
    st = ctx.state
    iface = st.interfaces.get(m.sw_if_index)
    if m.del_all:
        st.ip.drop_addresses(iface.sw_if_index)
        return
    if iface.kind is Kind.LOCAL:
        raise VppApiError(Retval.UNSPECIFIED, "local0 interface doesn't support IP addressing")
    addr = m.prefix
    if not isinstance(addr, ipaddress.IPv4Interface | ipaddress.IPv6Interface):
        addr = ipaddress.ip_interface(addr)
    mine = st.ip.addresses.get(iface.sw_if_index, [])
    if not m.is_add:
        match = [a for a in mine if a.ip == addr.ip and a.network.prefixlen == addr.network.prefixlen]
        ensure(bool(match), Retval.ADDRESS_NOT_FOUND_FOR_INTERFACE, str(addr))
        st.ip.remove_address(iface.sw_if_index, match[0])
        return
    vrf = iface.vrf(addr.version == 6)
    found = st.ip.conflict(iface.sw_if_index, vrf, addr)
    if found is not None:
        other, existing = found
        raise VppApiError(Retval.ADDRESS_IN_USE, f"{addr} conflicts with {existing} on {st.interfaces.get(other).name}")
    st.ip.add_address(iface.sw_if_index, vrf, addr)


@dump("ip_address_dump")
def ip_address_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    for addr in ctx.state.ip.addrs(m.sw_if_index, bool(m.is_ipv6)):
        yield {"sw_if_index": m.sw_if_index, "prefix": addr}


@dump("ip_unnumbered_dump")
def ip_unnumbered_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    for iface in ctx.state.interfaces.by_index.values():
        if iface.unnumbered_to is None:
            continue
        if m.sw_if_index != ALL and m.sw_if_index != iface.sw_if_index:
            continue
        yield {"sw_if_index": iface.sw_if_index, "ip_sw_if_index": iface.unnumbered_to}


# ---- routes


def decode_path(ctx: Context, p: Any) -> Path:
    proto = int(p.proto)
    addr = p.nh.address
    nh = addr.ip6 if proto == NH_IP6 else addr.ip4
    if nh is not None and not isinstance(nh, ipaddress.IPv4Address | ipaddress.IPv6Address):
        nh = ipaddress.ip_address(nh)
    path = Path(
        sw_if_index=p.sw_if_index,
        table_id=p.table_id,
        rpf_id=p.rpf_id,
        weight=p.weight or 1,
        preference=p.preference,
        type=int(p.type),
        flags=int(p.flags),
        proto=proto,
        nh=nh,
        via_label=p.nh.via_label,
        obj_id=p.nh.obj_id,
        classify_table_index=p.nh.classify_table_index,
    )
    if path.type == PATH_NORMAL:
        if path.sw_if_index != ALL:
            ctx.state.interfaces.get(path.sw_if_index)
        else:
            # recursive or lookup path: its next-hop table must exist (fib_api_path_decode)
            ctx.state.ip.table(proto == NH_IP6, path.table_id)
    return path


def encode_path(p: Path) -> Fields:
    if p.nh is None:
        address: Fields = {}
    elif p.nh.version == 6:
        address = {"ip6": p.nh}
    else:
        address = {"ip4": p.nh}
    return {
        "sw_if_index": p.sw_if_index,
        "table_id": p.table_id,
        "rpf_id": p.rpf_id,
        "weight": p.weight,
        "preference": p.preference,
        "type": p.type,
        "flags": p.flags,
        "proto": p.proto,
        "nh": {
            "address": address,
            "via_label": p.via_label,
            "obj_id": p.obj_id,
            "classify_table_index": p.classify_table_index,
        },
        "n_labels": 0,
        "label_stack": [{}] * 16,
    }


@reply("ip_route_add_del")
def ip_route_add_del(ctx: Context, m: Any) -> Fields:
    st = ctx.state
    r = m.route
    prefix: IPNetwork = r.prefix
    is_ip6 = prefix.version == 6
    st.ip.table(is_ip6, r.table_id)
    paths = [decode_path(ctx, p) for p in r.paths]
    if m.is_add:
        ensure(bool(paths), Retval.NO_PATHS_IN_ROUTE, str(prefix))
        st.ip.add_route(is_ip6, r.table_id, prefix, paths, bool(m.is_multipath))
    else:
        ensure(bool(paths) or not m.is_multipath, Retval.NO_PATHS_IN_ROUTE, str(prefix))
        st.ip.del_route(is_ip6, r.table_id, prefix, paths, bool(m.is_multipath))
    return {"stats_index": stats_index(r.table_id, prefix) if m.is_add else ALL}


def stats_index(table_id: int, prefix: IPNetwork) -> int:
    """A stable stand-in for the stats-segment index VPP hands out per FIB entry."""
    return hash((table_id, prefix)) & 0x7FFFFFFF


def fib_view(st: VppState, is_ip6: bool, table_id: int) -> dict[IPNetwork, list[Path]]:
    """The entries a dump shows: per prefix, the paths of the best source."""
    best: dict[IPNetwork, tuple[Source, list[Path]]] = dict(special_routes(is_ip6))

    def offer(prefix: IPNetwork, source: Source, paths: list[Path]) -> None:
        cur = best.get(prefix)
        if cur is None or source < cur[0]:
            best[prefix] = (source, paths)

    for prefix, paths in st.ip.routes.get((is_ip6, table_id), {}).items():
        offer(prefix, Source.API, paths)
    proto = NH_IP6 if is_ip6 else NH_IP4
    host_len = 128 if is_ip6 else 32
    for iface in st.interfaces.by_index.values():
        if iface.vrf(is_ip6) != table_id:
            continue
        if iface.admin_up:
            for a in st.ip.addrs(iface.sw_if_index, is_ip6):
                idx = iface.sw_if_index
                offer(a.network, Source.INTERFACE, [Path(sw_if_index=idx, proto=proto)])
                host = ipaddress.ip_network(f"{a.ip}/{host_len}")
                offer(host, Source.INTERFACE, [Path(sw_if_index=idx, type=PATH_LOCAL, proto=proto, nh=a.ip)])
                if not is_ip6 and a.network.prefixlen <= 30:
                    for edge in (a.network.network_address, a.network.broadcast_address):
                        offer(
                            ipaddress.ip_network(f"{edge}/32"),
                            Source.INTERFACE,
                            [Path(type=PATH_DROP, proto=proto)],
                        )
    for idx, table in st.ip.neighbors.items():
        owner = st.interfaces.by_index.get(idx)
        if owner is None or owner.vrf(is_ip6) != table_id:
            continue
        for ip, nb in table.items():
            if (ip.version == 6) != is_ip6 or nb.flags & 2:
                continue
            offer(ipaddress.ip_network(f"{ip}/{host_len}"), Source.ADJ, [Path(sw_if_index=idx, proto=proto, nh=ip)])
    return {p: v[1] for p, v in best.items()}


def _route(table_id: int, prefix: IPNetwork, paths: list[Path]) -> Fields:
    return {
        "table_id": table_id,
        "stats_index": stats_index(table_id, prefix),
        "prefix": prefix,
        "n_paths": len(paths),
        "paths": [encode_path(p) for p in paths],
    }


@dump("ip_route_dump")
def ip_route_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    t = m.table
    is_ip6 = bool(t.is_ip6)
    if (is_ip6, t.table_id) not in ctx.state.ip.tables:
        return
    view = fib_view(ctx.state, is_ip6, t.table_id)
    for prefix in sorted(view, key=lambda p: (p.prefixlen, int(p.network_address))):
        yield {"route": _route(t.table_id, prefix, view[prefix])}


@reply("ip_route_lookup")
def ip_route_lookup(ctx: Context, m: Any) -> Fields:
    prefix: IPNetwork = m.prefix
    is_ip6 = prefix.version == 6
    ctx.state.ip.table(is_ip6, m.table_id)
    view = fib_view(ctx.state, is_ip6, m.table_id)
    if m.exact:
        found = prefix if prefix in view else None
    else:
        covering = [p for p in view if p.prefixlen <= prefix.prefixlen and prefix.subnet_of(p)]  # type: ignore[arg-type]
        found = max(covering, key=lambda p: p.prefixlen) if covering else None
    if found is None:
        raise VppApiError(Retval.NO_SUCH_ENTRY, str(prefix))
    return {"route": _route(m.table_id, found, view[found])}


# ---- container proxy


@reply("ip_container_proxy_add_del")
def container_proxy(ctx: Context, m: Any) -> None:
    ctx.state.interfaces.get(m.sw_if_index)
    key = (m.pfx, m.sw_if_index)
    if m.is_add:
        ctx.state.ip.container_proxies.add(key)
    else:
        ctx.state.ip.container_proxies.discard(key)


@dump("ip_container_proxy_dump")
def container_proxy_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    for pfx, idx in sorted(ctx.state.ip.container_proxies, key=lambda c: (str(c[0]), c[1])):
        yield {"sw_if_index": idx, "prefix": pfx}
