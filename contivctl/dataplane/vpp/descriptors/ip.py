"""VRF tables, interface addresses and routes.

What the agent owns among things without a tag:
- a VRF table whose name carries the agent's tag (it names the tables it adds);
- an address on an interface the agent tagged;
- a route that VPP did not make itself: VPP's FIB dump also lists the special
  routes of every table, the connected and local routes of addresses, the
  network/broadcast drops of short prefixes and the host routes of
  neighbours. Those are filtered out here (neighbour host routes are
  reported as not owned: they cannot be told from an agent route of the
  same shape, so the agent never deletes one after its own restart).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from contivctl.dataplane.vpp.connection import TAG_PREFIX
from contivctl.dataplane.vpp.descriptors.base import (
    ALL,
    InterfaceNames,
    VppDescriptor,
    dhcp_leases,
    interface_addresses,
    sw_if_index,
)
from contivctl.iptypes import IPAddress, IPInterface, IPNetwork
from contivctl.items.vpp import Address, Route, Vrf
from contivctl.reconcile import Context, Metadata, Retrieved

PATH_NORMAL, PATH_LOCAL, PATH_DROP, PATH_ICMP_UNREACH = 0, 1, 2, 5
NH_IP4, NH_IP6 = 0, 1
NO_LABELS: list[dict[str, int]] = [{}] * 16

_SPECIAL = {
    ipaddress.ip_network(p)
    for p in ("0.0.0.0/0", "0.0.0.0/32", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32", "::/0", "fe80::/10")
}


def _table_name(v: Vrf) -> str:
    return f"{TAG_PREFIX}vrf{v.id}{'-ip6' if v.ipv6 else ''}"


class VrfDescriptor(VppDescriptor[Vrf]):
    prefix = "vpp/vrf/"

    async def create(self, ctx: Context, key: str, value: Vrf) -> Metadata:
        table = {"table_id": value.id, "is_ip6": value.ipv6, "name": _table_name(value)}
        await self.vpp.call("ip_table_add_del", is_add=True, table=table)
        return value.id

    async def delete(self, ctx: Context, key: str, value: Vrf, metadata: Metadata) -> None:
        table = {"table_id": value.id, "is_ip6": value.ipv6, "name": _table_name(value)}
        await self.vpp.call("ip_table_add_del", is_add=False, table=table)

    async def retrieve(self, ctx: Context, expected: Mapping[str, Vrf]) -> Iterable[Retrieved]:
        out = []
        for t in await self.vpp.dump("ip_table_dump"):
            tid = int(t.table.table_id)
            if tid == 0:
                continue
            v = Vrf(tid, bool(t.table.is_ip6))
            out.append(Retrieved(v.key, v, tid, owned=str(t.table.name).startswith(TAG_PREFIX)))
        return out

    def owns(self, key: str, value: Vrf) -> bool:
        return False


class AddressDescriptor(VppDescriptor[Address]):
    prefix = "vpp/address/"

    def _req(self, ctx: Context, v: Address, is_add: bool) -> dict[str, Any]:
        return {"sw_if_index": sw_if_index(ctx, v.interface), "is_add": is_add, "del_all": False, "prefix": v.address}

    async def create(self, ctx: Context, key: str, value: Address) -> Metadata:
        await self.vpp.call("sw_interface_add_del_address", **self._req(ctx, value, True))
        return None

    async def delete(self, ctx: Context, key: str, value: Address, metadata: Metadata) -> None:
        await self.vpp.call("sw_interface_add_del_address", **self._req(ctx, value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, Address]) -> Iterable[Retrieved]:
        names, leases, by_if = await asyncio.gather(
            InterfaceNames.load(self.vpp), dhcp_leases(self.vpp), interface_addresses(self.vpp)
        )
        out = []
        for idx, details in by_if.items():
            n = names.by_index.get(idx)
            if n is None:
                continue
            for d in details:
                a = Address(n.name, d.prefix)
                lease = leases.get(idx)
                leased = lease is not None and lease[0] == a.address
                out.append(Retrieved(a.key, a, owned=n.owned and not leased))
        return out

    def owns(self, key: str, value: Address) -> bool:
        return False


def _path(ctx: Context, r: Route) -> dict[str, Any]:
    proto = NH_IP6 if r.ipv6 else NH_IP4
    p: dict[str, Any] = {
        "sw_if_index": ALL,
        "table_id": 0,
        "weight": r.weight,
        "preference": r.preference,
        "type": PATH_NORMAL,
        "proto": proto,
        "label_stack": NO_LABELS,
    }
    if r.drop:
        p["type"] = PATH_DROP
    elif r.unreachable:
        p["type"] = PATH_ICMP_UNREACH
    elif r.lookup_vrf is not None:
        p["table_id"] = r.lookup_vrf
    else:
        if r.interface is not None:
            p["sw_if_index"] = sw_if_index(ctx, r.interface)
        if r.next_hop is not None:
            p["nh"] = {"address": {"ip6" if r.ipv6 else "ip4": r.next_hop}}
    return p


class RouteDescriptor(VppDescriptor[Route]):
    prefix = "vpp/route/"

    def _req(self, ctx: Context, r: Route, is_add: bool) -> dict[str, Any]:
        route = {"table_id": r.vrf, "prefix": r.dst, "n_paths": 1, "paths": [_path(ctx, r)]}
        return {"is_add": is_add, "is_multipath": False, "route": route}

    async def create(self, ctx: Context, key: str, value: Route) -> Metadata:
        await self.vpp.call("ip_route_add_del", **self._req(ctx, value, True))
        return None

    def needs_recreate(self, old: Route, new: Route) -> bool:
        return False

    async def update(self, ctx: Context, key: str, old: Route, new: Route, metadata: Metadata) -> Metadata:
        # without is_multipath an add replaces the paths of the prefix
        await self.vpp.call("ip_route_add_del", **self._req(ctx, new, True))
        return None

    async def delete(self, ctx: Context, key: str, value: Route, metadata: Metadata) -> None:
        # By prefix, without the path: the agent's route is the prefix's only API path, and a path
        # through an interface that is gone could not be named (VPP refuses its index)
        route: dict[str, Any] = {"table_id": value.vrf, "prefix": value.dst, "n_paths": 0, "paths": []}
        await self.vpp.call("ip_route_add_del", is_add=False, is_multipath=False, route=route)

    async def retrieve(self, ctx: Context, expected: Mapping[str, Route]) -> Iterable[Retrieved]:
        vpp = self.vpp
        names, tables, nbrs, leases = await asyncio.gather(
            InterfaceNames.load(vpp),
            vpp.dump("ip_table_dump"),
            vpp.dump("ip_neighbor_dump", sw_if_index=ALL, af=0),
            dhcp_leases(vpp),
        )
        lease_routes = {(idx, router) for idx, (_, router) in leases.items()}
        nbrs6 = await vpp.dump("ip_neighbor_dump", sw_if_index=ALL, af=1)
        addrs: list[tuple[int, IPInterface]] = [
            (idx, d.prefix) for idx, details in (await interface_addresses(vpp)).items() for d in details
        ]
        connected = {(i, a.network) for i, a in addrs}
        edges = {ipaddress.ip_network(e) for _, a in addrs if a.version == 4 for e in (a.network[0], a.network[-1])}
        neighbours = {(int(n.neighbor.sw_if_index), n.neighbor.ip_address) for n in [*nbrs, *nbrs6]}
        route_reqs = [
            ("ip_route_dump", {"table": {"table_id": int(t.table.table_id), "is_ip6": bool(t.table.is_ip6)}})
            for t in tables
        ]
        out = []
        for details in await vpp.dump_many(route_reqs):
            for d in details:
                r = d.route
                found = _route_of(r, names, connected, edges, neighbours, lease_routes)
                if found is not None:
                    value, owned = found
                    # A pod's route has the form of the entry VPP makes for a neighbour (the host
                    # prefix via the interface to that address): the agent's when it expects just
                    # that route, or a restart would leave it behind when the pod goes.
                    owned = owned or expected.get(value.key) == value
                    out.append(Retrieved(value.key, value, owned=owned))
        return out

    def owns(self, key: str, value: Route) -> bool:
        return False


def _route_of(
    r: Any,
    names: InterfaceNames,
    connected: set[tuple[int, IPNetwork]],
    edges: set[IPNetwork],
    neighbours: set[tuple[int, IPAddress]],
    lease_routes: set[tuple[int, IPAddress]],
) -> tuple[Route, bool] | None:
    """The agent's view of one FIB entry, with ownership; None for what VPP made itself."""
    prefix: IPNetwork = r.prefix
    paths = list(r.paths)
    if len(paths) != 1:
        return None  # the agent only makes single-path routes
    p = paths[0]
    ptype = int(p.type)
    if ptype == PATH_LOCAL:
        return None
    if ptype == PATH_DROP:
        if prefix in _SPECIAL or prefix in edges:
            return None
        return Route(int(r.table_id), prefix, drop=True, weight=int(p.weight), preference=int(p.preference)), True
    if ptype == PATH_ICMP_UNREACH:
        value = Route(int(r.table_id), prefix, unreachable=True, weight=int(p.weight), preference=int(p.preference))
        return value, True
    if ptype != PATH_NORMAL:
        return None
    idx = int(p.sw_if_index)
    nh: IPAddress = p.nh.address.ip6 if prefix.version == 6 else p.nh.address.ip4
    has_nh = not nh.is_unspecified
    if idx == ALL and not has_nh:
        value = Route(
            int(r.table_id), prefix, lookup_vrf=int(p.table_id), weight=int(p.weight), preference=int(p.preference)
        )
        return value, True
    if idx != ALL and not has_nh and (idx, prefix) in connected:
        return None
    n = names.get(idx) if idx != ALL else None
    if idx != ALL and n is None:
        # Through an interface that is gone: what VPP makes itself goes with the interface, so this is
        # an API route left behind (its interface removed under it). It forwards nothing; named by the
        # index, which no item's interface is, it is never taken for a desired route, only deleted.
        gone = Route(
            int(r.table_id),
            prefix,
            next_hop=nh if has_nh else None,
            interface=f"#{idx}",
            weight=int(p.weight),
            preference=int(p.preference),
        )
        return gone, True
    value = Route(
        int(r.table_id),
        prefix,
        next_hop=nh if has_nh else None,
        interface=n.name if n is not None else None,
        weight=int(p.weight),
        preference=int(p.preference),
    )
    host = prefix.prefixlen == prefix.max_prefixlen
    if host and has_nh and idx != ALL and (idx, nh) in neighbours and nh == prefix.network_address:
        return value, False
    if prefix.prefixlen == 0 and (idx, nh) in lease_routes:
        return value, False
    return value, n is None or n.owned
