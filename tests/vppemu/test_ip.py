"""ip.api / ip_neighbor.api / arp.api behaviour and refusals."""

from __future__ import annotations

import ipaddress

from .helpers import AsyncClient, call, dump, path, route

ALL = 0xFFFFFFFF
DROP, LOCAL = 2, 1


async def _loop(vpp: AsyncClient, up: bool = True) -> int:
    idx: int = (await call(vpp, "create_loopback")).sw_if_index
    if up:
        await call(vpp, "sw_interface_set_flags", sw_if_index=idx, flags=1)
    return idx


async def _addr(vpp: AsyncClient, idx: int, prefix: str, is_add: bool = True) -> int:
    r = await call(vpp, "sw_interface_add_del_address", sw_if_index=idx, is_add=is_add, prefix=prefix)
    return int(r.retval)


async def _routes(vpp: AsyncClient, table_id: int = 0, is_ip6: bool = False) -> dict[str, list[object]]:
    details = await dump(vpp, "ip_route_dump", table={"table_id": table_id, "is_ip6": is_ip6})
    return {str(d.route.prefix): list(d.route.paths) for d in details}


async def test_addresses(vpp: AsyncClient) -> None:
    a = await _loop(vpp)
    assert await _addr(vpp, a, "10.1.1.1/24") == 0
    assert await _addr(vpp, a, "10.1.1.2/24") == 0  # a second address of the same prefix is fine
    assert await _addr(vpp, a, "2001:db8::1/64") == 0
    v4 = await dump(vpp, "ip_address_dump", sw_if_index=a, is_ipv6=False)
    assert [str(d.prefix) for d in v4] == ["10.1.1.1/24", "10.1.1.2/24"]
    v6 = await dump(vpp, "ip_address_dump", sw_if_index=a, is_ipv6=True)
    assert [str(d.prefix) for d in v6] == ["2001:db8::1/64"]
    assert await _addr(vpp, a, "10.1.1.2/24", is_add=False) == 0
    assert await _addr(vpp, 77, "10.9.9.9/24") == -2


async def test_address_conflicts_are_refused(vpp: AsyncClient) -> None:
    a, b = await _loop(vpp), await _loop(vpp)
    await _addr(vpp, a, "10.1.1.1/24")
    assert await _addr(vpp, b, "10.1.1.1/24") == -105  # same address on another interface
    assert await _addr(vpp, b, "10.1.1.7/24") == -105  # overlapping subnet elsewhere
    assert await _addr(vpp, b, "10.1.0.1/16") == -105  # covering subnet
    assert await _addr(vpp, a, "10.1.1.1/24") == -105  # re-adding: VPP's conflict check fires first
    assert await _addr(vpp, a, "10.1.1.9/25") == -105  # same interface, other length


async def test_same_address_allowed_in_another_vrf(vpp: AsyncClient) -> None:
    a, b = await _loop(vpp), await _loop(vpp)
    await call(vpp, "ip_table_add_del", is_add=True, table={"table_id": 5})
    await call(vpp, "sw_interface_set_table", sw_if_index=b, vrf_id=5)
    await _addr(vpp, a, "10.1.1.1/24")
    assert await _addr(vpp, b, "10.1.1.1/24") == 0


async def test_delete_missing_address_and_local0(vpp: AsyncClient) -> None:
    a = await _loop(vpp)
    assert await _addr(vpp, a, "10.1.1.1/24", is_add=False) == -60
    await _addr(vpp, a, "10.1.1.1/24")
    assert await _addr(vpp, a, "10.1.1.1/25", is_add=False) == -60
    assert await _addr(vpp, 0, "10.3.3.3/24") == -1


async def test_del_all(vpp: AsyncClient) -> None:
    a = await _loop(vpp)
    await _addr(vpp, a, "10.1.1.1/24")
    await _addr(vpp, a, "10.2.1.1/24")
    r = await call(vpp, "sw_interface_add_del_address", sw_if_index=a, del_all=True)
    assert r.retval == 0
    assert await dump(vpp, "ip_address_dump", sw_if_index=a) == []


async def test_tables(vpp: AsyncClient) -> None:
    await call(vpp, "ip_table_add_del", is_add=True, table={"table_id": 7, "name": "pods"})
    await call(vpp, "ip_table_add_del", is_add=True, table={"table_id": 7, "is_ip6": True})
    tables = {(d.table.table_id, d.table.is_ip6): d.table.name for d in await dump(vpp, "ip_table_dump")}
    assert tables == {
        (0, False): "ipv4-VRF:0",
        (7, False): "pods",
        (0, True): "ipv6-VRF:0",
        (7, True): "ipv6-VRF:7",
    }
    assert (await call(vpp, "ip_table_add_del", is_add=False, table={"table_id": 99})).retval == 0
    assert (await call(vpp, "ip_table_add_del", is_add=False, table={"table_id": 0})).retval == 0
    assert (0, False) in {(d.table.table_id, d.table.is_ip6) for d in await dump(vpp, "ip_table_dump")}


