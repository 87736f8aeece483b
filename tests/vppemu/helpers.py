"""Clients for driving the emulator in tests.

`AsyncClient` is vpp_papi's asyncio client with its reader fixed: the 2.4.2
reader logs `item.context` before matching and so dies on context-less events
(sw_interface_event, dhcp_compl_event). Everything else is vpp_papi as shipped.
`RawClient` speaks the framing by hand, for what papi cannot do on purpose
(unknown ids, truncated bodies, foreign client_index).
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from vpp_papi import vpp_papi_async

from contivctl.testing.vppemu import apidefs

TIMEOUT = 10.0
HDR = struct.Struct(">QII")


class AsyncClient(vpp_papi_async.VPPApiClient):  # type: ignore[misc]
    async def socket_reader(self, requests: dict[int, Any], event_queue: asyncio.Queue[Any]) -> None:
        while True:
            try:
                item = await self._read()
            except (asyncio.IncompleteReadError, ConnectionError):
                event_queue.put_nowait(None)  # EOF marker for tests
                return
            except asyncio.CancelledError:
                return
            context = getattr(item, "context", None)
            req = requests.get(context) if context is not None else None
            if req is None:
                event_queue.put_nowait(item)
                continue
            future, eof_name, details_name, collected = req
            name = type(item).__name__
            if eof_name:
                if name == eof_name:
                    future.set_result((item, collected))
                    del requests[context]
                elif name == details_name or details_name is None:
                    collected.append(item)
                else:
                    event_queue.put_nowait(item)
            else:
                future.set_result(item)
                del requests[context]


async def connect(socket_path: str, name: str = "test") -> AsyncClient:
    client = AsyncClient(server_address=socket_path)
    client.events = asyncio.Queue()
    rc = await asyncio.wait_for(client.connect(name, client.events), TIMEOUT)
    assert rc == 0
    return client


async def disconnect(client: AsyncClient) -> None:
    await asyncio.wait_for(client.disconnect(), TIMEOUT)


async def call(client: AsyncClient, msg: str, /, **kwargs: Any) -> Any:
    return await asyncio.wait_for(getattr(client.api, msg)(**kwargs), TIMEOUT)


async def dump(client: AsyncClient, msg: str, /, **kwargs: Any) -> list[Any]:
    _ping, details = await call(client, msg, **kwargs)
    return list(details)


async def next_event(client: AsyncClient, name: str) -> Any:
    """The next queued message called `name`, skipping others."""
    while True:
        item = await asyncio.wait_for(client.events.get(), TIMEOUT)
        if item is not None and type(item).__name__ == name:
            return item


LABELS = [{}] * 16


def path(**kw: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"sw_if_index": 0xFFFFFFFF, "table_id": 0, "label_stack": LABELS}
    nh = kw.pop("nh", None)
    if nh is not None:
        p["nh"] = {"address": {"ip6" if ":" in nh else "ip4": nh}}
    p.update(kw)
    return p


def route(prefix: str, *paths: dict[str, Any], table_id: int = 0) -> dict[str, Any]:
    return {"table_id": table_id, "prefix": prefix, "n_paths": len(paths), "paths": list(paths)}


class RawClient:
    """Hand-made frames over the same socket, packed with vpp_papi's serialiser."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.defs = apidefs.load()
        self.handle = 0

    @classmethod
    async def open(cls, socket_path: str) -> RawClient:
        r, w = await asyncio.open_unix_connection(socket_path)
        c = cls(r, w)
        await c.send("sockclnt_create", context=124, name="raw")
        c.handle = (await c.recv()).index
        return c

    def pack(self, msg: str, /, **fields: Any) -> bytes:
        spec = self.defs.by_name[msg]
        fields.setdefault("client_index", self.handle)
        return bytes(spec.msg.pack(dict(fields, _vl_msg_id=spec.msg_id)))

    async def send_body(self, body: bytes) -> None:
        self.writer.write(HDR.pack(0, len(body), 0) + body)
        await self.writer.drain()

    async def send(self, msg: str, /, **fields: Any) -> None:
        await self.send_body(self.pack(msg, **fields))

    async def recv(self) -> Any:
        hdr = await asyncio.wait_for(self.reader.readexactly(16), TIMEOUT)
        (_, length, _) = HDR.unpack(hdr)
        body = await asyncio.wait_for(self.reader.readexactly(length), TIMEOUT)
        msg_id = struct.unpack_from(">H", body)[0]
        spec = self.defs.by_id[msg_id]
        assert spec is not None
        msg, _ = spec.msg.unpack(body)
        return msg

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
