"""interface.api behaviour and refusals."""

from __future__ import annotations

from typing import Any

from contivctl.testing.vppemu import Emulator

from .helpers import AsyncClient, call, dump, next_event

ALL = 0xFFFFFFFF


async def _ifaces(vpp: AsyncClient) -> dict[int, object]:
    return {d.sw_if_index: d for d in await dump(vpp, "sw_interface_dump", sw_if_index=ALL)}


async def test_boot_has_local0_and_nics_admin_down(vpp: AsyncClient) -> None:
    ifaces = await _ifaces(vpp)
    local0, nic = ifaces[0], ifaces[1]
    assert (local0.interface_name, local0.interface_dev_type, int(local0.flags)) == ("local0", "local", 0)
    assert (nic.interface_name, nic.interface_dev_type, int(nic.flags)) == ("GigabitEthernet0/8/0", "dpdk", 0)


async def test_create_loopback_names_and_macs(vpp: AsyncClient) -> None:
    a = await call(vpp, "create_loopback")
    b = await call(vpp, "create_loopback", mac_address="02:00:00:00:00:aa")
    c = await call(vpp, "create_loopback_instance", is_specified=True, user_instance=7)
    ifaces = await _ifaces(vpp)
    assert ifaces[a.sw_if_index].interface_name == "loop0"
    assert str(ifaces[a.sw_if_index].l2_address) == "de:ad:00:00:00:00"
    assert str(ifaces[b.sw_if_index].l2_address) == "02:00:00:00:00:aa"
    assert ifaces[c.sw_if_index].interface_name == "loop7"
    assert ifaces[c.sw_if_index].interface_dev_type == "Loopback"


async def test_loopback_instance_in_use_is_refused(vpp: AsyncClient) -> None:
    await call(vpp, "create_loopback_instance", is_specified=True, user_instance=3)
    r = await call(vpp, "create_loopback_instance", is_specified=True, user_instance=3)
    assert r.retval == -147


async def test_name_filter_and_index_filter(vpp: AsyncClient) -> None:
    lo = await call(vpp, "create_loopback")
    by_name = await dump(vpp, "sw_interface_dump", name_filter_valid=True, name_filter="loop")
    assert [d.sw_if_index for d in by_name] == [lo.sw_if_index]
    one = await dump(vpp, "sw_interface_dump", sw_if_index=1)
    assert [d.interface_name for d in one] == ["GigabitEthernet0/8/0"]
    assert await dump(vpp, "sw_interface_dump", sw_if_index=99) == []


async def test_set_flags_and_unknown_index(vpp: AsyncClient) -> None:
    assert (await call(vpp, "sw_interface_set_flags", sw_if_index=1, flags=1)).retval == 0
    assert int((await _ifaces(vpp))[1].flags) == 3  # admin up, link up
    assert (await call(vpp, "sw_interface_set_flags", sw_if_index=42, flags=1)).retval == -2


async def test_admin_down_emits_event(vpp: AsyncClient) -> None:
    await call(vpp, "want_interface_events", enable_disable=1, pid=1)
    await call(vpp, "sw_interface_set_flags", sw_if_index=1, flags=1)
    await call(vpp, "sw_interface_set_flags", sw_if_index=1, flags=0)
    up = await next_event(vpp, "sw_interface_event")
    down = await next_event(vpp, "sw_interface_event")
    assert (int(up.flags), int(down.flags)) == (3, 0)


async def test_mtu(vpp: AsyncClient) -> None:
    lo = (await call(vpp, "create_loopback")).sw_if_index
    assert (await call(vpp, "sw_interface_set_mtu", sw_if_index=lo, mtu=[1450, 0, 0, 0])).retval == 0
    assert list((await _ifaces(vpp))[lo].mtu) == [1450, 9000, 9000, 9000]
    assert (await call(vpp, "sw_interface_set_mtu", sw_if_index=lo, mtu=[9216, 0, 0, 0])).retval == -7
    assert (await call(vpp, "sw_interface_set_mtu", sw_if_index=77, mtu=[1500, 0, 0, 0])).retval == -2
    assert (await call(vpp, "hw_interface_set_mtu", sw_if_index=1, mtu=1500)).retval == 0
    nic = (await _ifaces(vpp))[1]
    assert (nic.link_mtu, list(nic.mtu)) == (1500, [1500] * 4)


async def test_mac_address(vpp: AsyncClient) -> None:
    lo = (await call(vpp, "create_loopback")).sw_if_index
    assert (
        await call(vpp, "sw_interface_set_mac_address", sw_if_index=lo, mac_address="02:11:22:33:44:55")
    ).retval == 0
    assert str((await call(vpp, "sw_interface_get_mac_address", sw_if_index=lo)).mac_address) == "02:11:22:33:44:55"
    r = await call(vpp, "sw_interface_set_mac_address", sw_if_index=55, mac_address="02:11:22:33:44:55")
    assert r.retval == -2


async def test_rx_mode(emu: Emulator, vpp: AsyncClient) -> None:
    assert (await call(vpp, "sw_interface_set_rx_mode", sw_if_index=1, mode=2)).retval == 0
    assert emu.state.interfaces.get(1).rx_mode == 2
    lo = (await call(vpp, "create_loopback")).sw_if_index
    assert (await call(vpp, "sw_interface_set_rx_mode", sw_if_index=lo, mode=2)).retval == -71
    assert (await call(vpp, "sw_interface_set_rx_mode", sw_if_index=1, mode=9)).retval == -7


