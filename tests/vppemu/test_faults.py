"""Fault injection and restart."""

from __future__ import annotations

import asyncio

import pytest

from contivctl.testing.vppemu import Emulator

from .helpers import AsyncClient, RawClient, call, connect, disconnect, dump


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
