"""The socket protocol: what any VPP client relies on, independent of the object model."""

from __future__ import annotations

import asyncio
import os

from contivctl.testing.vppemu import Emulator, apidefs

from .helpers import AsyncClient, RawClient, call, connect, disconnect, dump, next_event


def test_message_ids_follow_vpp_rules() -> None:
    defs = apidefs.load()
    assert defs.modules["memclnt"] == (1, 28)
    assert defs.by_name["sockclnt_create"].msg_id == 15
    assert defs.by_name["sockclnt_create_reply"].msg_id == 16
    assert defs.by_name["control_ping"].name_crc == "control_ping_51077d14"
    ids = [s.msg_id for s in defs.by_name.values()]
    assert sorted(ids) == list(range(1, len(ids) + 1))
    # one contiguous block per module
    for first, count in defs.modules.values():
        block = [s for s in defs.by_name.values() if first <= s.msg_id < first + count]
        assert len(block) == count


async def test_async_client_connects_with_full_table(emu: Emulator, vpp: AsyncClient) -> None:
    assert vpp.socket_index & 0x80000000
    assert len(vpp.message_table) == len(emu.defs.by_name)
    assert vpp.message_table["sw_interface_dump_aa610c27"] == emu.defs.by_name["sw_interface_dump"].msg_id
    reply = await call(vpp, "show_version")
    assert reply.retval == 0 and reply.version.startswith("26.06")


async def test_control_ping_echoes_client_and_pid(vpp: AsyncClient) -> None:
    reply = await call(vpp, "control_ping")
    assert reply.client_index == vpp.socket_index
    assert reply.vpe_pid == os.getpid()


async def test_dump_ends_with_control_ping_reply(vpp: AsyncClient) -> None:
    ping, details = await call(vpp, "sw_interface_dump", sw_if_index=0xFFFFFFFF)
    assert type(ping).__name__ == "control_ping_reply"
    assert [d.interface_name for d in details] == ["local0", "GigabitEthernet0/8/0"]


async def test_pipelined_requests_are_answered_by_context(vpp: AsyncClient) -> None:
    futures = [vpp.api.create_loopback_instance(is_specified=True, user_instance=i) for i in range(50)]
    replies = await asyncio.wait_for(asyncio.gather(*futures), 10)
    assert [r.retval for r in replies] == [0] * 50
    names = {d.sw_if_index: d.interface_name for d in await dump(vpp, "sw_interface_dump")}
    assert [names[r.sw_if_index] for r in replies] == [f"loop{i}" for i in range(50)]


async def test_unknown_and_truncated_messages_are_dropped(emu: Emulator) -> None:
    raw = await RawClient.open(emu.socket_path)
    await raw.send_body(b"\xff\xf0" + bytes(20))  # unknown id
    body = raw.pack("sw_interface_set_flags", context=5, sw_if_index=0, flags=1)
    await raw.send_body(body[:-3])  # truncated
    await raw.send("control_ping", context=6)
    reply = await raw.recv()
    assert type(reply).__name__ == "control_ping_reply" and reply.context == 6
    await raw.close()


async def test_request_with_foreign_client_index_is_dropped(emu: Emulator) -> None:
    raw = await RawClient.open(emu.socket_path)
    await raw.send("show_version", context=7, client_index=raw.handle + 1)
    await raw.send("control_ping", context=8)
    reply = await raw.recv()
    assert reply.context == 8
    await raw.close()


async def test_nothing_is_served_before_sockclnt_create(emu: Emulator) -> None:
    reader, writer = await asyncio.open_unix_connection(emu.socket_path)
    raw = RawClient(reader, writer)
    await raw.send("control_ping", context=1, client_index=0)
    await raw.send("sockclnt_create", context=124, name="late")
    reply = await raw.recv()
    assert type(reply).__name__ == "sockclnt_create_reply" and reply.context == 124
    await raw.close()


