"""vpp_papi's asyncio client, with the behaviour the agent cannot live without.

vpp_papi 2.4.2's async client is used as shipped for framing, packing,
decoding and the sockclnt handshake. This subclass changes four things, by
overriding methods rather than patching the library:

- `socket_reader`: the library's reader reads `item.context` before matching,
  so a context-less event (sw_interface_event, dhcp_compl_event) kills it and
  every later call hangs. Here events go to the event queue, and EOF or a
  read error fails every pending request at once with a retriable
  `VPPConnectionError` and tells the owner (`on_lost`), instead of leaving
  futures that never resolve.
- `queue_worker`: writes everything queued, then drains once, so pipelined
  requests leave in one burst; a write error is handled like EOF.
- `get_api_definitions`: uses the definitions installed with VPP (loaded once
  by the owner) instead of downloading ~800 KB of JSON on every connect.
- `_register_functions`: tolerates messages VPP does not have (the library
  raises KeyError mid-connect); the owner then reports all of them at once.

It adds `send`, which packs a request with the library and writes it to
the socket at once (the library queues it for a writer task), and
`dump_group`: old-style dumps sent back to back and ended by one control
ping, where the library sends a ping after every dump.

The library never sets `connected`; the owner keeps its own state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vpp_papi import vpp_papi_async

from contivctl.dataplane.vpp.apidefs import ApiDefinitions
from contivctl.errors import VPPConnectionError

log = logging.getLogger(__name__)

#: (future, name of the message that ends the reply, name of details messages, details so far)
Request = tuple["asyncio.Future[Any] | None", "str | None", "str | None", list[Any]]
#: the end message of a dump of a group: none, the group's ping ends it
_NO_END = "-"


class PapiClient(vpp_papi_async.VPPApiClient):  # type: ignore[misc]
    def __init__(
        self,
        server_address: str,
        defs: ApiDefinitions,
        on_lost: Callable[[BaseException], None],
    ) -> None:
        super().__init__(server_address=server_address)
        self._defs = defs
        self._on_lost = on_lost
        self.requests: dict[int, Request] = {}
        self.lost: BaseException | None = None
        self.writer: asyncio.StreamWriter | None = None

    # -- definitions ------------------------------------------------------

    async def get_api_definitions(self) -> None:
        self.messages.update(self._defs.messages)
        self.services.update(self._defs.services)

    def _register_functions(self) -> None:
        self.id_names = [None] * (self.vpp_dictionary_maxid + 1)
        self.id_msgdef = [None] * (self.vpp_dictionary_maxid + 1)
        self._api = vpp_papi_async.VppApiDynamicMethodHolder()
        for name, msg in self.messages.items():
            i = self.message_table.get(name + "_" + msg.crc[2:], 0)
            if i <= 0:
                continue
            self.id_msgdef[i] = msg
            self.id_names[i] = name
            if name in self.services:
                f = self.make_function(msg, i, self.services[name])
                setattr(self._api, name, vpp_papi_async.FuncWrapper(f))

    def function(self, name: str) -> Callable[..., asyncio.Future[Any]] | None:
        api = getattr(self, "_api", None)
        return getattr(api, name, None) if api is not None else None

    # -- requests written straight to the socket ------------------------------

    def send(self, name: str, fields: Mapping[str, Any]) -> tuple[int, asyncio.Future[Any]]:
        """Pack one request and write it to the socket now; returns its context and the future of its answer.

        The answer is the reply, or for an old-style dump (ended by a control
        ping sent right behind it) the ping's reply and the details. Unlike the
        library's path (a queue and a writer task per request), nothing waits
        for another task to run before the request leaves.
        """
        msgdef = self.messages[name]
        service = self.services[name]
        context = self.get_context()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        data = self._frame(name, msgdef, fields, context)
        if not service.get("stream"):
            self.requests[context] = (fut, None, None, [])
        elif "stream_msg" in service:
            self.requests[context] = (fut, service["reply"], service["stream_msg"], [])
        else:
            self.requests[context] = (fut, "control_ping_reply", None, [])
            data += self._ping(context)
        self._write(data)
        return context, fut

    def dump_group(self, dumps: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[list[int], asyncio.Future[Any]]:
        """Send old-style dumps back to back, then one control ping; returns their contexts and the ping's future.

        VPP answers a connection's requests in order, so when the ping's reply
        arrives every dump before it is complete: its details are in
        ``self.requests[context][3]``. The caller removes those entries.
        """
        contexts: list[int] = []
        chunks: list[bytes] = []
        for name, fields in dumps:
            context = self.get_context()
            chunks.append(self._frame(name, self.messages[name], fields, context))
            # never ended by a message of its own: it collects until the ping answers
            self.requests[context] = (None, _NO_END, None, [])
            contexts.append(context)
        ping = self.get_context()
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.requests[ping] = (done, "control_ping_reply", None, [])
        chunks.append(self._ping(ping))
        contexts.append(ping)
        self._write(b"".join(chunks))
        return contexts, done

    def _frame(self, name: str, msgdef: Any, fields: Mapping[str, Any], context: int) -> bytes:
        args = dict(fields, context=context, client_index=self.socket_index)
        args["_vl_msg_id"] = self.message_table[name + "_" + msgdef.crc[2:]]
        self.validate_args(msgdef, args)
        return self._framed(msgdef.pack(args))

    def _ping(self, context: int) -> bytes:
        args = {"_vl_msg_id": self.control_ping_index, "client_index": self.socket_index, "context": context}
        return self._framed(self.control_ping_msgdef.pack(args))

    def _framed(self, body: bytes) -> bytes:
        """A packed message behind the socket transport's header."""
        return bytes(self.header_struct.pack(0, len(body), 0)) + body

    def _write(self, data: bytes) -> None:
        # the transport sends at once or buffers; a broken socket shows up on the reader's side
        assert self.writer is not None
        self.writer.write(data)

    # -- I/O ----------------------------------------------------------------

    async def queue_worker(self, requests: dict[int, Request]) -> None:
        self.requests = requests
        queue = self.message_queue
        while True:
            item = await queue.get()
            batch = [item]
            while not queue.empty():
                batch.append(queue.get_nowait())
            writer = self.writer
            for it in batch:
                if it is None:
                    return
                if self.lost is not None:
                    if it.future is not None and not it.future.done():
                        it.future.set_exception(VPPConnectionError(f"connection to VPP lost: {self.lost}"))
                    continue
                if it.context not in requests:
                    requests[it.context] = (it.future, it.details_msg, it.eof_stream, [])
                assert writer is not None
                writer.write(self.header_struct.pack(0, len(it.b), 0) + it.b)
            if self.lost is None and writer is not None:
                try:
                    await writer.drain()
                except (ConnectionError, OSError) as exc:
                    self._lose(exc)

    async def socket_reader(self, requests: dict[int, Request], event_queue: asyncio.Queue[Any]) -> None:
        self.requests = requests
        while True:
            try:
                item = await self._read()
            except asyncio.CancelledError:
                return
            except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
                self._lose(exc)
                return
            except vpp_papi_async.VPPIOError:
                log.exception("undecodable message from VPP; dropped")
                continue
            if item is None:
                continue
            context = getattr(item, "context", None)
            req = requests.get(context) if isinstance(context, int) else None
            if req is None or not isinstance(context, int):
                event_queue.put_nowait(item)
                continue
            future, eof_name, details_name, collected = req
            name = type(item).__name__
            if eof_name:
                if name == eof_name:
                    del requests[context]
                    if future is not None and not future.done():
                        future.set_result((item, collected))
                elif name == details_name or details_name is None:
                    collected.append(item)
                else:
                    event_queue.put_nowait(item)
            else:
                del requests[context]
                if future is not None and not future.done():
                    future.set_result(item)

    def _lose(self, exc: BaseException) -> None:
        if self.lost is not None:
            return
        self.lost = exc
        err = VPPConnectionError(f"connection to VPP lost: {type(exc).__name__}: {exc}".rstrip(": "))
        pending, self.requests = self.requests, {}
        for future, *_ in pending.values():
            if future is not None and not future.done():
                future.set_exception(err)
        pending.clear()
        self._on_lost(exc)

    def abort(self) -> None:
        """Stop the reader and writer tasks and close the socket, without a goodbye."""
        if self.lost is None:
            self.lost = ConnectionAbortedError("closed by the agent")
            for future, *_ in self.requests.values():
                if future is not None and not future.done():
                    future.set_exception(VPPConnectionError("connection to VPP closed"))
            self.requests.clear()
        for name in ("queue_task", "socket_task"):
            task = getattr(self, name, None)
            if task is not None:
                task.cancel()
        if self.writer is not None:
            self.writer.close()
