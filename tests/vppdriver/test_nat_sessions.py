"""CleanupIdleNATSessions: the sweep against the emulator's nat44-ed sessions."""

from __future__ import annotations

from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.dataplane.vpp.natsessions import (
    USERS_PER_GROUP,
    IdleSessionSweeper,
    IdleTimeouts,
    SweepResult,
    sweep_idle_sessions,
)
from contivctl.testing.vppemu import Emulator
from tests.vppdriver.conftest import connection

TCP, UDP, ICMP = 6, 17, 1
TIMEOUTS = IdleTimeouts(tcp=3 * 3600, other=300)


async def _enable_nat(vpp: VPPConnection) -> None:
    await vpp.call("nat44_ed_plugin_enable_disable", enable=True, sessions=10000)


def _left(emu: Emulator) -> set[tuple[str, int]]:
    return {(str(s.inside_ip), s.inside_port) for s in emu.state.nat.sessions}


async def test_idle_sessions_go_by_protocol(emu: Emulator, vpp: VPPConnection) -> None:
    await _enable_nat(vpp)
    pod, out, remote = "10.1.1.5", "10.8.0.1", ("8.8.8.8", 53)
    emu.nat_session((pod, 1), (out, 1001), remote, protocol=UDP, idle_for=301)  # other: past 5 min
    emu.nat_session((pod, 2), (out, 1002), remote, protocol=UDP, idle_for=120)
    emu.nat_session((pod, 3), (out, 1003), remote, protocol=ICMP, idle_for=400)
    emu.nat_session((pod, 4), (out, 1004), remote, protocol=TCP, idle_for=400)  # TCP: kept under 3 h
    emu.nat_session((pod, 5), (out, 1005), remote, protocol=TCP, idle_for=3 * 3600 + 5)
    emu.nat_session(("10.1.2.9", 6), (out, 1006), remote, protocol=UDP, vrf_id=1, idle_for=900)
    result = await sweep_idle_sessions(vpp, TIMEOUTS)
    assert result == SweepResult(sessions=6, deleted=4, vanished=0, failed=0)
    assert _left(emu) == {(pod, 2), (pod, 4)}
    assert await sweep_idle_sessions(vpp, TIMEOUTS) == SweepResult(sessions=2)


async def test_twice_nat_session_is_deleted_by_its_translated_remote(emu: Emulator, vpp: VPPConnection) -> None:
    """A Service's endpoint saw its client by the twice-NAT address: the emulator finds the session only by that."""
    await _enable_nat(vpp)
    emu.nat_session(
        ("10.1.1.7", 8080),
        ("10.96.0.10", 80),
        ("10.1.2.3", 5000),
        protocol=UDP,
        idle_for=600,
        twice_nat=("10.1.0.254", 1),
    )
    assert await sweep_idle_sessions(vpp, TIMEOUTS) == SweepResult(sessions=1, deleted=1)
    assert emu.state.nat.sessions == []


async def test_more_users_than_one_group(emu: Emulator, vpp: VPPConnection) -> None:
    await _enable_nat(vpp)
    users = USERS_PER_GROUP + 10
    for i in range(users):
        pod = f"10.1.{i // 200}.{i % 200 + 1}"
        emu.nat_session((pod, 4000), ("10.8.0.1", 1024 + i), ("1.1.1.1", 53), protocol=UDP, idle_for=600)
        emu.nat_session((pod, 4001), ("10.8.0.1", 5024 + i), ("1.1.1.1", 53), protocol=UDP, idle_for=10)
    result = await sweep_idle_sessions(vpp, TIMEOUTS)
    assert result == SweepResult(sessions=2 * users, deleted=users)
    assert {port for _, port in _left(emu)} == {4001}


async def test_gone_meanwhile_and_refused_are_counted_apart(emu: Emulator, vpp: VPPConnection) -> None:
    await _enable_nat(vpp)
    for port in (1, 2, 3):
        emu.nat_session(("10.1.1.5", port), ("10.8.0.1", 1000 + port), ("8.8.8.8", 53), protocol=UDP, idle_for=600)
    emu.faults.fail("nat44_del_session", -6)  # expired by VPP between the dump and the delete
    emu.faults.fail("nat44_del_session", -1)
    result = await sweep_idle_sessions(vpp, TIMEOUTS)
    assert result == SweepResult(sessions=3, deleted=1, vanished=1, failed=1)


async def test_disabled_plugin_has_nothing_to_sweep(vpp: VPPConnection) -> None:
    assert await sweep_idle_sessions(vpp, TIMEOUTS) == SweepResult()


async def test_sweeper_reports_and_survives_a_failed_sweep(emu: Emulator) -> None:
    vpp = connection(emu)
    sweeper = IdleSessionSweeper(vpp, TIMEOUTS, interval=300)
    assert await sweeper.sweep() is None  # not connected: nothing tried
    await vpp.start(wait=5)
    try:
        await _enable_nat(vpp)
        emu.nat_session(("10.1.1.5", 1), ("10.8.0.1", 1001), ("8.8.8.8", 53), protocol=UDP, idle_for=600)
        emu.faults.drop_connection("nat44_user_dump")
        assert await sweeper.sweep() is None
        assert sweeper.describe()["lastError"]
        await vpp.wait_connected(5)
        assert await sweeper.sweep() == SweepResult(sessions=1, deleted=1)
        report = sweeper.describe()
        assert report["sweeps"] == 1 and report["deleted"] == 1 and report["lastError"] == ""
        assert report["last"] == {"sessions": 1, "deleted": 1, "vanished": 0, "failed": 0}
    finally:
        await vpp.close()