async def test_default_table_has_vpp_special_routes(vpp: AsyncClient) -> None:
    routes = await _routes(vpp)
    assert set(routes) == {"0.0.0.0/0", "0.0.0.0/32", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32"}
    assert all(p[0].type == DROP for p in routes.values())


async def test_connected_routes_follow_admin_state(vpp: AsyncClient) -> None:
    a = await _loop(vpp, up=False)
    await _addr(vpp, a, "10.1.1.1/24")
    assert "10.1.1.0/24" not in await _routes(vpp)
    await call(vpp, "sw_interface_set_flags", sw_if_index=a, flags=1)
    routes = await _routes(vpp)
    assert routes["10.1.1.0/24"][0].sw_if_index == a
    local = routes["10.1.1.1/32"][0]
    assert (local.type, local.sw_if_index, str(local.nh.address.ip4)) == (LOCAL, a, "10.1.1.1")
    assert routes["10.1.1.255/32"][0].type == DROP


async def test_routes_via_next_hop_interface_table_and_drop(vpp: AsyncClient) -> None:
    a = await _loop(vpp)
    await call(vpp, "ip_table_add_del", is_add=True, table={"table_id": 1})
    adds = [
        route("10.2.0.0/16", path(nh="10.1.1.254")),
        route("10.3.0.0/16", path(sw_if_index=a)),
        route("10.4.0.0/16", path(table_id=1)),
        route("10.5.0.0/16", path(type=DROP)),
    ]
    for r in adds:
        assert (await call(vpp, "ip_route_add_del", is_add=True, route=r)).retval == 0
    routes = await _routes(vpp)
    assert str(routes["10.2.0.0/16"][0].nh.address.ip4) == "10.1.1.254"
    assert routes["10.3.0.0/16"][0].sw_if_index == a
    assert (routes["10.4.0.0/16"][0].sw_if_index, routes["10.4.0.0/16"][0].table_id) == (ALL, 1)
    assert routes["10.5.0.0/16"][0].type == DROP
    assert routes["10.2.0.0/16"][0].weight == 1  # VPP turns weight 0 into 1


async def test_route_refusals(vpp: AsyncClient) -> None:
    r = await call(vpp, "ip_route_add_del", is_add=True, route=route("10.2.0.0/16", path(nh="10.0.0.1"), table_id=9))
    assert r.retval == -3  # no such table
    r = await call(vpp, "ip_route_add_del", is_add=True, route=route("10.2.0.0/16", path(table_id=9)))
    assert r.retval == -3  # lookup in a table that does not exist
    r = await call(vpp, "ip_route_add_del", is_add=True, route=route("10.2.0.0/16"))
    assert r.retval == -52
    r = await call(vpp, "ip_route_add_del", is_add=True, route=route("10.2.0.0/16", path(sw_if_index=66)))
    assert r.retval == -2


async def test_route_replace_multipath_and_delete(vpp: AsyncClient) -> None:
    one, two = path(nh="10.0.0.1"), path(nh="10.0.0.2")
    await call(vpp, "ip_route_add_del", is_add=True, route=route("10.2.0.0/16", one))
    await call(vpp, "ip_route_add_del", is_add=True, route=route("10.2.0.0/16", two))  # replaces
    assert [str(p.nh.address.ip4) for p in (await _routes(vpp))["10.2.0.0/16"]] == ["10.0.0.2"]
    await call(vpp, "ip_route_add_del", is_add=True, is_multipath=True, route=route("10.2.0.0/16", one))
    assert len((await _routes(vpp))["10.2.0.0/16"]) == 2
    await call(vpp, "ip_route_add_del", is_add=False, is_multipath=True, route=route("10.2.0.0/16", two))
    assert [str(p.nh.address.ip4) for p in (await _routes(vpp))["10.2.0.0/16"]] == ["10.0.0.1"]
    await call(vpp, "ip_route_add_del", is_add=False, route=route("10.2.0.0/16"))
    assert "10.2.0.0/16" not in await _routes(vpp)
    # deleting what is not there is silent in VPP's FIB
    assert (await call(vpp, "ip_route_add_del", is_add=False, route=route("10.2.0.0/16"))).retval == 0


async def test_api_route_overrides_default_drop(vpp: AsyncClient) -> None:
    await call(vpp, "ip_route_add_del", is_add=True, route=route("0.0.0.0/0", path(nh="10.0.0.1")))
    assert (await _routes(vpp))["0.0.0.0/0"][0].type == 0


async def test_table_delete_flushes_its_routes(vpp: AsyncClient) -> None:
    await call(vpp, "ip_table_add_del", is_add=True, table={"table_id": 4})
    await call(vpp, "ip_route_add_del", is_add=True, route=route("10.2.0.0/16", path(type=DROP), table_id=4))
    await call(vpp, "ip_table_add_del", is_add=False, table={"table_id": 4})
    await call(vpp, "ip_table_add_del", is_add=True, table={"table_id": 4})
    assert "10.2.0.0/16" not in await _routes(vpp, 4)


async def test_ipv6_routes(vpp: AsyncClient) -> None:
    await call(vpp, "ip_route_add_del", is_add=True, route=route("2001:db8:1::/48", path(nh="2001:db8::1", proto=1)))
    routes = await _routes(vpp, is_ip6=True)
    assert str(routes["2001:db8:1::/48"][0].nh.address.ip6) == "2001:db8::1"


async def test_route_lookup(vpp: AsyncClient) -> None:
    await call(vpp, "ip_route_add_del", is_add=True, route=route("10.2.0.0/16", path(nh="10.0.0.1")))
    hit = await call(vpp, "ip_route_lookup", table_id=0, exact=0, prefix="10.2.3.4/32")
    assert str(hit.route.prefix) == "10.2.0.0/16"
    miss = await call(vpp, "ip_route_lookup", table_id=0, exact=1, prefix="10.2.3.0/24")
    assert miss.retval == -6
    assert (await call(vpp, "ip_route_lookup", table_id=8, exact=0, prefix="10.2.3.4/32")).retval == -3


async def test_neighbours(vpp: AsyncClient) -> None:
    a = await _loop(vpp)
    nb = {"sw_if_index": a, "flags": 1, "mac_address": "02:00:00:00:00:01", "ip_address": "10.1.1.9"}
    assert (await call(vpp, "ip_neighbor_add_del", is_add=True, neighbor=nb)).retval == 0
    got = await dump(vpp, "ip_neighbor_dump", sw_if_index=ALL, af=0)
    assert [(d.neighbor.sw_if_index, str(d.neighbor.ip_address), str(d.neighbor.mac_address)) for d in got] == [
        (a, "10.1.1.9", "02:00:00:00:00:01")
    ]
    assert "10.1.1.9/32" in await _routes(vpp)  # the adjacency's host route
    assert await dump(vpp, "ip_neighbor_dump", sw_if_index=ALL, af=1) == []
    assert (await call(vpp, "ip_neighbor_add_del", is_add=False, neighbor=nb)).retval == 0
    assert (await call(vpp, "ip_neighbor_add_del", is_add=False, neighbor=nb)).retval == -6
    assert (await call(vpp, "ip_neighbor_add_del", is_add=True, neighbor=dict(nb, sw_if_index=55))).retval == -2


async def test_neighbour_config(vpp: AsyncClient) -> None:
    await call(vpp, "ip_neighbor_config", af=0, max_number=1000, max_age=30, recycle=True)
    got = await call(vpp, "ip_neighbor_config_get", af=0)
    assert (got.max_number, got.max_age, got.recycle) == (1000, 30, True)


async def test_proxy_arp(vpp: AsyncClient) -> None:
    rng = {"table_id": 0, "low": "10.1.1.10", "hi": "10.1.1.20"}
    assert (await call(vpp, "proxy_arp_add_del", is_add=True, proxy=rng)).retval == 0
    assert (await call(vpp, "proxy_arp_add_del", is_add=True, proxy=rng)).retval == -116
    got = await dump(vpp, "proxy_arp_dump")
    assert [(str(d.proxy.low), str(d.proxy.hi)) for d in got] == [("10.1.1.10", "10.1.1.20")]
    assert (await call(vpp, "proxy_arp_add_del", is_add=False, proxy=rng)).retval == 0
    assert (await call(vpp, "proxy_arp_add_del", is_add=False, proxy=rng)).retval == -6
    assert (await call(vpp, "proxy_arp_add_del", is_add=True, proxy=dict(rng, table_id=3))).retval == -3
    assert (await call(vpp, "proxy_arp_intfc_enable_disable", sw_if_index=1, enable=True)).retval == 0
    assert [d.sw_if_index for d in await dump(vpp, "proxy_arp_intfc_dump")] == [1]
    assert (await call(vpp, "proxy_arp_intfc_enable_disable", sw_if_index=50, enable=True)).retval == -2


async def test_container_proxy(vpp: AsyncClient) -> None:
    r = await call(vpp, "ip_container_proxy_add_del", pfx="10.1.2.3/32", sw_if_index=1, is_add=True)
    assert r.retval == 0
    got = await dump(vpp, "ip_container_proxy_dump")
    assert [(d.sw_if_index, d.prefix) for d in got] == [(1, ipaddress.ip_network("10.1.2.3/32"))]
    r = await call(vpp, "ip_container_proxy_add_del", pfx="10.1.2.3/32", sw_if_index=31, is_add=True)
    assert r.retval == -2