async def test_rx_placement_of_one_interface_or_all(vpp: AsyncClient) -> None:
    nics = [i for i, d in (await _ifaces(vpp)).items() if i != 0]
    assert (await call(vpp, "sw_interface_set_rx_mode", sw_if_index=nics[0], mode=2)).retval == 0
    lo = (await call(vpp, "create_loopback")).sw_if_index

    def modes(details: list[Any]) -> dict[int, int]:
        return {int(d.sw_if_index): int(d.mode) for d in details}

    everything = modes(await dump(vpp, "sw_interface_rx_placement_dump", sw_if_index=ALL))
    # a queue in its default mode reads as polling; a loopback has no queue
    assert everything == {nics[0]: 2, **{i: 1 for i in nics[1:]}}
    assert modes(await dump(vpp, "sw_interface_rx_placement_dump", sw_if_index=nics[0])) == {nics[0]: 2}
    assert await dump(vpp, "sw_interface_rx_placement_dump", sw_if_index=lo) == []
    assert await dump(vpp, "sw_interface_rx_placement_dump", sw_if_index=999) == []


async def test_tags(vpp: AsyncClient) -> None:
    lo = (await call(vpp, "create_loopback")).sw_if_index
    await call(vpp, "sw_interface_tag_add_del", is_add=True, sw_if_index=lo, tag="pod-a")
    assert (await _ifaces(vpp))[lo].tag == "pod-a"
    await call(vpp, "sw_interface_tag_add_del", is_add=False, sw_if_index=lo)
    assert (await _ifaces(vpp))[lo].tag == ""
    assert (await call(vpp, "sw_interface_tag_add_del", is_add=True, sw_if_index=66, tag="x")).retval == -2


async def test_unnumbered(vpp: AsyncClient) -> None:
    lo = (await call(vpp, "create_loopback")).sw_if_index
    r = await call(vpp, "sw_interface_set_unnumbered", sw_if_index=lo, unnumbered_sw_if_index=1, is_add=True)
    assert r.retval == 0
    assert [(d.sw_if_index, d.ip_sw_if_index) for d in await dump(vpp, "ip_unnumbered_dump")] == [(1, lo)]
    bad = await call(vpp, "sw_interface_set_unnumbered", sw_if_index=lo, unnumbered_sw_if_index=88, is_add=True)
    assert bad.retval == -10
    bad = await call(vpp, "sw_interface_set_unnumbered", sw_if_index=88, unnumbered_sw_if_index=1, is_add=True)
    assert bad.retval == -2
    await call(vpp, "sw_interface_set_unnumbered", sw_if_index=lo, unnumbered_sw_if_index=1, is_add=False)
    assert await dump(vpp, "ip_unnumbered_dump") == []


async def test_set_table(vpp: AsyncClient) -> None:
    assert (await call(vpp, "sw_interface_set_table", sw_if_index=1, vrf_id=10)).retval == -3
    await call(vpp, "ip_table_add_del", is_add=True, table={"table_id": 10})
    assert (await call(vpp, "sw_interface_set_table", sw_if_index=1, vrf_id=10)).retval == 0
    assert (await call(vpp, "sw_interface_get_table", sw_if_index=1)).vrf_id == 10
    await call(vpp, "sw_interface_add_del_address", sw_if_index=1, is_add=True, prefix="10.10.0.1/24")
    assert (await call(vpp, "sw_interface_set_table", sw_if_index=1, vrf_id=0)).retval == -114
    assert (await call(vpp, "sw_interface_set_table", sw_if_index=99, vrf_id=0)).retval == -2


async def test_unnumbered_interface_cannot_change_vrf(vpp: AsyncClient) -> None:
    lo = (await call(vpp, "create_loopback")).sw_if_index
    await call(vpp, "sw_interface_add_del_address", sw_if_index=lo, is_add=True, prefix="10.20.0.1/24")
    await call(vpp, "sw_interface_set_unnumbered", sw_if_index=lo, unnumbered_sw_if_index=1, is_add=True)
    await call(vpp, "ip_table_add_del", is_add=True, table={"table_id": 3})
    assert (await call(vpp, "sw_interface_set_table", sw_if_index=1, vrf_id=3)).retval == -114


async def test_delete_loopback_cascades(emu: Emulator, vpp: AsyncClient) -> None:
    lo = (await call(vpp, "create_loopback")).sw_if_index
    await call(vpp, "sw_interface_add_del_address", sw_if_index=lo, is_add=True, prefix="10.30.0.1/24")
    await call(vpp, "sw_interface_set_unnumbered", sw_if_index=lo, unnumbered_sw_if_index=1, is_add=True)
    assert (await call(vpp, "delete_loopback", sw_if_index=1)).retval == -2  # not a loopback
    assert (await call(vpp, "delete_loopback", sw_if_index=lo)).retval == 0
    assert lo not in await _ifaces(vpp)
    assert emu.state.interfaces.get(1).unnumbered_to is None
    assert await dump(vpp, "ip_address_dump", sw_if_index=lo) == []
    assert (await call(vpp, "delete_loopback", sw_if_index=lo)).retval == -2
