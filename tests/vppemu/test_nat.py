"""nat44_ed.api behaviour and refusals."""

from __future__ import annotations

from contivctl.testing.vppemu import Emulator

from .helpers import AsyncClient, call, dump

INSIDE, OUTSIDE, TWICE_NAT, ADDR_ONLY, EXT_HOST_VALID = 32, 16, 1, 8, 128


async def _enable(vpp: AsyncClient) -> None:
    assert (await call(vpp, "nat44_ed_plugin_enable_disable", enable=True, sessions=1000)).retval == 0


async def test_plugin_state(vpp: AsyncClient) -> None:
    r = await call(vpp, "nat44_interface_add_del_feature", is_add=True, flags=INSIDE, sw_if_index=1)
    assert r.retval == 1  # nat44-ed's fail_if_disabled
    assert await dump(vpp, "nat44_interface_dump") == []
    await _enable(vpp)
    assert (await call(vpp, "nat44_ed_plugin_enable_disable", enable=True)).retval == 1
    await call(
        vpp,
        "nat44_add_del_address_range",
        first_ip_address="10.8.0.1",
        last_ip_address="10.8.0.1",
        vrf_id=0xFFFFFFFF,
        is_add=True,
    )
    assert (await call(vpp, "nat44_ed_plugin_enable_disable", enable=False)).retval == 0
    await _enable(vpp)
    assert await dump(vpp, "nat44_address_dump") == []  # disabling dropped the pool


async def test_interfaces(vpp: AsyncClient) -> None:
    await _enable(vpp)
    lo = (await call(vpp, "create_loopback")).sw_if_index
    assert (await call(vpp, "nat44_interface_add_del_feature", is_add=True, flags=INSIDE, sw_if_index=lo)).retval == 0
    assert (await call(vpp, "nat44_interface_add_del_feature", is_add=True, flags=OUTSIDE, sw_if_index=lo)).retval == 0
    r = await call(vpp, "nat44_interface_add_del_feature", is_add=True, flags=INSIDE, sw_if_index=lo)
    assert r.retval == -81
    assert [(d.sw_if_index, int(d.flags)) for d in await dump(vpp, "nat44_interface_dump")] == [(lo, INSIDE | OUTSIDE)]
    assert (await call(vpp, "nat44_interface_add_del_feature", is_add=False, flags=INSIDE, sw_if_index=lo)).retval == 0
    r = await call(vpp, "nat44_interface_add_del_feature", is_add=False, flags=INSIDE, sw_if_index=lo)
    assert r.retval == -6
    r = await call(vpp, "nat44_interface_add_del_feature", is_add=True, flags=INSIDE, sw_if_index=44)
    assert r.retval == -2
    assert (await call(vpp, "nat44_ed_add_del_output_interface", is_add=True, sw_if_index=1)).retval == 0
    assert (await call(vpp, "nat44_ed_add_del_output_interface", is_add=True, sw_if_index=1)).retval == -81
    _, outs = await call(vpp, "nat44_ed_output_interface_get", cursor=0)
    assert [d.sw_if_index for d in outs] == [1]
    assert (await call(vpp, "nat44_ed_add_del_output_interface", is_add=False, sw_if_index=1)).retval == 0
    assert (await call(vpp, "nat44_ed_add_del_output_interface", is_add=False, sw_if_index=1)).retval == -6


async def test_address_pool_with_twice_nat(vpp: AsyncClient) -> None:
    await _enable(vpp)
    rng = {"first_ip_address": "10.8.0.1", "last_ip_address": "10.8.0.3", "vrf_id": 0xFFFFFFFF}
    assert (await call(vpp, "nat44_add_del_address_range", is_add=True, **rng)).retval == 0
    twice = {"first_ip_address": "10.9.0.1", "last_ip_address": "10.9.0.1", "vrf_id": 0xFFFFFFFF}
    assert (await call(vpp, "nat44_add_del_address_range", is_add=True, flags=TWICE_NAT, **twice)).retval == 0
    got = [(str(d.ip_address), int(d.flags)) for d in await dump(vpp, "nat44_address_dump")]
    assert got == [("10.8.0.1", 0), ("10.8.0.2", 0), ("10.8.0.3", 0), ("10.9.0.1", TWICE_NAT)]
    assert (await call(vpp, "nat44_add_del_address_range", is_add=True, **rng)).retval == -81
    one = {"first_ip_address": "10.8.0.2", "last_ip_address": "10.8.0.2", "vrf_id": 0xFFFFFFFF}
    assert (await call(vpp, "nat44_add_del_address_range", is_add=False, **one)).retval == 0
    assert (await call(vpp, "nat44_add_del_address_range", is_add=False, **one)).retval == -6


def _sm(**kw: object) -> dict[str, object]:
    m: dict[str, object] = {
        "local_ip_address": "10.1.1.5",
        "external_ip_address": "10.8.0.1",
        "protocol": 6,
        "local_port": 8080,
        "external_port": 80,
        "external_sw_if_index": 0xFFFFFFFF,
        "vrf_id": 0,
        "tag": "svc",
    }
    m.update(kw)
    return m


