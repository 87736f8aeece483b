"""l2.api and vxlan.api behaviour and refusals."""

from __future__ import annotations

from .helpers import AsyncClient, call, dump

ALL = 0xFFFFFFFF
BVI = 1


async def _bd(vpp: AsyncClient, bd_id: int, is_add: bool = True) -> int:
    r = await call(vpp, "bridge_domain_add_del_v2", bd_id=bd_id, flood=True, forward=True, learn=True, is_add=is_add)
    return int(r.retval)


async def test_bridge_domain_lifecycle(vpp: AsyncClient) -> None:
    r = await call(vpp, "bridge_domain_add_del_v2", bd_id=ALL, learn=True, bd_tag="vxlan", is_add=True)
    assert (r.retval, r.bd_id) == (0, 1)
    assert await _bd(vpp, 1) == -119
    assert await _bd(vpp, 0) == -121
    assert await _bd(vpp, 1 << 24) == -122
    (bd,) = await dump(vpp, "bridge_domain_dump", bd_id=ALL, sw_if_index=ALL)
    assert (bd.bd_id, bd.learn, bd.flood, bd.bd_tag, bd.n_sw_ifs, bd.bvi_sw_if_index) == (
        1,
        True,
        False,
        "vxlan",
        0,
        ALL,
    )
    assert await _bd(vpp, 1, is_add=False) == 0
    assert await _bd(vpp, 1, is_add=False) == -6


async def test_members_bvi_and_in_use(vpp: AsyncClient) -> None:
    await _bd(vpp, 10)
    bvi = (await call(vpp, "bvi_create", mac="12:2b:00:00:00:01")).sw_if_index
    bvi2 = (await call(vpp, "bvi_create", user_instance=5)).sw_if_index
    assert (await call(vpp, "bvi_create", user_instance=5)).retval == -147
    r = await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=bvi, bd_id=10, port_type=BVI)
    assert r.retval == 0
    r = await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=bvi2, bd_id=10, port_type=BVI)
    assert r.retval == -152
    assert (await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=1, bd_id=10, shg=1)).retval == 0
    (bd,) = await dump(vpp, "bridge_domain_dump", bd_id=10)
    assert bd.bvi_sw_if_index == bvi
    assert sorted((m.sw_if_index, m.shg) for m in bd.sw_if_details) == [(1, 1), (bvi, 0)]
    assert await _bd(vpp, 10, is_add=False) == -120
    assert (await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=99, bd_id=10)).retval == -2
    await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=1, bd_id=10, enable=False)
    await call(vpp, "bvi_delete", sw_if_index=bvi)
    assert await _bd(vpp, 10, is_add=False) == 0
    assert (await call(vpp, "bvi_delete", sw_if_index=1)).retval == -2


async def test_set_l2_bridge_creates_missing_domain(vpp: AsyncClient) -> None:
    assert (await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=1, bd_id=20)).retval == 0
    assert [bd.bd_id for bd in await dump(vpp, "bridge_domain_dump", bd_id=ALL)] == [20]


async def test_l2_fib(vpp: AsyncClient) -> None:
    mac = "12:2b:00:00:00:02"
    assert (await call(vpp, "l2fib_add_del", mac=mac, bd_id=3, sw_if_index=1, static_mac=True)).retval == -6
    await _bd(vpp, 3)
    assert (await call(vpp, "l2fib_add_del", mac=mac, bd_id=3, sw_if_index=1, static_mac=True)).retval == -71
    await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=1, bd_id=3)
    assert (await call(vpp, "l2fib_add_del", mac=mac, bd_id=3, sw_if_index=1, static_mac=True)).retval == 0
    (e,) = await dump(vpp, "l2_fib_table_dump", bd_id=3)
    assert (str(e.mac), e.sw_if_index, e.static_mac) == (mac, 1, True)
    assert (await call(vpp, "l2fib_add_del", mac=mac, bd_id=3, sw_if_index=1, is_add=False)).retval == 0
    assert (await call(vpp, "l2fib_add_del", mac=mac, bd_id=3, sw_if_index=1, is_add=False)).retval == -6
    await call(vpp, "l2fib_add_del", mac=mac, bd_id=3, sw_if_index=1, static_mac=True)
    await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=1, bd_id=3, enable=False)
    assert await dump(vpp, "l2_fib_table_dump", bd_id=3) == []  # leaving the bridge flushes its MACs


def _tunnel(**kw: object) -> dict[str, object]:
    t: dict[str, object] = {
        "src_address": "192.168.30.1",
        "dst_address": "192.168.30.2",
        "vni": 10,
        "decap_next_index": ALL,
        "instance": ALL,
        "mcast_sw_if_index": ALL,
    }
    t.update(kw)
    return t


async def test_vxlan_tunnels(vpp: AsyncClient) -> None:
    r = await call(vpp, "vxlan_add_del_tunnel_v3", is_add=True, **_tunnel())
    assert r.retval == 0
    dup = await call(vpp, "vxlan_add_del_tunnel_v3", is_add=True, **_tunnel())
    assert (dup.retval, dup.sw_if_index) == (-75, r.sw_if_index)
    (t,) = await dump(vpp, "vxlan_tunnel_v2_dump", sw_if_index=ALL)
    assert (t.sw_if_index, str(t.src_address), str(t.dst_address), t.vni, t.dst_port) == (
        r.sw_if_index,
        "192.168.30.1",
        "192.168.30.2",
        10,
        4789,
    )
    ifaces = {d.sw_if_index: d for d in await dump(vpp, "sw_interface_dump")}
    assert ifaces[r.sw_if_index].interface_name == "vxlan_tunnel0"
    assert await dump(vpp, "vxlan_tunnel_v2_dump", sw_if_index=0) == []  # no ~0 default: 0 means local0
    assert (await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=r.sw_if_index, bd_id=1, shg=1)).retval == 0
    assert (await call(vpp, "vxlan_add_del_tunnel_v3", is_add=False, **_tunnel())).retval == 0
    assert (await call(vpp, "vxlan_add_del_tunnel_v3", is_add=False, **_tunnel())).retval == -6
    (bd,) = await dump(vpp, "bridge_domain_dump", bd_id=1)
    assert bd.n_sw_ifs == 0


async def test_vxlan_refusals(vpp: AsyncClient) -> None:
    same = _tunnel(dst_address="192.168.30.1")
    assert (await call(vpp, "vxlan_add_del_tunnel_v3", is_add=True, **same)).retval == -82
    mixed = _tunnel(dst_address="2001:db8::2")
    assert (await call(vpp, "vxlan_add_del_tunnel_v3", is_add=True, **mixed)).retval == -97
    assert (await call(vpp, "vxlan_add_del_tunnel_v3", is_add=True, **_tunnel(encap_vrf_id=9))).retval == -3
    assert (await call(vpp, "vxlan_add_del_tunnel_v3", is_add=True, **_tunnel(decap_next_index=7))).retval == -76
    await call(vpp, "vxlan_add_del_tunnel_v3", is_add=True, **_tunnel(instance=4))
    again = _tunnel(dst_address="192.168.30.3", instance=4)
    assert (await call(vpp, "vxlan_add_del_tunnel_v3", is_add=True, **again)).retval == -147
