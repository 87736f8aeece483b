"""VPP's binary-API socket protocol, server side.

Framing: a 16-byte header (`>QII`, only the u32 length matters) and a body that
starts with the big-endian u16 message id. One connection's requests are
handled strictly in order, like VPP's single API thread. Requests are handled
inline in `data_received` and all replies produced by one read are written with
one call; only an async handler (kernel work) or an injected delay makes the
connection park later requests in a backlog until it is done.

The emulator owns the server socket and the connections; a connection
reaches back only through :class:`Host`, so this module does not import the
emulator.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import struct
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .apidefs import SOCKCLNT_CREATE_ID, ApiDefinitions, MessageSpec
from .errors import Retval, VppApiError
from .faults import Action, Fault, Faults
from .handlers.base import HANDLERS, Fields, Handler

if TYPE_CHECKING:
    from .kernel import Kernel
    from .state import VppState

log = logging.getLogger(__name__)

HDR = struct.Struct(">QII")
_LEN = struct.Struct(">I")
SOCKET_CLIENT_BIT = 0x80000000

PROGRAM = "vpe"
VERSION = "26.06-release"
BUILD_DATE = "2026-06-21T00:00:00"


def frame(spec: MessageSpec, fields: Fields) -> bytes:
    fields["_vl_msg_id"] = spec.msg_id
    body: bytes = spec.msg.pack(fields)
    return HDR.pack(0, len(body), 0) + body


@attrs.define(slots=True)
class Route:
    """Everything needed to serve one request id, resolved once per emulator."""

    spec: MessageSpec
    handler: Handler | None
    builtin: str | None


def build_routes(defs: ApiDefinitions) -> list[Route | None]:
    routes: list[Route | None] = []
    for spec in defs.by_id:
        if spec is None or spec.reply is None:
            routes.append(None)
            continue
        builtin = spec.name if spec.name in Connection.BUILTINS else None
        routes.append(Route(spec, HANDLERS.get(spec.name), builtin))
    return routes


@attrs.define
class Subscription:
    pid: int


class Host(Protocol):
    """What a connection needs of the emulator serving it."""

    @property
    def state(self) -> VppState: ...

    @property
    def kernel(self) -> Kernel: ...

    @property
    def kernel_lock(self) -> asyncio.Lock: ...

    @property
    def defs(self) -> ApiDefinitions: ...

    @property
    def message_table(self) -> list[dict[str, object]]: ...

    @property
    def routes(self) -> list[Route | None]: ...

    @property
    def faults(self) -> Faults: ...

    @property
    def connections(self) -> set[Connection]: ...

    @property
    def unimplemented(self) -> set[str]: ...

    def register(self, conn: Connection, name: str) -> int: ...

    def forget(self, conn: Connection) -> None: ...

    def publish(self, topic: str, event: str, fields: Fields) -> None: ...

    def send_to(self, handle: int, event: str, fields: Fields) -> bool: ...

    def handler_failed(self, name: str, err: BaseException) -> None: ...


class Connection(asyncio.Protocol):
    """One API client socket; also the `Context` its handlers see."""

    BUILTINS = frozenset({"sockclnt_create", "sockclnt_delete", "control_ping", "get_api_json", "memclnt_keepalive"})

    def __init__(self, emu: Host) -> None:
        self.emu = emu
        self.transport: asyncio.Transport | None = None
        self.handle = 0
        self.name = ""
        self.subscriptions: dict[str, Subscription] = {}
        self._buf = bytearray()
        self._backlog: collections.deque[bytes] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closing = False

    # ---- Context
    @property
    def state(self) -> VppState:
        return self.emu.state

    @property
    def kernel(self) -> Kernel:
        return self.emu.kernel

    @property
    def defs(self) -> ApiDefinitions:
        return self.emu.defs

    def subscribe(self, topic: str, enable: bool, pid: int) -> None:
        if enable:
            self.subscriptions[topic] = Subscription(pid)
        else:
            self.subscriptions.pop(topic, None)

    def publish(self, topic: str, event: str, fields: Fields) -> None:
        self.emu.publish(topic, event, fields)

    def send_to(self, handle: int, event: str, fields: Fields) -> bool:
        return self.emu.send_to(handle, event, fields)

    # ---- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.emu.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.emu.forget(self)
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        off = 0
        n = len(buf)
        out: list[bytes] = []
        while n - off >= 16:
            length = _LEN.unpack_from(buf, off + 8)[0]
            end = off + 16 + length
            if end > n:
                break
            body = bytes(buf[off + 16 : end])
            off = end
            if self._backlog is not None:
                self._backlog.append(body)
                continue
            pending = self._dispatch(body, out)
            if pending is not None:
                self._flush(out)
                self._backlog = collections.deque()
                self._worker = asyncio.get_running_loop().create_task(self._drain(pending))
        if off:
            del buf[:off]
        self._flush(out)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self._closing:
            self.transport.write(data)

    def _flush(self, out: list[bytes]) -> None:
        if out:
            self.write(b"".join(out))
            out.clear()

    def close(self, abort: bool = False) -> None:
        self._closing = True
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()

    async def _drain(self, first: Coroutine[Any, Any, None]) -> None:
        """Finish the message that went async, then everything queued behind it, in order."""
        out: list[bytes] = []
        try:
            await first
            backlog = self._backlog
            while backlog and not self._closing:
                body = backlog.popleft()
                pending = self._dispatch(body, out)
                self._flush(out)
                if pending is not None:
                    await pending
        finally:
            self._backlog = None
            self._flush(out)

    # ---- dispatch
    def _dispatch(self, body: bytes, out: list[bytes]) -> Coroutine[Any, Any, None] | None:
        if len(body) < 2:
            return None
        msg_id = (body[0] << 8) | body[1]
        routes = self.emu.routes
        route = routes[msg_id] if msg_id < len(routes) else None
        if route is None or len(body) < route.spec.size:
            log.warning("dropping message id %d (%d bytes): unknown or truncated", msg_id, len(body))
            return None
        if msg_id != SOCKCLNT_CREATE_ID and self.handle == 0:
            return None  # VPP finds no registration and drops it silently
        faults = self.emu.faults
        if faults.active:
            fault = faults.take(route.spec.name, plain=route.builtin is None and not route.spec.stream)
            if fault is not None:
                return self._faulted(route, body, fault)
        msg, _ = route.spec.msg.unpack(body)
        if msg_id != SOCKCLNT_CREATE_ID and msg.client_index != self.handle:
            return None
        if route.builtin is not None:
            self._builtin(route, msg, out)
            return None
        handler = route.handler
        if handler is None:
            out.append(self._unimplemented(route.spec, msg))
            return None
        if handler.is_async:
            return self._run_async(route, handler, msg)
        self._run(route, handler, msg, out)
        return None

    def _run(self, route: Route, handler: Handler, msg: Any, out: list[bytes]) -> None:
        spec = route.spec
        reply = spec.reply
        assert reply is not None
        ctx = msg.context
        try:
            result = handler.fn(self, msg)
            if handler.kind == "reply":
                fields: Fields = result if result is not None else {}
                fields["context"] = ctx
                fields.setdefault("retval", 0)
                out.append(frame(reply, fields))
            elif handler.kind == "dump":
                for details in result:
                    details["context"] = ctx
                    out.append(frame(reply, details))
            else:
                final, details_list = result
                assert spec.stream_msg is not None
                for details in details_list:
                    details["context"] = ctx
                    out.append(frame(spec.stream_msg, details))
                final["context"] = ctx
                final.setdefault("retval", 0)
                out.append(frame(reply, final))
        except VppApiError as e:
            if handler.kind != "dump":
                out.append(self._error_reply(reply, ctx, e))
        except Exception as e:
            self.emu.handler_failed(spec.name, e)
            if handler.kind != "dump":
                out.append(self._error_reply(reply, ctx, VppApiError(Retval.UNSPECIFIED, repr(e))))

    async def _run_async(self, route: Route, handler: Handler, msg: Any) -> None:
        reply = route.spec.reply
        assert reply is not None
        try:
            async with self.emu.kernel_lock:
                result = await handler.fn(self, msg)
            fields: Fields = result if result is not None else {}
            fields["context"] = msg.context
            fields.setdefault("retval", 0)
            self.write(frame(reply, fields))
        except VppApiError as e:
            self.write(self._error_reply(reply, msg.context, e))
        except Exception as e:
            self.emu.handler_failed(route.spec.name, e)
            self.write(self._error_reply(reply, msg.context, VppApiError(Retval.UNSPECIFIED, repr(e))))

    async def _faulted(self, route: Route, body: bytes, fault: Fault) -> None:
        if fault.action is Action.DELAY:
            await asyncio.sleep(fault.seconds)
            out: list[bytes] = []
            pending = self._dispatch_unfaulted(route, body, out)
            self._flush(out)
            if pending is not None:
                await pending
        elif fault.action is Action.DROP_CONNECTION:
            self.close(abort=True)
        elif fault.action is Action.FAIL:
            msg, _ = route.spec.msg.unpack(body)
            assert route.spec.reply is not None
            e = VppApiError(Retval.UNSPECIFIED)
            e.retval = fault.retval  # type: ignore[assignment]
            self.write(self._error_reply(route.spec.reply, msg.context, e))
        # Action.IGNORE: no reply at all

    def _dispatch_unfaulted(self, route: Route, body: bytes, out: list[bytes]) -> Coroutine[Any, Any, None] | None:
        msg, _ = route.spec.msg.unpack(body)
        if route.builtin is not None:
            self._builtin(route, msg, out)
            return None
        if route.handler is None:
            out.append(self._unimplemented(route.spec, msg))
            return None
        if route.handler.is_async:
            return self._run_async(route, route.handler, msg)
        self._run(route, route.handler, msg, out)
        return None

    def _error_reply(self, reply: MessageSpec, context: int, e: VppApiError) -> bytes:
        fields: Fields = dict(e.fields)
        fields["context"] = context
        fields["retval"] = int(e.retval)
        return frame(reply, fields)

    def _unimplemented(self, spec: MessageSpec, msg: Any) -> bytes:
        self.emu.unimplemented.add(spec.name)
        assert spec.reply is not None
        if spec.stream and spec.stream_msg is None:
            return b""  # an old-style dump of something not modelled: an empty list
        log.warning("%s is not modelled by the emulator; answering UNIMPLEMENTED", spec.name)
        return self._error_reply(spec.reply, msg.context, VppApiError(Retval.UNIMPLEMENTED))

    # ---- memclnt
    def _builtin(self, route: Route, msg: Any, out: list[bytes]) -> None:
        name = route.builtin
        reply = route.spec.reply
        assert reply is not None
        if name == "control_ping":
            out.append(
                frame(
                    reply,
                    {
                        "context": msg.context,
                        "retval": 0,
                        "client_index": self.handle,
                        "vpe_pid": os.getpid(),
                    },
                )
            )
        elif name == "sockclnt_create":
            self.handle = self.emu.register(self, str(msg.name))
            out.append(
                frame(
                    reply,
                    {
                        "context": msg.context,
                        "response": 0,
                        "index": self.handle,
                        "client_index": 0,
                        "count": len(self.emu.defs.by_name),
                        "message_table": self.emu.message_table,
                    },
                )
            )
        elif name == "get_api_json":
            out.append(frame(reply, {"context": msg.context, "retval": 0, "json": self.emu.defs.api_json}))
        elif name == "sockclnt_delete":
            ok = msg.index == self.handle
            out.append(frame(reply, {"context": msg.context, "response": 1 if ok else -1}))
            if ok:
                self._flush(out)
                self.emu.forget(self)
                self.close()
        elif name == "memclnt_keepalive":
            out.append(frame(reply, {"context": msg.context, "retval": 0}))
