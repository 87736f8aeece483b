"""Fault injection and restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from contivctl.testing.vppemu import Action, Emulator
from tests.polling import until

from .helpers import AsyncClient, RawClient, call, connect, disconnect, dump

ROOT = Path(__file__).resolve().parents[2]


async def test_fail_once_then_succeed(emu: Emulator, vpp: AsyncClient) -> None:
    emu.faults.fail("create_loopback", -7)
    assert (await call(vpp, "create_loopback")).retval == -7
    assert (await call(vpp, "create_loopback")).retval == 0
    assert [d.interface_name for d in await dump(vpp, "sw_interface_dump")][
        -1
    ] == "loop0"  # the failed one made nothing


async def test_fail_n_times_and_forever(emu: Emulator, vpp: AsyncClient) -> None:
    emu.faults.fail("show_version", -1, times=2)
    rvs = [(await call(vpp, "show_version")).retval for _ in range(3)]
    assert rvs == [-1, -1, 0]
    rule = emu.faults.fail("control_ping", -5, times=None)
    assert (await call(vpp, "control_ping")).retval == -5
    assert (await call(vpp, "control_ping")).retval == -5
    assert rule.fired == 2
    emu.faults.clear()
    assert (await call(vpp, "control_ping")).retval == 0


async def test_faults_only_hit_the_named_message(emu: Emulator, vpp: AsyncClient) -> None:
    emu.faults.fail("tap_delete_v2", -2)
    assert (await call(vpp, "show_version")).retval == 0
    assert emu.faults.active


async def test_delay_holds_back_this_connection_only(emu: Emulator, vpp: AsyncClient) -> None:
    other = await connect(emu.socket_path, "other")
    emu.faults.delay(1.0, "show_version", times=1)
    slow = asyncio.ensure_future(vpp.api.show_version())
    queued = asyncio.ensure_future(vpp.api.control_ping())  # same connection: must stay behind
    fast = await call(other, "show_version")
    assert fast.retval == 0
    assert not slow.done() and not queued.done()
    results = await asyncio.wait_for(asyncio.gather(slow, queued), 10)
    assert [r.retval for r in results] == [0, 0]
    await disconnect(other)


async def test_ignore_sends_no_reply(emu: Emulator) -> None:
    raw = await RawClient.open(emu.socket_path)
    emu.faults.ignore("show_version")
    await raw.send("show_version", context=1)
    await raw.send("control_ping", context=2)
    assert (await raw.recv()).context == 2
    await raw.close()


async def test_drop_connection(emu: Emulator) -> None:
    raw = await RawClient.open(emu.socket_path)
    emu.faults.drop_connection("create_loopback")
    await raw.send("create_loopback", context=1)
    assert await asyncio.wait_for(raw.reader.read(), 5) == b""
    assert raw.handle not in emu.clients
    assert len(emu.state.interfaces.by_index) == 2  # nothing was created
    await raw.close()


async def test_restart_forgets_everything_and_cuts_clients(emu: Emulator) -> None:
    client = await connect(emu.socket_path)
    await call(client, "create_loopback")
    await call(client, "ip_table_add_del", is_add=True, table={"table_id": 5})
    await emu.restart()
    assert await asyncio.wait_for(client.events.get(), 5) is None  # the reader saw EOF
    client.queue_task.cancel()
    fresh = await connect(emu.socket_path)
    names = [d.interface_name for d in await dump(fresh, "sw_interface_dump")]
    assert names == ["local0", "GigabitEthernet0/8/0"]
    tables = [(d.table.table_id, d.table.is_ip6) for d in await dump(fresh, "ip_table_dump")]
    assert tables == [(0, False), (0, True)]
    assert emu.restarts == 1
    await disconnect(fresh)


def test_times_must_be_positive() -> None:
    from contivctl.testing.vppemu import Faults

    with pytest.raises(ValueError):
        Faults().fail("x", -1, times=0)


# -- random rules (a chaos run's "5 % of requests fail") ------------------------------


async def test_a_random_rule_hits_its_fraction_the_same_way_for_the_same_seed(emu: Emulator, vpp: AsyncClient) -> None:
    async def hits(seed: int) -> list[int]:
        rule = emu.faults.at_random(0.25, message="show_version", retval=-7, seed=seed)
        out = [(await call(vpp, "show_version")).retval for _ in range(200)]
        emu.faults.clear()
        assert (rule.seen, rule.fired) == (200, out.count(-7))
        return out

    first = await hits(3)
    assert set(first) == {0, -7}
    assert 30 <= first.count(-7) <= 70  # 25 % of 200, give or take what a seed draws
    assert await hits(3) == first
    assert await hits(4) != first


async def test_a_random_rule_for_any_message_leaves_dumps_pings_and_the_handshake_alone(
    emu: Emulator, vpp: AsyncClient
) -> None:
    rule = emu.faults.at_random(1.0)
    assert (await call(vpp, "control_ping")).retval == 0
    assert {d.interface_name for d in await dump(vpp, "sw_interface_dump")} == {"local0", "GigabitEthernet0/8/0"}
    other = await connect(emu.socket_path, "other")  # sockclnt_create and get_api_json go through
    assert (await call(other, "show_version")).retval == -1  # VPP's UNSPECIFIED unless told otherwise
    assert (await call(vpp, "create_loopback")).retval == -1
    assert len(emu.state.interfaces.by_index) == 2  # the failed create made nothing
    assert rule.fired == rule.seen == 2
    emu.faults.clear()
    await disconnect(other)


async def test_a_random_rule_passes_what_it_spares_to_the_rules_after_it(emu: Emulator, vpp: AsyncClient) -> None:
    emu.faults.at_random(0.0, message="show_version", retval=-7)
    emu.faults.fail("show_version", -3)
    assert (await call(vpp, "show_version")).retval == -3
    assert emu.faults.report() == [
        {"action": "fail", "message": "show_version", "fired": 0, "retval": -7, "fraction": 0.0, "seen": 1}
    ]


async def test_a_random_delay_and_drop(emu: Emulator, vpp: AsyncClient) -> None:
    emu.faults.at_random(1.0, Action.DELAY, "show_version", seconds=0.2)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert (await call(vpp, "show_version")).retval == 0
    assert loop.time() - t0 >= 0.2
    emu.faults.clear()
    raw = await RawClient.open(emu.socket_path)
    emu.faults.at_random(1.0, Action.DROP_CONNECTION, "create_loopback")
    await raw.send("create_loopback", context=1)
    assert await asyncio.wait_for(raw.reader.read(), 5) == b""
    await raw.close()


def test_random_rules_are_checked() -> None:
    from contivctl.testing.vppemu import Faults

    with pytest.raises(ValueError):
        Faults().at_random(1.5)
    with pytest.raises(ValueError):
        Faults().at_random(0.5, Action.DELAY)


def test_the_command_line_spells_a_random_rule() -> None:
    from contivctl.testing.vppemu.__main__ import fault_spec, parse

    assert fault_spec("fail:0.05") == {"action": Action.FAIL, "message": None, "fraction": 0.05}
    assert fault_spec("fail=-145:0.5:tap_create_v3") == {
        "action": Action.FAIL,
        "message": "tap_create_v3",
        "fraction": 0.5,
        "retval": -145,
    }
    assert fault_spec("delay=0.2:0.01") == {"action": Action.DELAY, "message": None, "fraction": 0.01, "seconds": 0.2}
    assert fault_spec("drop:0.001:")["message"] is None
    for bad in ("fail", "boom:0.1", "fail:2", "delay:0.1", "drop=3:0.1", "fail=x:0.1", "fail:0.1:a:b"):
        with pytest.raises(ValueError):
            fault_spec(bad)
    with pytest.raises(SystemExit):
        parse(["--socket", "/x", "--fault", "boom:0.1"])


async def test_an_emulator_process_injects_until_sigusr1_and_reports(tmp_path: Path) -> None:
    import json
    import signal
    import sys

    sock, report = tmp_path / "vpp.sock", tmp_path / "faults.json"
    argv = [sys.executable, "-m", "contivctl.testing.vppemu", "--socket", str(sock), "--fault-seed", "9"]
    argv += ["--fault", "fail=-7:1:show_version", "--fault", "delay=0.01:0.5", "--fault-report", str(report)]
    proc = await asyncio.create_subprocess_exec(*argv, cwd=ROOT)
    try:
        await until(sock.exists, timeout=30)
        client = await connect(str(sock))
        assert (await call(client, "show_version")).retval == -7
        proc.send_signal(signal.SIGUSR1)
        await until(report.exists)
        assert (await call(client, "show_version")).retval == 0
        rules = json.loads(report.read_text())["faults"]
        assert rules[0] == {
            "action": "fail",
            "message": "show_version",
            "fired": 1,
            "retval": -7,
            "fraction": 1.0,
            "seen": 1,
        }
        assert rules[1]["action"] == "delay" and rules[1]["seen"] == 0  # show_version was the first rule's
        await disconnect(client)
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert len(json.loads(report.read_text())["faults"]) == 2  # at exit: the cleared rules' counts stay
