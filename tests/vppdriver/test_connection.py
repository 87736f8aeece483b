"""The connection: API check at connect, deadlines, lost connections, reconnects, retvals, pipelining."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from contivctl.dataplane.vpp import apidefs
from contivctl.dataplane.vpp.connection import Reconnected, VPPConnection
from contivctl.errors import (
    DataplaneError,
    VPPApiError,
    VPPConnectionError,
    VPPIncompatible,
    VPPTimeout,
)
from contivctl.testing.vppemu import Emulator, running_emulator

from .conftest import API_DIR, NIC, connection


async def eventually(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `pred` until it holds, failing after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.01)


def _edit_api(dst: Path, change_crc: str | None = None, drop: str | None = None) -> str:
    """A copy of the API tree with one message's CRC changed and/or one message removed."""
    shutil.copytree(API_DIR, dst)
    for f in dst.rglob("*.api.json"):
        j = json.loads(f.read_text())
        msgs = j.get("messages", [])
        hit = False
        for m in list(msgs):
            if m[0] == change_crc:
                m[-1]["crc"] = "0xdeadbeef"
                hit = True
            if m[0] == drop:
                msgs.remove(m)
                hit = True
        if hit:
            f.write_text(json.dumps(j))
    return str(dst)


async def test_vpp_with_changed_and_missing_messages_is_refused_in_one_error(sockdir: Path) -> None:
    served = _edit_api(sockdir / "api", change_crc="tap_create_v3", drop="stn_add_del_rule")
    async with running_emulator(sockdir, nics=[NIC], api_dir=served) as emu:
        conn = connection(emu)
        with pytest.raises(VPPIncompatible) as err:
            await conn.connect()
        e = err.value
        assert e.missing == ("stn_add_del_rule",)
        assert e.changed == (("tap_create_v3", "3f3fd1df", "deadbeef"),)
        assert e.version == "26.06-release"
        assert "stn_add_del_rule" in str(e) and "tap_create_v3" in str(e) and "26.06" in str(e)
        assert not e.retriable
        assert not conn.connected
        await eventually(lambda: not emu.clients)  # the refused client hung up


async def test_installed_definitions_that_differ_are_refused(sockdir: Path, emu: Emulator) -> None:
    local = _edit_api(sockdir / "api", change_crc="ip_route_add_del", drop="bvi_create")
    conn = VPPConnection(emu.socket_path, api_dir=local, timeout=2)
    with pytest.raises(VPPIncompatible) as err:
        await conn.connect()
    assert "the API definitions in" in str(err.value)
    assert err.value.missing == ("bvi_create",)
    assert [c[0] for c in err.value.changed] == ["ip_route_add_del"]


async def test_empty_api_dir(sockdir: Path, emu: Emulator) -> None:
    (sockdir / "empty").mkdir()
    with pytest.raises(VPPIncompatible):
        await VPPConnection(emu.socket_path, api_dir=str(sockdir / "empty")).connect()


def test_pinned_crcs_match_the_shipped_definitions() -> None:
    apidefs.check_definitions(apidefs.load(API_DIR))


async def test_no_socket_is_a_retriable_connection_error(sockdir: Path) -> None:
    conn = VPPConnection(str(sockdir / "nothing.sock"), api_dir=API_DIR, timeout=1)
    with pytest.raises(VPPConnectionError) as err:
        await conn.connect()
    assert err.value.retriable
    with pytest.raises(VPPConnectionError):
        await conn.start(wait=0.05)


async def test_unanswered_request_times_out(emu: Emulator) -> None:
    conn = connection(emu, timeout=0.3)
    await conn.connect()
    emu.faults.ignore("show_version")
    with pytest.raises(VPPTimeout) as err:
        await conn.call("show_version")
    assert err.value.retriable and err.value.name == "show_version"
    assert (await conn.call("show_version")).retval == 0  # the connection is still usable
    await conn.close()


