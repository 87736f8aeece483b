"""The VPP descriptors under the real Reconciler: apply, idempotent resync, retries, VPP restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from contivctl.dataplane.vpp.connection import Reconnected, VPPConnection
from contivctl.dataplane.vpp.descriptors import vpp_descriptors
from contivctl.items import Items, keyed
from contivctl.items import vpp as I
from contivctl.reconcile import ItemState, ManualClock, Reconciler, RetryPolicy
from contivctl.testing.vppemu import Emulator

from .conftest import NIC, connection

POD_VRF = 1


def node_items() -> Items:
    """A small node: VRFs, NIC, gateway loopback, a pod loopback, VXLAN overlay, NAT, STN, TCP stack."""
    return keyed(
        I.Vrf(POD_VRF),
        I.Interface(NIC, I.Physical(NIC), mtu=1500),
        I.Address(NIC, "10.30.0.5/24"),
        I.Route(0, "0.0.0.0/0", next_hop="10.30.0.1", interface=NIC),
        I.Route(0, "10.1.0.0/16", lookup_vrf=POD_VRF),
        I.Route(POD_VRF, "0.0.0.0/0", lookup_vrf=0),
        I.Route(POD_VRF, "10.1.0.0/16", drop=True),
        I.Interface("podGwLoop", I.Loopback(), mac="02:fe:00:00:00:01", vrf=POD_VRF),
        I.Address("podGwLoop", "10.1.1.1/24"),
        I.Interface("vxlanBVI", I.Bvi(), mac="12:2b:00:00:00:05", vrf=POD_VRF),
        I.Address("vxlanBVI", "192.168.30.5/24"),
        I.BridgeDomain("vxlanBD", 10),
        I.BridgeDomainMember("vxlanBD", "vxlanBVI", bvi=True, shg=1),
        I.Interface("vxlan2", I.Vxlan("10.30.0.5", "10.30.0.6", 10)),
        I.BridgeDomainMember("vxlanBD", "vxlan2", shg=1),
        I.L2FibEntry("vxlanBD", "12:2b:00:00:00:06", "vxlan2"),
        I.Neighbor("vxlanBVI", "192.168.30.6", "12:2b:00:00:00:06"),
        I.Route(POD_VRF, "10.1.2.0/24", next_hop="192.168.30.6", interface="vxlanBVI"),
        I.NeighborConfig(max_age=4),
        I.Nat44Global(),
        I.Nat44Interface(NIC, output=True),
        I.Nat44Address("10.30.0.5"),
        I.Nat44IdentityMapping("10.30.0.5", I.NatProtocol.UDP, 4789),
        I.Interface("loop-pod1", I.Loopback(), vrf=POD_VRF, unnumbered_to="podGwLoop"),
        I.SessionLayer(),
        I.AppNamespace("pod1", 42, "loop-pod1"),
        I.StnRule("10.1.1.7", "loop-pod1"),
    )


@pytest.fixture
async def started(emu: Emulator) -> AsyncIterator[tuple[VPPConnection, asyncio.Queue[Reconnected]]]:
    events: asyncio.Queue[Reconnected] = asyncio.Queue()
    conn = connection(emu, timeout=0.5, on_reconnect=events.put_nowait)
    await conn.start(wait=5)
    try:
        yield conn, events
    finally:
        await conn.close()


def reconciler(conn: VPPConnection, clock: ManualClock | None = None) -> Reconciler:
    return Reconciler(vpp_descriptors(conn), clock=clock, retry=RetryPolicy(initial=1.0, max_delay=4.0))


def assert_configured(r: Reconciler, keys: object) -> None:
    states = r.states()
    bad = {k: s for k, s in states.items() if s.state is not ItemState.CONFIGURED}
    assert not bad, bad
    assert set(states) == set(keys)  # type: ignore[call-overload]


async def run_retries(r: Reconciler, clock: ManualClock, limit: int = 20) -> None:
    fired = 0
    while (when := clock.next_deadline()) is not None:
        assert fired < limit, "retries never stop"
        clock.advance(when - clock.now())
        fired += 1
        await r.drain()


async def test_apply_then_resync_changes_nothing(started: tuple[VPPConnection, object], emu: Emulator) -> None:
    conn, _ = started
    desired = node_items()
    r = reconciler(conn)
    rec = await r.apply(desired)
    assert all(o.outcome == "ok" for o in rec.ops), [o for o in rec.ops if o.outcome != "ok"]
    assert_configured(r, desired)
    # what VPP has now matches, read back through every descriptor's dump
    again = await r.resync_full(desired)
    assert again.plan == () and again.ops == ()
    # an agent restart (new reconciler, new descriptors, VPP untouched) re-reads everything;
    # only app namespaces, which VPP cannot list, are added again (an update in VPP)
    fresh = reconciler(conn)
    rec = await fresh.resync_full(desired)
    assert {o.key for o in rec.ops} <= {"vpp/appns/pod1"}
    assert_configured(fresh, desired)
    assert (await fresh.resync_full(desired)).ops == ()
    # removing everything leaves only what VPP had at boot
    await fresh.apply({}, replace=True)
    assert sorted(i.name for i in emu.state.interfaces.by_index.values()) == sorted(["local0", NIC])
    assert not emu.state.nat.enabled
    assert (await fresh.resync_full({})).ops == ()


async def test_foreign_objects_are_left_alone(started: tuple[VPPConnection, object], emu: Emulator) -> None:
    conn, _ = started
    foreign = await conn.call("create_loopback")
    await conn.call("ip_table_add_del", is_add=True, table={"table_id": 9})
    await conn.call("sw_interface_add_del_address", sw_if_index=foreign.sw_if_index, is_add=True, prefix="10.99.0.1/24")
    r = reconciler(conn)
    rec = await r.resync_full(node_items())
    assert not [o for o in rec.ops if o.op == "delete"]
    assert foreign.sw_if_index in emu.state.interfaces.by_index
    assert (False, 9) in emu.state.ip.tables
    await r.apply({}, replace=True)
    assert foreign.sw_if_index in emu.state.interfaces.by_index


async def test_a_route_left_through_an_interface_that_is_gone_is_removed(
    started: tuple[VPPConnection, object], emu: Emulator
) -> None:
    """Its interface removed under it (a reply lost, a crash), the route forwards nothing; a resync deletes it."""
    conn, _ = started
    desired = keyed(I.Vrf(POD_VRF), I.Interface("podLoop", I.Loopback(), vrf=POD_VRF))
    r = reconciler(conn)
    await r.apply({**desired, **keyed(I.Route(POD_VRF, "10.1.1.9/32", next_hop="10.1.1.9", interface="podLoop"))})
    idx = r.metadata("vpp/interface/podLoop")
    await conn.call("delete_loopback", sw_if_index=idx)  # behind the agent's back
    assert (await conn.dump("ip_route_dump", table={"table_id": POD_VRF, "is_ip6": False}))
    fresh = reconciler(conn)
    await fresh.resync_full(desired)
    routes = await conn.dump("ip_route_dump", table={"table_id": POD_VRF, "is_ip6": False})
    assert "10.1.1.9/32" not in {str(x.route.prefix) for x in routes}
    assert_configured(fresh, desired)


async def test_an_untagged_loopback_with_the_mac_of_an_expected_one_is_claimed_and_tagged(
    started: tuple[VPPConnection, object], emu: Emulator
) -> None:
    """A loopback made but never tagged (the tag refused, the undo lost) is the agent's: none is left over."""
    conn, _ = started
    desired = keyed(I.Vrf(POD_VRF), I.Interface("podGwLoop", I.Loopback(), mac="02:fe:00:00:00:01", vrf=POD_VRF))
    await conn.call("create_loopback", mac_address="02:fe:00:00:00:01")  # in VRF 0: it is made again in 1
    r = reconciler(conn)
    await r.resync_full(desired)
    assert_configured(r, desired)
    loops = [i for i in emu.state.interfaces.by_index.values() if i.name.startswith("loop")]
    assert [i.tag for i in loops] == ["contiv:podGwLoop"]


