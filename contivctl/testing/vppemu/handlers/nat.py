"""nat44_ed.api: the endpoint-dependent NAT44 plugin.

VPP's nat44-ed returns a bare 1 (`fail_if_enabled` / `fail_if_disabled`) when
it is asked to work while disabled or to enable twice; dumps of a disabled
plugin are empty.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from ..errors import Retval, VppApiError
from ..state.nat import (
    ADDR_ONLY,
    EXT_HOST_VALID,
    INSIDE,
    OUT2IN_ONLY,
    OUTSIDE,
    SELF_TWICE_NAT,
    STATIC,
    TWICE_NAT,
    IdentityMapping,
    LbLocal,
    LbStaticMapping,
    PoolAddress,
    Session,
    StaticMapping,
)
from .base import Context, Fields, dump, ensure, reply, stream, text

ALL = 0xFFFFFFFF


def _enabled(ctx: Context) -> None:
    if not ctx.state.nat.enabled:
        raise VppApiError(Retval.NAT_PLUGIN_STATE, "nat44 plugin disabled")


def _ip4(value: Any) -> ipaddress.IPv4Address:
    return value if isinstance(value, ipaddress.IPv4Address) else ipaddress.IPv4Address(value)


@reply("nat44_ed_plugin_enable_disable")
def plugin_enable_disable(ctx: Context, m: Any) -> None:
    nat = ctx.state.nat
    if m.enable:
        ensure(not nat.enabled, Retval.NAT_PLUGIN_STATE, "nat44 plugin already enabled")
        nat.enabled = True
        nat.inside_vrf, nat.outside_vrf = m.inside_vrf, m.outside_vrf
        nat.sessions_max, nat.config_flags = m.sessions, int(m.flags)
    else:
        _enabled(ctx)
        ctx.state.nat = type(nat)()  # disabling frees everything the plugin held


@reply("nat44_forwarding_enable_disable")
def forwarding(ctx: Context, m: Any) -> None:
    _enabled(ctx)
    ctx.state.nat.forwarding = bool(m.enable)


@reply("nat_set_timeouts")
def set_timeouts(ctx: Context, m: Any) -> None:
    t = ctx.state.nat.timeouts
    t.update(udp=m.udp, tcp_established=m.tcp_established, tcp_transitory=m.tcp_transitory, icmp=m.icmp)


@reply("nat44_set_session_limit")
def set_session_limit(ctx: Context, m: Any) -> None:
    _enabled(ctx)
    ctx.state.nat.session_limits[m.vrf_id] = m.session_limit


@reply("nat44_interface_add_del_feature")
def interface_feature(ctx: Context, m: Any) -> None:
    ctx.state.interfaces.get(m.sw_if_index)
    _enabled(ctx)
    nat = ctx.state.nat
    role = int(m.flags) & (INSIDE | OUTSIDE) or OUTSIDE
    have = nat.interfaces.get(m.sw_if_index, 0)
    if m.is_add:
        ensure(m.sw_if_index not in nat.output_interfaces, Retval.VALUE_EXIST, "interface has output feature")
        ensure(not have & role, Retval.VALUE_EXIST, f"sw_if_index {m.sw_if_index} already has this role")
        nat.interfaces[m.sw_if_index] = have | role
    else:
        ensure(bool(have & role), Retval.NO_SUCH_ENTRY, f"sw_if_index {m.sw_if_index} has no such role")
        rest = have & ~role
        if rest:
            nat.interfaces[m.sw_if_index] = rest
        else:
            del nat.interfaces[m.sw_if_index]


@dump("nat44_interface_dump")
def interface_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    nat = ctx.state.nat
    if not nat.enabled:
        return
    for idx, flags in sorted(nat.interfaces.items()):
        yield {"sw_if_index": idx, "flags": flags}


@reply("nat44_ed_add_del_output_interface")
def output_interface(ctx: Context, m: Any) -> None:
    ctx.state.interfaces.get(m.sw_if_index)
    _enabled(ctx)
    outs = ctx.state.nat.output_interfaces
    if m.is_add:
        ensure(m.sw_if_index not in ctx.state.nat.interfaces, Retval.VALUE_EXIST, "interface has in/out feature")
        ensure(m.sw_if_index not in outs, Retval.VALUE_EXIST, f"sw_if_index {m.sw_if_index}")
        outs.append(m.sw_if_index)
    else:
        ensure(m.sw_if_index in outs, Retval.NO_SUCH_ENTRY, f"sw_if_index {m.sw_if_index}")
        outs.remove(m.sw_if_index)


PAGE = 64


@stream("nat44_ed_output_interface_get")
def output_interface_get(ctx: Context, m: Any) -> tuple[Fields, list[Fields]]:
    outs = sorted(ctx.state.nat.output_interfaces) if ctx.state.nat.enabled else []
    page = outs[m.cursor : m.cursor + PAGE]
    nxt = m.cursor + len(page)
    more = nxt < len(outs)
    final = {"retval": int(Retval.EAGAIN) if more else 0, "cursor": nxt if more else ALL}
    return final, [{"sw_if_index": idx} for idx in page]


@reply("nat44_add_del_address_range")
def address_range(ctx: Context, m: Any) -> None:
    _enabled(ctx)
    nat = ctx.state.nat
    first, last = _ip4(m.first_ip_address), _ip4(m.last_ip_address)
    ensure(last >= first, Retval.INVALID_VALUE, f"{first}-{last}")
    twice = bool(int(m.flags) & TWICE_NAT)
    if m.vrf_id != ALL and m.is_add:
        ctx.state.ip.add_table(False, m.vrf_id, "")  # VPP locks (creates) the table for the pool
    ip = first
    while ip <= last:  # like VPP: stop at the first failure, keep what was done
        found = nat.find_address(ip, twice)
        if m.is_add:
            ensure(found is None, Retval.VALUE_EXIST, str(ip))
            nat.addresses.append(PoolAddress(ip, m.vrf_id, twice))
        else:
            ensure(found is not None, Retval.NO_SUCH_ENTRY, str(ip))
            assert found is not None
            nat.addresses.remove(found)
            nat.sessions = [s for s in nat.sessions if s.outside_ip != ip]
        ip += 1


@dump("nat44_address_dump")
def address_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    nat = ctx.state.nat
    if not nat.enabled:
        return
    for a in sorted(nat.addresses, key=lambda a: (a.twice_nat, a.ip)):
        yield {"ip_address": a.ip, "vrf_id": a.vrf_id, "flags": TWICE_NAT if a.twice_nat else 0}


@reply("nat44_add_del_interface_addr")
def interface_addr(ctx: Context, m: Any) -> None:
    _enabled(ctx)
    ctx.state.interfaces.get(m.sw_if_index)
    table = ctx.state.nat.interface_addresses
    if m.is_add:
        ensure(m.sw_if_index not in table, Retval.VALUE_EXIST, f"sw_if_index {m.sw_if_index}")
        table[m.sw_if_index] = bool(int(m.flags) & TWICE_NAT)
    else:
        ensure(m.sw_if_index in table, Retval.NO_SUCH_ENTRY, f"sw_if_index {m.sw_if_index}")
        del table[m.sw_if_index]


@reply("nat44_add_del_static_mapping_v2")
def static_mapping(ctx: Context, m: Any) -> None:
    _enabled(ctx)
    flags = int(m.flags)
    addr_only = bool(flags & ADDR_ONLY)
    if m.external_sw_if_index != ALL:
        ctx.state.interfaces.get(m.external_sw_if_index)
    sm = StaticMapping(
        local_ip=_ip4(m.local_ip_address),
        external_ip=_ip4(m.external_ip_address),
        protocol=0 if addr_only else m.protocol,
        local_port=0 if addr_only else m.local_port,
        external_port=0 if addr_only else m.external_port,
        external_sw_if_index=m.external_sw_if_index,
        vrf_id=m.vrf_id,
        flags=flags,
        tag=text(m.tag),
        pool_ip=_ip4(m.pool_ip_address),
        match_pool=bool(m.match_pool),
    )
    table = ctx.state.nat.static_mappings
    key = sm.key()
    if m.is_add:
        ensure(key not in table, Retval.VALUE_EXIST, f"static mapping {key}")
        if not addr_only:  # VPP's out2in table holds load-balanced mappings too
            taken = (sm.external_ip, sm.protocol, sm.external_port) in ctx.state.nat.lb_mappings
            ensure(not taken, Retval.VALUE_EXIST, f"load-balanced mapping {key}")
        table[key] = sm
    else:
        ensure(key in table, Retval.NO_SUCH_ENTRY, f"static mapping {key}")
        del table[key]


@dump("nat44_static_mapping_dump")
def static_mapping_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    nat = ctx.state.nat
    if not nat.enabled:
        return
    for sm in nat.static_mappings.values():
        yield {
            "flags": sm.flags,
            "local_ip_address": sm.local_ip,
            "external_ip_address": sm.external_ip,
            "protocol": sm.protocol,
            "local_port": sm.local_port,
            "external_port": sm.external_port,
            "external_sw_if_index": sm.external_sw_if_index,
            "vrf_id": sm.vrf_id,
            "tag": sm.tag,
        }


# ---- load-balanced static mappings (nat44_ed_add_lb_static_mapping and friends)


def _lb_lookup(ctx: Context, m: Any) -> tuple[tuple[object, ...], LbStaticMapping | None]:
    nat = ctx.state.nat
    key = (_ip4(m.external_addr), int(m.protocol), int(m.external_port))
    return key, nat.lb_mappings.get(key)


def _lb_local(ctx: Context, lo: Any) -> LbLocal:
    ctx.state.ip.add_table(False, int(lo.vrf_id), "")  # VPP finds or creates (and locks) each local's table
    return LbLocal(_ip4(lo.addr), int(lo.port), int(lo.probability), int(lo.vrf_id))


@reply("nat44_add_del_lb_static_mapping")
def lb_static_mapping(ctx: Context, m: Any) -> None:
    _enabled(ctx)
    nat = ctx.state.nat
    key, found = _lb_lookup(ctx, m)
    flags = int(m.flags)
    ip, proto, port = _ip4(m.external_addr), int(m.protocol), int(m.external_port)
    if not m.is_add:
        if found is None:
            plain = nat.o2i_taken(ip, proto, port)
            ensure(not plain, Retval.INVALID_VALUE, f"{ip}:{port} is not a load-balanced mapping")
        ensure(found is not None, Retval.NO_SUCH_ENTRY, f"load-balanced mapping {ip}:{port}")
        del nat.lb_mappings[key]
        return
    ensure(not nat.o2i_taken(ip, proto, port), Retval.VALUE_EXIST, f"static mapping {ip}:{port}")
    locals_ = list(m.locals)[: int(m.local_num)]
    ensure(len(locals_) >= 2, Retval.INVALID_VALUE, f"{len(locals_)} locals: a load-balanced mapping needs two")
    if not flags & OUT2IN_ONLY:
        # the external address must be a pool address, its port otherwise unused
        pooled = any(a.ip == ip and not a.twice_nat for a in nat.addresses)
        ensure(pooled, Retval.NO_SUCH_ENTRY, f"{ip} is not in the NAT pool")
    if flags & TWICE_NAT:
        flags &= ~SELF_TWICE_NAT  # VPP takes twice-NAT over self-twice-NAT
    nat.lb_mappings[key] = LbStaticMapping(
        external_ip=_ip4(m.external_addr),
        external_port=int(m.external_port),
        protocol=int(m.protocol),
        flags=flags & (TWICE_NAT | SELF_TWICE_NAT | OUT2IN_ONLY),
        affinity=int(m.affinity),
        tag=text(m.tag),
        locals=[_lb_local(ctx, lo) for lo in locals_],
    )


@reply("nat44_lb_static_mapping_add_del_local")
def lb_static_mapping_local(ctx: Context, m: Any) -> None:
    _enabled(ctx)
    nat = ctx.state.nat
    key, found = _lb_lookup(ctx, m)
    if found is None:
        plain = nat.o2i_taken(_ip4(m.external_addr), int(m.protocol), int(m.external_port))
        ensure(not plain, Retval.INVALID_VALUE, f"{key} is not a load-balanced mapping")
    ensure(found is not None, Retval.NO_SUCH_ENTRY, f"load-balanced mapping {key}")
    assert found is not None
    lo = m.local
    wanted = (_ip4(lo.addr), int(lo.port), int(lo.vrf_id))
    match = next((x for x in found.locals if x.key() == wanted), None)
    if m.is_add:
        ensure(match is None, Retval.VALUE_EXIST, f"local {wanted}")
        found.locals.append(_lb_local(ctx, lo))
    else:
        ensure(match is not None, Retval.NO_SUCH_ENTRY, f"local {wanted}")
        ensure(len(found.locals) >= 3, Retval.UNSPECIFIED, "a load-balanced mapping keeps two locals")
        found.locals.remove(match)  # type: ignore[arg-type]


@dump("nat44_lb_static_mapping_dump")
def lb_static_mapping_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    nat = ctx.state.nat
    if not nat.enabled:
        return
    for lb in nat.lb_mappings.values():
        yield {
            "external_addr": lb.external_ip,
            "external_port": lb.external_port,
            "protocol": lb.protocol,
            "flags": lb.flags,
            "affinity": lb.affinity,
            "tag": lb.tag,
            "local_num": len(lb.locals),
            "locals": [
                {"addr": x.addr, "port": x.port, "probability": x.probability, "vrf_id": x.vrf_id} for x in lb.locals
            ],
        }


@reply("nat44_add_del_identity_mapping")
def identity_mapping(ctx: Context, m: Any) -> None:
    _enabled(ctx)
    flags = int(m.flags)
    addr_only = bool(flags & ADDR_ONLY)
    if m.sw_if_index != ALL:
        ctx.state.interfaces.get(m.sw_if_index)
    im = IdentityMapping(
        ip=_ip4(m.ip_address) if m.sw_if_index == ALL else ipaddress.IPv4Address(0),
        protocol=0 if addr_only else m.protocol,
        port=0 if addr_only else m.port,
        sw_if_index=m.sw_if_index,
        vrf_id=m.vrf_id,
        flags=flags,
        tag=text(m.tag),
    )
    table = ctx.state.nat.identity_mappings
    key = im.key()
    if m.is_add:
        ensure(key not in table, Retval.VALUE_EXIST, f"identity mapping {key}")
        table[key] = im
    else:
        ensure(key in table, Retval.NO_SUCH_ENTRY, f"identity mapping {key}")
        del table[key]


@dump("nat44_identity_mapping_dump")
def identity_mapping_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    nat = ctx.state.nat
    if not nat.enabled:
        return
    for im in nat.identity_mappings.values():
        yield {
            "flags": im.flags,
            "ip_address": im.ip,
            "protocol": im.protocol,
            "port": im.port,
            "sw_if_index": im.sw_if_index,
            "vrf_id": im.vrf_id,
            "tag": im.tag,
        }


# ---- sessions


def _flow_keys(s: Session, outside_vrf: int) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """The session's two entries in nat44-ed's flow hash: inside-to-outside and outside-to-inside.

    Each is (local address, local port, remote address, remote port, VRF,
    protocol). A twice-NAT session's inside side sees the remote host by its
    translated address, so that is the remote of its inside entry.
    """
    if s.flags & TWICE_NAT:
        inside_remote = (s.ext_host_nat_ip, s.ext_host_nat_port)
    else:
        inside_remote = (s.ext_host_ip, s.ext_host_port)
    return (
        (s.inside_ip, s.inside_port, *inside_remote, s.vrf_id, s.protocol),
        (s.outside_ip, s.outside_port, s.ext_host_ip, s.ext_host_port, outside_vrf, s.protocol),
    )


@reply("nat44_del_session")
def del_session(ctx: Context, m: Any) -> None:
    """nat44-ed looks the session up by one flow-hash key: the remote host is part of it whatever the flags say."""
    _enabled(ctx)
    nat = ctx.state.nat
    key = (_ip4(m.address), m.port, _ip4(m.ext_host_address), m.ext_host_port, m.vrf_id, m.protocol)
    victim = next((s for s in nat.sessions if key in _flow_keys(s, nat.outside_vrf)), None)
    ensure(victim is not None, Retval.NO_SUCH_ENTRY, f"session {m.address}:{m.port}")
    nat.sessions.remove(victim)  # type: ignore[arg-type]


@dump("nat44_user_dump")
def user_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    nat = ctx.state.nat
    if not nat.enabled:
        return
    users: dict[tuple[int, ipaddress.IPv4Address], list[Session]] = {}
    for s in nat.sessions:
        users.setdefault((s.vrf_id, s.inside_ip), []).append(s)
    for (vrf, ip), sessions in sorted(users.items()):
        n_static = sum(1 for s in sessions if s.flags & STATIC)
        yield {
            "vrf_id": vrf,
            "ip_address": ip,
            "nsessions": len(sessions) - n_static,
            "nstaticsessions": n_static,
        }


@dump("nat44_user_session_v3_dump")
def user_session_v3_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    nat = ctx.state.nat
    if not nat.enabled:
        return
    now = ctx.state.now()
    user = _ip4(m.ip_address)
    for s in nat.sessions:
        if s.inside_ip != user or s.vrf_id != m.vrf_id:
            continue
        idle = max(0.0, now - s.last_heard)
        twice = bool(s.flags & TWICE_NAT)
        yield {
            "outside_ip_address": s.outside_ip,
            "outside_port": s.outside_port,
            "inside_ip_address": s.inside_ip,
            "inside_port": s.inside_port,
            "protocol": s.protocol,
            "flags": s.flags | EXT_HOST_VALID,
            "last_heard": int(s.last_heard) if s.last_heard > 0 else 0,
            "time_since_last_heard": int(idle),
            "total_bytes": s.total_bytes,
            "total_pkts": s.total_pkts,
            "ext_host_address": s.ext_host_ip,
            "ext_host_port": s.ext_host_port,
            # only a twice-NAT session reports the translated remote host
            "ext_host_nat_address": s.ext_host_nat_ip if twice else ipaddress.IPv4Address(0),
            "ext_host_nat_port": s.ext_host_nat_port if twice else 0,
            "is_timed_out": idle > s.timeout(nat.timeouts),
        }