async def test_retval_is_named(vpp: VPPConnection) -> None:
    with pytest.raises(VPPApiError) as err:
        await vpp.call("sw_interface_set_flags", sw_if_index=99, flags=1)
    e = err.value
    assert (e.message, e.retval, e.retval_name) == ("sw_interface_set_flags", -2, "INVALID_SW_IF_INDEX")
    assert not e.retriable
    assert "INVALID_SW_IF_INDEX" in str(e)


async def test_drop_fails_every_pending_call_at_once(emu: Emulator) -> None:
    conn = connection(emu, timeout=30)
    await conn.connect()
    emu.faults.delay(0.2, "show_version", times=1)
    emu.faults.drop_connection("create_loopback")
    calls = [asyncio.ensure_future(conn.call("show_version")) for _ in range(5)]
    calls.append(asyncio.ensure_future(conn.call("create_loopback")))
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors and all(isinstance(e, VPPConnectionError) and e.retriable for e in errors)
    with pytest.raises(VPPConnectionError):
        await conn.call("control_ping")
    await conn.close()


async def test_reconnect_after_drop_keeps_state_and_is_reported(emu: Emulator) -> None:
    events: asyncio.Queue[Reconnected] = asyncio.Queue()
    conn = connection(emu, on_reconnect=events.put_nowait)
    await conn.start(wait=5)
    loop = await conn.call("create_loopback")
    await conn.call("sw_interface_tag_add_del", is_add=True, sw_if_index=loop.sw_if_index, tag="contiv:x")
    emu.faults.drop_connection("show_version")
    with pytest.raises(VPPConnectionError):
        await conn.call("show_version")
    ev = await asyncio.wait_for(events.get(), 5)
    assert not ev.restarted
    assert conn.connected and (await conn.call("show_version")).retval == 0
    await conn.close()


async def test_restart_is_detected_and_reported(emu: Emulator) -> None:
    events: asyncio.Queue[Reconnected] = asyncio.Queue()
    conn = connection(emu, on_reconnect=events.put_nowait)
    await conn.start(wait=5)
    life = conn.lifetime
    loop = await conn.call("create_loopback")
    await conn.call("sw_interface_tag_add_del", is_add=True, sw_if_index=loop.sw_if_index, tag="contiv:x")
    await emu.restart()
    ev = await asyncio.wait_for(events.get(), 5)
    assert ev.restarted and "gone" in ev.reason
    assert conn.lifetime == life + 1
    await conn.close()


async def test_pipelined_calls_and_dumps(vpp: VPPConnection) -> None:
    replies = await vpp.call_many([("create_loopback", {}) for _ in range(200)])
    indices = [r.sw_if_index for r in replies]
    assert len(set(indices)) == 200
    dumps = await vpp.dump_many([("sw_interface_dump", {"sw_if_index": i}) for i in indices])
    assert [d[0].sw_if_index for d in dumps] == indices
    with pytest.raises(VPPApiError):
        await vpp.call_many([("control_ping", {}), ("delete_loopback", {"sw_if_index": 9999})])
    assert (await vpp.call("control_ping")).retval == 0


async def test_events_without_context_do_not_break_the_reader(vpp: VPPConnection, emu: Emulator) -> None:
    seen: list[str] = []
    vpp.add_event_listener(lambda name, _msg: seen.append(name))
    await vpp.call("want_interface_events", enable_disable=1, pid=1)
    loop = await vpp.call("create_loopback")
    await vpp.call("sw_interface_set_flags", sw_if_index=loop.sw_if_index, flags=1)
    await eventually(lambda: "sw_interface_event" in seen)
    assert (await vpp.call("show_version")).retval == 0


def test_errors_belong_to_the_dataplane_branch() -> None:
    for cls in (VPPApiError, VPPConnectionError, VPPIncompatible, VPPTimeout):
        assert issubclass(cls, DataplaneError)