async def test_timeouts_are_retried(started: tuple[VPPConnection, object], emu: Emulator) -> None:
    conn, _ = started
    clock = ManualClock()
    r = reconciler(conn, clock)
    desired = node_items()
    emu.faults.ignore("ip_route_add_del", times=2)
    await r.apply(desired)
    retrying = {k for k, s in r.states().items() if s.state is ItemState.RETRYING}
    assert retrying and all(k.startswith("vpp/route/") for k in retrying)
    assert all("did not answer ip_route_add_del" in (r.states()[k].error or "") for k in retrying)
    await run_retries(r, clock)
    assert_configured(r, desired)


async def test_lost_connection_is_retried_after_reconnect(
    started: tuple[VPPConnection, asyncio.Queue[Reconnected]], emu: Emulator
) -> None:
    conn, events = started
    clock = ManualClock()
    r = reconciler(conn, clock)
    desired = node_items()
    emu.faults.drop_connection("bridge_domain_add_del_v2")
    await r.apply(desired)
    st = r.states()["vpp/bd/vxlanBD"]
    assert st.state is ItemState.RETRYING and "lost" in (st.error or "")
    ev = await asyncio.wait_for(events.get(), 5)
    assert not ev.restarted
    await run_retries(r, clock)
    assert_configured(r, desired)


async def test_refusal_is_not_retried(started: tuple[VPPConnection, object], emu: Emulator) -> None:
    conn, _ = started
    clock = ManualClock()
    r = reconciler(conn, clock)
    emu.faults.fail("stn_add_del_rule", -2)
    await r.apply(node_items())
    st = r.states()["vpp/stn/10.1.1.7"]
    assert st.state is ItemState.FAILED and "INVALID_SW_IF_INDEX" in (st.error or "")


async def test_a_refusal_without_a_reason_is_retried(started: tuple[VPPConnection, object], emu: Emulator) -> None:
    conn, _ = started
    clock = ManualClock()
    r = reconciler(conn, clock)
    emu.faults.fail("stn_add_del_rule", -1)  # UNSPECIFIED: nothing says it would be refused again
    await r.apply(node_items())
    st = r.states()["vpp/stn/10.1.1.7"]
    assert st.state is ItemState.RETRYING and "UNSPECIFIED" in (st.error or "")
    await run_retries(r, clock)
    assert r.states()["vpp/stn/10.1.1.7"].state is ItemState.CONFIGURED


async def test_vpp_restart_is_detected_and_full_resync_recreates_everything(
    started: tuple[VPPConnection, asyncio.Queue[Reconnected]], emu: Emulator
) -> None:
    conn, events = started
    desired = node_items()
    r = reconciler(conn)
    await r.apply(desired)
    await emu.restart()
    ev = await asyncio.wait_for(events.get(), 5)
    assert ev.restarted
    rec = await r.resync_full(desired, trigger="vpp restarted")
    created = {o.key for o in rec.ops if o.op == "create" and o.outcome == "ok"}
    assert created == set(desired)
    assert_configured(r, desired)
    names = {i.tag for i in emu.state.interfaces.by_index.values()}
    assert {"contiv:podGwLoop", "contiv:vxlanBVI", "contiv:vxlan2", "contiv:loop-pod1", f"contiv:{NIC}"} <= names
    assert emu.state.nat.enabled and emu.state.services.session_enabled
    assert (await r.resync_full(desired)).ops == ()
