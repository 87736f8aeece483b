"""l2.api: bridge domains, bridge ports, the L2 FIB and BVI interfaces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import Retval, VppApiError
from ..state.interfaces import Kind, random_mac
from ..state.l2 import ALL, BD_ID_MAX, PORT_BVI, BridgeDomain, FibEntry, Member
from .base import Context, Fields, dump, ensure, mac_bytes, reply, text
from .common import delete_interface


def _bd_add_del(ctx: Context, m: Any) -> int:
    l2 = ctx.state.l2
    bd_id = m.bd_id
    if m.is_add:
        if bd_id == ALL:
            bd_id = l2.free_bd_id()
        ensure(bd_id != 0, Retval.BD_NOT_MODIFIABLE, "bridge domain 0")
        ensure(bd_id <= BD_ID_MAX, Retval.BD_ID_EXCEED_MAX, str(bd_id))
        ensure(bd_id not in l2.bridge_domains, Retval.BD_ALREADY_EXISTS, str(bd_id))
        l2.bridge_domains[bd_id] = BridgeDomain(
            bd_id,
            flood=bool(m.flood),
            uu_flood=bool(m.uu_flood),
            forward=bool(m.forward),
            learn=bool(m.learn),
            arp_term=bool(m.arp_term),
            arp_ufwd=bool(m.arp_ufwd),
            mac_age=m.mac_age,
            tag=text(m.bd_tag),
        )
        return int(bd_id)
    ensure(bd_id != 0, Retval.BD_NOT_MODIFIABLE, "bridge domain 0")
    bd = l2.bridge_domains.get(bd_id)
    ensure(bd is not None, Retval.NO_SUCH_ENTRY, f"bridge domain {bd_id}")
    assert bd is not None
    ensure(not bd.members, Retval.BD_IN_USE, f"bridge domain {bd_id} has members")
    l2.drop_bd(bd_id)
    return int(bd_id)


@reply("bridge_domain_add_del_v2")
def bridge_domain_add_del_v2(ctx: Context, m: Any) -> Fields:
    return {"bd_id": _bd_add_del(ctx, m)}


@reply("bridge_domain_add_del")
def bridge_domain_add_del(ctx: Context, m: Any) -> None:
    if m.bd_id == ALL:
        raise VppApiError(Retval.INVALID_VALUE, "v1 needs an explicit bd_id")
    _bd_add_del(ctx, m)


@dump("bridge_domain_dump")
def bridge_domain_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    for bd in sorted(ctx.state.l2.bridge_domains.values(), key=lambda b: b.bd_id):
        if m.bd_id != ALL and bd.bd_id != m.bd_id:
            continue
        if m.sw_if_index != ALL and m.sw_if_index not in bd.members:
            continue
        members = [{"context": 0, "sw_if_index": mb.sw_if_index, "shg": mb.shg} for mb in bd.members.values()]
        yield {
            "bd_id": bd.bd_id,
            "flood": bd.flood,
            "uu_flood": bd.uu_flood,
            "forward": bd.forward,
            "learn": bd.learn,
            "arp_term": bd.arp_term,
            "arp_ufwd": bd.arp_ufwd,
            "mac_age": bd.mac_age,
            "bd_tag": bd.tag,
            "bvi_sw_if_index": bd.bvi,
            "uu_fwd_sw_if_index": bd.uu_fwd,
            "n_sw_ifs": len(members),
            "sw_if_details": members,
        }


@reply("sw_interface_set_l2_bridge")
def set_l2_bridge(ctx: Context, m: Any) -> None:
    st = ctx.state
    iface = st.interfaces.get(m.rx_sw_if_index)
    l2 = st.l2
    if not m.enable:
        l2.leave(iface.sw_if_index)
        return
    ensure(m.bd_id <= BD_ID_MAX, Retval.BD_ID_EXCEED_MAX, str(m.bd_id))
    # VPP finds or creates the bridge domain here (bd_find_or_add_bd_index)
    bd = l2.bridge_domains.get(m.bd_id)
    if bd is None:
        bd = l2.bridge_domains[m.bd_id] = BridgeDomain(m.bd_id)
    port_type = int(m.port_type)
    if port_type == PORT_BVI:
        ensure(iface.kind in (Kind.BVI, Kind.LOOPBACK), Retval.INVALID_INTERFACE, f"{iface.name} cannot be a BVI")
        ensure(bd.bvi in (ALL, iface.sw_if_index), Retval.BD_ALREADY_HAS_BVI, f"bridge domain {m.bd_id}")
    current = l2.bd_of(iface.sw_if_index)
    if current is not None and current is not bd:
        l2.leave(iface.sw_if_index)
    bd.members[iface.sw_if_index] = Member(iface.sw_if_index, m.shg, port_type)


@reply("l2fib_add_del")
def l2fib_add_del(ctx: Context, m: Any) -> None:
    l2 = ctx.state.l2
    ensure(m.bd_id in l2.bridge_domains, Retval.NO_SUCH_ENTRY, f"bridge domain {m.bd_id}")
    mac = mac_bytes(m.mac)
    key = (m.bd_id, mac)
    if m.is_add:
        if not m.filter_mac:
            iface = ctx.state.interfaces.get(m.sw_if_index)
            bd = l2.bd_of(iface.sw_if_index)
            ensure(
                bd is not None and bd.bd_id == m.bd_id,
                Retval.INVALID_INTERFACE,
                f"{iface.name} is not in bridge domain {m.bd_id}",
            )
        l2.set_fib(FibEntry(m.bd_id, mac, m.sw_if_index, bool(m.static_mac), bool(m.filter_mac), bool(m.bvi_mac)))
    else:
        ensure(key in l2.fib, Retval.NO_SUCH_ENTRY, f"{mac.hex(':')} in bridge domain {m.bd_id}")
        l2.drop_fib(key)


@dump("l2_fib_table_dump")
def l2_fib_table_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    l2 = ctx.state.l2
    if m.bd_id != ALL and m.bd_id not in l2.bridge_domains:
        return
    for e in l2.fib.values():
        if m.bd_id != ALL and e.bd_id != m.bd_id:
            continue
        yield {
            "bd_id": e.bd_id,
            "mac": e.mac,
            "sw_if_index": e.sw_if_index,
            "static_mac": e.static_mac,
            "filter_mac": e.filter_mac,
            "bvi_mac": e.bvi_mac,
        }


@reply("bvi_create")
def bvi_create(ctx: Context, m: Any) -> Fields:
    ifaces = ctx.state.interfaces
    inst = ifaces.free_instance(Kind.BVI, m.user_instance)
    mac = mac_bytes(m.mac)
    iface = ifaces.add(f"bvi{inst}", Kind.BVI, mac if mac != bytes(6) else random_mac(), instance=inst)
    return {"sw_if_index": iface.sw_if_index}


@reply("bvi_delete")
def bvi_delete(ctx: Context, m: Any) -> None:
    iface = ctx.state.interfaces.get(m.sw_if_index)
    ensure(iface.kind is Kind.BVI, Retval.INVALID_SW_IF_INDEX, f"{iface.name} is not a BVI")
    delete_interface(ctx, iface)
