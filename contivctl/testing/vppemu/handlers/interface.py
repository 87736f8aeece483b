"""interface.api: the software interface table and per-interface settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import Retval, VppApiError
from ..state.interfaces import ALL, RX_ADAPTIVE, RX_DEFAULT, RX_POLLING, Interface, Kind
from .base import Context, Fields, dump, ensure, mac_bytes, reply, text
from .common import IF_EVENT, delete_interface, set_admin

LINK_DUPLEX_FULL = 2


def details(iface: Interface) -> Fields:
    return {
        "sw_if_index": iface.sw_if_index,
        "sup_sw_if_index": iface.sw_if_index,
        "l2_address": iface.mac,
        "flags": iface.flags,
        "type": 0,
        "link_duplex": LINK_DUPLEX_FULL if iface.kind is not Kind.LOCAL else 0,
        "link_speed": 0,
        "link_mtu": min(iface.link_mtu, 0xFFFF),
        "mtu": list(iface.mtu),
        "interface_name": iface.name,
        "interface_dev_type": iface.kind.value,
        "tag": iface.tag,
    }


@dump("sw_interface_dump")
def sw_interface_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    ifaces = ctx.state.interfaces
    if m.sw_if_index != ALL:
        one = ifaces.by_index.get(m.sw_if_index)
        candidates = [one] if one is not None else []
    else:
        candidates = list(ifaces.by_index.values())
    needle = text(m.name_filter) if m.name_filter_valid else ""
    for iface in candidates:
        if needle and needle not in iface.name:
            continue
        yield details(iface)


@reply("sw_interface_set_flags")
def set_flags(ctx: Context, m: Any) -> None:
    iface = ctx.state.interfaces.get(m.sw_if_index)
    set_admin(ctx, iface, bool(int(m.flags) & 1))


@reply("want_interface_events")
def want_interface_events(ctx: Context, m: Any) -> None:
    ctx.subscribe(IF_EVENT, bool(m.enable_disable), m.pid)


@reply("sw_interface_set_mtu")
def set_mtu(ctx: Context, m: Any) -> None:
    iface = ctx.state.interfaces.get(m.sw_if_index)
    wanted = list(m.mtu)
    for value in wanted:
        ensure(value <= iface.link_mtu, Retval.INVALID_VALUE, f"mtu {value} > link mtu {iface.link_mtu}")
    iface.mtu = [v if v else cur for v, cur in zip(wanted, iface.mtu, strict=True)]


@reply("hw_interface_set_mtu")
def hw_set_mtu(ctx: Context, m: Any) -> None:
    iface = ctx.state.interfaces.get(m.sw_if_index)
    ensure(iface.kind is not Kind.LOCAL, Retval.INVALID_VALUE, "local0 has no hardware MTU")
    iface.link_mtu = m.mtu
    iface.mtu = [m.mtu] * 4


@reply("sw_interface_set_mac_address")
def set_mac(ctx: Context, m: Any) -> None:
    iface = ctx.state.interfaces.get(m.sw_if_index)
    ensure(iface.kind is not Kind.LOCAL, Retval.INVALID_SW_IF_INDEX, "local0")
    iface.mac = mac_bytes(m.mac_address)


@reply("sw_interface_get_mac_address")
def get_mac(ctx: Context, m: Any) -> Fields:
    return {"mac_address": ctx.state.interfaces.get(m.sw_if_index).mac}


@reply("sw_interface_set_rx_mode")
def set_rx_mode(ctx: Context, m: Any) -> None:
    iface = ctx.state.interfaces.get(m.sw_if_index)
    mode = int(m.mode)
    ensure(0 < mode <= RX_DEFAULT, Retval.INVALID_VALUE, f"rx mode {mode}")
    ensure(iface.has_rx_queues, Retval.INVALID_INTERFACE, f"{iface.name} has no rx queues")
    iface.rx_mode = mode if mode <= RX_ADAPTIVE else RX_DEFAULT


@dump("sw_interface_rx_placement_dump")
def rx_placement_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    """One queue per device interface, on the main thread; ~0 asks for every interface.

    A queue left in its device's default mode reads as polling, the mode
    the devices modelled here run in; VPP never reports "default" for a queue.
    """
    interfaces = ctx.state.interfaces
    if m.sw_if_index == ALL:
        chosen = list(interfaces.by_index.values())
    else:
        # VPP reports nothing for an unknown or non-device index
        found = interfaces.by_index.get(m.sw_if_index)
        chosen = [found] if found is not None else []
    for iface in chosen:
        if iface.has_rx_queues:
            mode = iface.rx_mode if iface.rx_mode != RX_DEFAULT else RX_POLLING
            yield {"sw_if_index": iface.sw_if_index, "queue_id": 0, "worker_id": 0, "mode": mode}


@reply("sw_interface_tag_add_del")
def tag_add_del(ctx: Context, m: Any) -> None:
    iface = ctx.state.interfaces.get(m.sw_if_index)
    iface.tag = text(m.tag) if m.is_add else ""


@reply("sw_interface_set_unnumbered")
def set_unnumbered(ctx: Context, m: Any) -> None:
    ifaces = ctx.state.interfaces
    ifaces.get(m.sw_if_index)
    target = ifaces.get(m.unnumbered_sw_if_index, Retval.INVALID_SW_IF_INDEX_2)
    ensure(target.sw_if_index != m.sw_if_index, Retval.INVALID_SW_IF_INDEX_2, "unnumbered to itself")
    if m.is_add:
        ifaces.set_unnumbered(target, m.sw_if_index)
    elif target.unnumbered_to == m.sw_if_index:
        ifaces.set_unnumbered(target, None)


@reply("sw_interface_set_table")
def set_table(ctx: Context, m: Any) -> None:
    st = ctx.state
    iface = st.interfaces.get(m.sw_if_index)
    is_ip6 = bool(m.is_ipv6)
    st.ip.table(is_ip6, m.vrf_id)
    # ip_table_bind refuses while the interface has (or borrows) an address of that family
    has_addr = bool(st.ip.addrs(iface.sw_if_index, is_ip6))
    if iface.unnumbered_to is not None:
        has_addr = has_addr or bool(st.ip.addrs(iface.unnumbered_to, is_ip6))
    ensure(not has_addr, Retval.ADDRESS_FOUND_FOR_INTERFACE, f"{iface.name} has addresses")
    if is_ip6:
        iface.vrf6 = m.vrf_id
    else:
        iface.vrf4 = m.vrf_id


@reply("sw_interface_get_table")
def get_table(ctx: Context, m: Any) -> Fields:
    return {"vrf_id": ctx.state.interfaces.get(m.sw_if_index).vrf(bool(m.is_ipv6))}


def _mac_or(m_mac: Any, instance: int) -> bytes:
    mac = mac_bytes(m_mac)
    if mac != bytes(6):
        return mac
    return bytes([0xDE, 0xAD, 0x00, 0x00, 0x00, instance & 0xFF])


def _create_loopback(ctx: Context, mac: Any, instance: int | None) -> Fields:
    ifaces = ctx.state.interfaces
    inst = ifaces.free_instance(Kind.LOOPBACK, instance)
    iface = ifaces.add(f"loop{inst}", Kind.LOOPBACK, _mac_or(mac, inst), instance=inst)
    return {"sw_if_index": iface.sw_if_index}


@reply("create_loopback")
def create_loopback(ctx: Context, m: Any) -> Fields:
    return _create_loopback(ctx, m.mac_address, None)


@reply("create_loopback_instance")
def create_loopback_instance(ctx: Context, m: Any) -> Fields:
    return _create_loopback(ctx, m.mac_address, m.user_instance if m.is_specified else None)


@reply("delete_loopback")
def delete_loopback(ctx: Context, m: Any) -> None:
    iface = ctx.state.interfaces.get(m.sw_if_index)
    if iface.kind is not Kind.LOOPBACK:
        raise VppApiError(Retval.INVALID_SW_IF_INDEX, f"{iface.name} is not a loopback")
    delete_interface(ctx, iface)