async def test_static_and_identity_mappings(vpp: AsyncClient) -> None:
    await _enable(vpp)
    assert (await call(vpp, "nat44_add_del_static_mapping_v2", is_add=True, **_sm())).retval == 0
    assert (await call(vpp, "nat44_add_del_static_mapping_v2", is_add=True, **_sm())).retval == -81
    twice = _sm(external_port=81, flags=TWICE_NAT)
    assert (await call(vpp, "nat44_add_del_static_mapping_v2", is_add=True, **twice)).retval == 0
    got = sorted((d.external_port, int(d.flags), d.tag) for d in await dump(vpp, "nat44_static_mapping_dump"))
    assert got == [(80, 0, "svc"), (81, TWICE_NAT, "svc")]
    assert (await call(vpp, "nat44_add_del_static_mapping_v2", is_add=False, **_sm())).retval == 0
    assert (await call(vpp, "nat44_add_del_static_mapping_v2", is_add=False, **_sm())).retval == -6
    ident = {"ip_address": "10.1.1.1", "protocol": 6, "port": 22, "sw_if_index": 0xFFFFFFFF, "vrf_id": 0}
    assert (await call(vpp, "nat44_add_del_identity_mapping", is_add=True, **ident)).retval == 0
    assert (await call(vpp, "nat44_add_del_identity_mapping", is_add=True, **ident)).retval == -81
    (i,) = await dump(vpp, "nat44_identity_mapping_dump")
    assert (str(i.ip_address), i.port) == ("10.1.1.1", 22)
    assert (await call(vpp, "nat44_add_del_identity_mapping", is_add=False, **ident)).retval == 0
    assert (await call(vpp, "nat44_add_del_identity_mapping", is_add=False, **ident)).retval == -6


async def test_sessions(emu: Emulator, vpp: AsyncClient) -> None:
    await _enable(vpp)
    emu.nat_session(("10.1.1.5", 40000), ("10.8.0.1", 1024), ("8.8.8.8", 53), protocol=17, idle_for=600)
    emu.nat_session(("10.1.1.5", 40001), ("10.8.0.1", 1025), ("1.1.1.1", 443), protocol=6, idle_for=0)
    (user,) = await dump(vpp, "nat44_user_dump")
    assert (str(user.ip_address), user.nsessions) == ("10.1.1.5", 2)
    sessions = await dump(vpp, "nat44_user_session_v3_dump", ip_address="10.1.1.5", vrf_id=0)
    by_port = {s.inside_port: s for s in sessions}
    assert by_port[40000].time_since_last_heard >= 600 and by_port[40000].is_timed_out  # udp: 300 s
    assert by_port[40001].time_since_last_heard < 600 and not by_port[40001].is_timed_out
    rm = {
        "address": "10.1.1.5",
        "port": 40000,
        "protocol": 17,
        "vrf_id": 0,
        "flags": INSIDE | EXT_HOST_VALID,
        "ext_host_address": "8.8.8.8",
        "ext_host_port": 53,
    }
    assert (await call(vpp, "nat44_del_session", **rm)).retval == 0
    assert (await call(vpp, "nat44_del_session", **rm)).retval == -6
    left = await dump(vpp, "nat44_user_session_v3_dump", ip_address="10.1.1.5", vrf_id=0)
    assert [s.inside_port for s in left] == [40001]
    out = {"address": "10.8.0.1", "port": 1025, "protocol": 6, "vrf_id": 0}
    # nat44-ed finds a session by its remote host too, whatever the flags say
    assert (await call(vpp, "nat44_del_session", **out)).retval == -6
    out_with_host = {**out, "ext_host_address": "1.1.1.1", "ext_host_port": 443}
    assert (await call(vpp, "nat44_del_session", **out_with_host)).retval == 0


async def test_twice_nat_session(emu: Emulator, vpp: AsyncClient) -> None:
    """The inside side of a twice-NAT session sees the remote host translated: that is its key, and its report."""
    await _enable(vpp)
    emu.nat_session(("10.1.1.7", 8080), ("10.96.0.10", 80), ("10.1.2.3", 5000), twice_nat=("10.1.0.254", 1026))
    (s,) = await dump(vpp, "nat44_user_session_v3_dump", ip_address="10.1.1.7", vrf_id=0)
    assert int(s.flags) & TWICE_NAT
    assert (str(s.ext_host_nat_address), s.ext_host_nat_port) == ("10.1.0.254", 1026)
    rm = {"address": "10.1.1.7", "port": 8080, "protocol": 6, "vrf_id": 0, "flags": INSIDE | EXT_HOST_VALID}
    real_remote = {**rm, "ext_host_address": "10.1.2.3", "ext_host_port": 5000}
    assert (await call(vpp, "nat44_del_session", **real_remote)).retval == -6
    seen_remote = {**rm, "ext_host_address": "10.1.0.254", "ext_host_port": 1026}
    assert (await call(vpp, "nat44_del_session", **seen_remote)).retval == 0
    assert await dump(vpp, "nat44_user_session_v3_dump", ip_address="10.1.1.7", vrf_id=0) == []


async def test_plain_session_reports_no_translated_remote(emu: Emulator, vpp: AsyncClient) -> None:
    await _enable(vpp)
    emu.nat_session(("10.1.1.5", 40000), ("10.8.0.1", 1024), ("8.8.8.8", 53), protocol=17)
    (s,) = await dump(vpp, "nat44_user_session_v3_dump", ip_address="10.1.1.5", vrf_id=0)
    assert not int(s.flags) & TWICE_NAT
    assert (str(s.ext_host_nat_address), s.ext_host_nat_port) == ("0.0.0.0", 0)
