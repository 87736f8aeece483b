"""stn.api, session.api and dhcp.api behaviour and refusals."""

from __future__ import annotations

import pytest

from contivctl.testing.vppemu import Emulator

from .helpers import AsyncClient, call, connect, disconnect, dump, next_event


async def test_stn_rules(vpp: AsyncClient) -> None:
    assert (await call(vpp, "stn_add_del_rule", ip_address="10.0.0.5", sw_if_index=1, is_add=True)).retval == 0
    assert (await call(vpp, "stn_add_del_rule", ip_address="10.0.0.5", sw_if_index=1, is_add=True)).retval == -116
    assert (await call(vpp, "stn_add_del_rule", ip_address="10.0.0.6", sw_if_index=33, is_add=True)).retval == -2
    assert [(str(d.ip_address), d.sw_if_index) for d in await dump(vpp, "stn_rules_dump")] == [("10.0.0.5", 1)]
    assert (await call(vpp, "stn_add_del_rule", ip_address="10.0.0.5", sw_if_index=1, is_add=False)).retval == 0
    assert (await call(vpp, "stn_add_del_rule", ip_address="10.0.0.5", sw_if_index=1, is_add=False)).retval == -6


async def test_app_namespaces_need_the_session_layer(emu: Emulator, vpp: AsyncClient) -> None:
    ns = {"namespace_id": "pod-a", "secret": 42, "sw_if_index": 1, "sock_name": "/run/pod-a.sock"}
    assert (await call(vpp, "app_namespace_add_del_v4", is_add=True, **ns)).retval == -30
    assert (await call(vpp, "session_enable_disable_v2", rt_engine_type=1)).retval == 0
    assert emu.state.services.session_enabled
    r = await call(vpp, "app_namespace_add_del_v4", is_add=True, **ns)
    assert (r.retval, r.appns_index) == (0, 1)
    again = await call(vpp, "app_namespace_add_del_v4", is_add=True, **dict(ns, secret=43))
    assert (again.retval, again.appns_index) == (0, 1)  # VPP updates an existing namespace
    assert emu.state.services.app_namespaces["pod-a"].secret == 43
    assert (await call(vpp, "app_namespace_add_del_v4", is_add=True, **dict(ns, sw_if_index=77))).retval == -2
    assert (await call(vpp, "app_namespace_add_del_v4", is_add=False, **ns)).retval == 0
    assert (await call(vpp, "app_namespace_add_del_v4", is_add=False, **ns)).retval == -7
    assert (await call(vpp, "session_enable_disable_v2", rt_engine_type=0)).retval == 0
    assert not emu.state.services.session_enabled


async def test_dhcp_client_config(vpp: AsyncClient) -> None:
    client = {"sw_if_index": 1, "hostname": "node-1", "want_dhcp_event": True, "pid": 7}
    assert (await call(vpp, "dhcp_client_config", is_add=True, client=client)).retval == 0
    assert (await call(vpp, "dhcp_client_config", is_add=True, client=client)).retval == -7
    (d,) = await dump(vpp, "dhcp_client_dump")
    assert (d.client.sw_if_index, d.client.hostname, int(d.lease.state)) == (1, "node-1", 0)
    assert (await call(vpp, "dhcp_client_config", is_add=True, client=dict(client, sw_if_index=9))).retval == -2
    assert (await call(vpp, "dhcp_client_config", is_add=False, client=client)).retval == 0
    assert (await call(vpp, "dhcp_client_config", is_add=False, client=client)).retval == -6


async def test_dhcp_lease_is_applied_and_reported(emu: Emulator, vpp: AsyncClient) -> None:
    bystander = await connect(emu.socket_path, "bystander")
    client = {"sw_if_index": 1, "hostname": "node-1", "want_dhcp_event": True, "pid": 7}
    await call(vpp, "dhcp_client_config", is_add=True, client=client)
    emu.dhcp_lease(1, "10.50.0.10/24", "10.50.0.1", domain_servers=["10.50.0.2"])
    ev = await next_event(vpp, "dhcp_compl_event")
    assert not hasattr(ev, "context")
    lease = ev.lease
    assert (ev.pid, str(lease.host_address), lease.mask_width, str(lease.router_address)) == (
        7,
        "10.50.0.10",
        24,
        "10.50.0.1",
    )
    assert [str(s.address) for s in lease.domain_server] == ["10.50.0.2"]
    assert [str(a.prefix) for a in await dump(vpp, "ip_address_dump", sw_if_index=1)] == ["10.50.0.10/24"]
    await call(vpp, "sw_interface_set_flags", sw_if_index=1, flags=1)
    routes = {str(d.route.prefix): d.route for d in await dump(vpp, "ip_route_dump", table={"table_id": 0})}
    assert str(routes["0.0.0.0/0"].paths[0].nh.address.ip4) == "10.50.0.1"
    (d,) = await dump(vpp, "dhcp_client_dump")
    assert int(d.lease.state) == 2  # bound
    await call(bystander, "control_ping")
    assert bystander.events.empty()
    await disconnect(bystander)


async def test_dhcp_lease_needs_a_client(emu: Emulator) -> None:
    with pytest.raises(LookupError):
        emu.dhcp_lease(1, "10.50.0.10/24", "10.50.0.1")
