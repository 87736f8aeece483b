"""ip_neighbor.api and arp.api: static neighbours, neighbour config, proxy ARP."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from ..errors import Retval
from ..state.interfaces import ALL
from ..state.ip import Neighbor
from .base import Context, Fields, dump, ensure, ip_of, mac_bytes, reply

NEIGHBOR_EVENT = "ip_neighbor"
FLAG_STATIC = 1
EVENT_ADDED, EVENT_REMOVED = 1, 2


def _encode(nb: Neighbor) -> Fields:
    return {"sw_if_index": nb.sw_if_index, "flags": nb.flags, "mac_address": nb.mac, "ip_address": nb.ip}


@reply("ip_neighbor_add_del")
def ip_neighbor_add_del(ctx: Context, m: Any) -> Fields:
    n = m.neighbor
    ctx.state.interfaces.get(n.sw_if_index)
    ip = ip_of(n.ip_address)
    neighbors = ctx.state.ip.neighbors
    if m.is_add:
        nb = Neighbor(n.sw_if_index, ip, mac_bytes(n.mac_address), int(n.flags))
        neighbors.setdefault(n.sw_if_index, {})[ip] = nb
        ctx.publish(NEIGHBOR_EVENT, "ip_neighbor_event_v2", {"flags": EVENT_ADDED, "neighbor": _encode(nb)})
    else:
        table = neighbors.get(n.sw_if_index, {})
        ensure(ip in table, Retval.NO_SUCH_ENTRY, f"{ip} on {n.sw_if_index}")
        nb = table.pop(ip)
        if not table:
            del neighbors[n.sw_if_index]
        ctx.publish(NEIGHBOR_EVENT, "ip_neighbor_event_v2", {"flags": EVENT_REMOVED, "neighbor": _encode(nb)})
    return {"stats_index": ALL}


@dump("ip_neighbor_dump")
def ip_neighbor_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    want_ip6 = int(m.af) == 1
    neighbors = ctx.state.ip.neighbors
    indices = sorted(neighbors) if m.sw_if_index == ALL else [m.sw_if_index]
    for idx in indices:
        for ip, nb in sorted(neighbors.get(idx, {}).items(), key=lambda kv: str(kv[0])):
            if (ip.version == 6) == want_ip6:
                yield {"age": 0.0, "neighbor": _encode(nb)}


@reply("ip_neighbor_flush")
def ip_neighbor_flush(ctx: Context, m: Any) -> None:
    if m.sw_if_index != ALL:
        ctx.state.interfaces.get(m.sw_if_index)
    want_ip6 = int(m.af) == 1
    neighbors = ctx.state.ip.neighbors
    indices = list(neighbors) if m.sw_if_index == ALL else [m.sw_if_index]
    for idx in indices:
        table = neighbors.get(idx)
        if table is None:
            continue
        for ip, nb in list(table.items()):
            if not nb.flags & FLAG_STATIC and (ip.version == 6) == want_ip6:
                del table[ip]
        if not table:
            del neighbors[idx]


@reply("want_ip_neighbor_events_v2")
def want_ip_neighbor_events(ctx: Context, m: Any) -> None:
    ctx.subscribe(NEIGHBOR_EVENT, bool(m.enable), m.pid)


@reply("ip_neighbor_config")
def ip_neighbor_config(ctx: Context, m: Any) -> None:
    ctx.state.ip.neighbor_config[int(m.af)] = (m.max_number, m.max_age, bool(m.recycle))


@reply("ip_neighbor_config_get")
def ip_neighbor_config_get(ctx: Context, m: Any) -> Fields:
    max_number, max_age, recycle = ctx.state.ip.neighbor_config[int(m.af)]
    return {"af": int(m.af), "max_number": max_number, "max_age": max_age, "recycle": recycle}


# ---- proxy ARP (arp.api)


@reply("proxy_arp_add_del")
def proxy_arp_add_del(ctx: Context, m: Any) -> None:
    p = m.proxy
    ctx.state.ip.table(False, p.table_id)
    entry = (p.table_id, ipaddress.IPv4Address(p.low), ipaddress.IPv4Address(p.hi))
    ranges = ctx.state.ip.proxy_arp_ranges
    if m.is_add:
        ensure(entry not in ranges, Retval.ENTRY_ALREADY_EXISTS, str(entry))
        ranges.append(entry)
    else:
        ensure(entry in ranges, Retval.NO_SUCH_ENTRY, str(entry))
        ranges.remove(entry)


@dump("proxy_arp_dump")
def proxy_arp_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    for table_id, low, hi in ctx.state.ip.proxy_arp_ranges:
        yield {"proxy": {"table_id": table_id, "low": low, "hi": hi}}


@reply("proxy_arp_intfc_enable_disable")
def proxy_arp_intfc(ctx: Context, m: Any) -> None:
    ctx.state.interfaces.get(m.sw_if_index)
    if m.enable:
        ctx.state.ip.proxy_arp_interfaces.add(m.sw_if_index)
    else:
        ctx.state.ip.proxy_arp_interfaces.discard(m.sw_if_index)


@dump("proxy_arp_intfc_dump")
def proxy_arp_intfc_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    for idx in sorted(ctx.state.ip.proxy_arp_interfaces):
        yield {"sw_if_index": idx}