async def test_sockclnt_delete_answers_then_closes(emu: Emulator) -> None:
    raw = await RawClient.open(emu.socket_path)
    assert raw.handle in emu.clients
    await raw.send("sockclnt_delete", context=3, index=raw.handle)
    reply = await raw.recv()
    assert reply.response == 1
    assert await asyncio.wait_for(raw.reader.read(), 5) == b""
    assert raw.handle not in emu.clients
    await raw.close()


async def test_sockclnt_delete_of_other_handle_is_refused(emu: Emulator) -> None:
    raw = await RawClient.open(emu.socket_path)
    await raw.send("sockclnt_delete", context=3, index=raw.handle ^ 1)
    assert (await raw.recv()).response == -1
    assert raw.handle in emu.clients
    await raw.close()


async def test_peer_close_drops_registration_and_subscriptions(emu: Emulator) -> None:
    client = await connect(emu.socket_path)
    await call(client, "want_interface_events", enable_disable=1, pid=1)
    assert client.socket_index in emu.clients
    client.writer.close()
    await client.writer.wait_closed()
    deadline = asyncio.get_running_loop().time() + 5
    while client.socket_index in emu.clients:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    client.socket_task.cancel()
    client.queue_task.cancel()


async def test_interface_events_have_no_context_and_reach_subscribers(emu: Emulator, vpp: AsyncClient) -> None:
    other = await connect(emu.socket_path, "bystander")
    await call(vpp, "want_interface_events", enable_disable=1, pid=4242)
    lo = await call(vpp, "create_loopback")
    await call(vpp, "sw_interface_set_flags", sw_if_index=lo.sw_if_index, flags=1)
    ev = await next_event(vpp, "sw_interface_event")
    assert not hasattr(ev, "context")
    assert (ev.sw_if_index, int(ev.flags), ev.deleted, ev.pid) == (lo.sw_if_index, 3, False, 4242)
    assert ev.client_index == vpp.socket_index
    await call(vpp, "delete_loopback", sw_if_index=lo.sw_if_index)
    gone = await next_event(vpp, "sw_interface_event")
    assert gone.deleted and gone.sw_if_index == lo.sw_if_index
    await call(other, "control_ping")
    assert other.events.empty()
    await disconnect(other)


async def test_unmodelled_request_answers_unimplemented(emu: Emulator, vpp: AsyncClient) -> None:
    reply = await call(vpp, "sw_interface_set_promisc", sw_if_index=1, promisc_on=True)
    assert reply.retval == -9
    assert "sw_interface_set_promisc" in emu.unimplemented
    assert await dump(vpp, "punt_socket_dump", type=0) == []


async def test_cursor_stream_pages_until_done(emu: Emulator, vpp: AsyncClient) -> None:
    await call(vpp, "nat44_ed_plugin_enable_disable", enable=True)
    loops = [(await call(vpp, "create_loopback")).sw_if_index for _ in range(70)]
    for idx in loops:
        r = await call(vpp, "nat44_ed_add_del_output_interface", is_add=True, sw_if_index=idx)
        assert r.retval == 0
    first, page1 = await call(vpp, "nat44_ed_output_interface_get", cursor=0)
    assert first.retval == -165 and len(page1) == 64
    last, page2 = await call(vpp, "nat44_ed_output_interface_get", cursor=first.cursor)
    assert last.retval == 0 and [d.sw_if_index for d in page1 + page2] == loops


async def test_api_versions_and_first_msg_id(emu: Emulator, vpp: AsyncClient) -> None:
    versions = {v.name: (v.major, v.minor, v.patch) for v in (await call(vpp, "api_versions")).api_versions}
    assert versions["interface"] == (3, 2, 4) and versions["nat44_ed"] == (5, 5, 0)
    r = await call(vpp, "get_first_msg_id", name="tapv2")
    assert r.retval == 0 and r.first_msg_id == emu.defs.modules["tapv2"][0]
    assert (await call(vpp, "get_first_msg_id", name="nonexistent")).retval == -1
