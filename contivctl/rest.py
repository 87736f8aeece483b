"""The agent's HTTP endpoint: IPAM info as the original served it, health, history.

- ``GET /contiv/v1/ipam``: the original's keys (nodeId, nodeName, nodeIP
  without prefix, podNetwork, vppHostNetwork, config) plus the later
  ``podSubnetThisNode``; HTTP 500 with the JSON string "Error getting node
  IP" while the node IP is not known, as before.
- ``GET /liveness``: 200 while the event loop turns (the probe given as
  ``alive``), else 503 with the reason. It is answered by a thread, not by
  the event loop: a stuck loop cannot answer for itself, and a probe that
  merely times out says nothing about why.
- ``GET /readiness``: 200 once the startup resync is done and VPP is
  connected, else 503 with the reason.
- ``GET /contiv/v1/txn[?last=N]``: the reconciler's last transactions (``contivctl txn``),
  written piece by piece: a startup record of tens of thousands of
  operations must not hold the event loop while it is serialised.
- ``GET /contiv/v1/loop``: how late the event loop has run (``agent/looplag.py``).
- ``GET /metrics``: Prometheus metrics (``metrics.py``).
- ``GET /contiv/v1/<report>`` and ``POST /contiv/v1/<action>``: what the
  inspection commands show (``agent/reports.py``: status, pods, ipam,
  items, and VPP's CLI).

One thread accepts the port's connections. It peeks at the request line
without consuming it: ``GET /liveness`` it answers itself, from ``alive``
(which must be safe to call from any thread); every other connection is
handed to the event loop whole, where aiohttp serves it as if it had
accepted it. A kubelet probe opens a connection per probe, so it always
meets the thread; a ``/liveness`` asked on a kept-alive connection is
answered by aiohttp with the same verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from contivctl.config.model import IPAMConfig
from contivctl.errors import ContivError
from contivctl.ipam import NodeAddressPlan, ipam_config_json
from contivctl.reconcile.history import TxnRecord

log = logging.getLogger(__name__)

Probe = Callable[[], tuple[bool, str]]
#: a read-only report: the query's parameters in, a JSON value out (ContivError: 400 with its message)
Report = Callable[[Mapping[str, str]], Awaitable[Any]]
#: something done on request (a VPP CLI command): a JSON object in, a JSON value out
Action = Callable[[Mapping[str, Any]], Awaitable[Any]]
#: the text exposition format Prometheus scrapes
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: how long the accepting thread waits for a request line before handing the connection on anyway
REQUEST_LINE_TIMEOUT = 2.0
#: a request line (and, for liveness, the request head) longer than this is not ours to answer
_HEAD_MAX = 8192


def _always_alive() -> tuple[bool, str]:
    return True, "alive"


class RestServer:
    def __init__(
        self,
        *,
        node_name: str,
        plan: Callable[[], NodeAddressPlan],
        ipam: IPAMConfig,
        ready: Probe,
        history: Callable[[], Sequence[TxnRecord]],
        loop_lag: Callable[[], dict[str, Any]] | None = None,
        metrics: Callable[[], bytes] | None = None,
        reports: Mapping[str, Report] | None = None,
        actions: Mapping[str, Action] | None = None,
        alive: Probe = _always_alive,
    ) -> None:
        self._node_name = node_name
        self._alive = alive
        self._plan = plan
        self._ipam = ipam
        self._ready = ready
        self._history = history
        self._loop_lag = loop_lag
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
        self._acceptor: _Acceptor | None = None
        app = web.Application()
        app.router.add_get("/contiv/v1/ipam", self._get_ipam)
        app.router.add_get("/liveness", self._liveness)
        app.router.add_get("/readiness", self._readiness)
        app.router.add_get("/contiv/v1/txn", self._txn)
        app.router.add_get("/contiv/v1/loop", self._loop)
        app.router.add_get("/metrics", self._exposition)
        for name, report in (reports or {}).items():
            app.router.add_get(f"/contiv/v1/{name}", self._report(report))
        for name, action in (actions or {}).items():
            app.router.add_post(f"/contiv/v1/{name}", self._action(action))
        self.app = app

    async def start(self, host: str, port: int) -> None:
        try:
            listener = _listen(host, port)
        except OSError as exc:  # a port in use is the user's to fix: one line, no traceback
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ContivError(f"cannot serve REST on {host}:{port}: {reason}") from None
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        self._acceptor = _Acceptor(listener, asyncio.get_running_loop(), server, self._alive)
        self._acceptor.start()

    @property
    def port(self) -> int:
        """The port served (the one the system chose, when asked for 0)."""
        assert self._acceptor is not None, "not started"
        return self._acceptor.port

    async def stop(self) -> None:
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            await asyncio.to_thread(acceptor.close)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _get_ipam(self, request: web.Request) -> web.Response:
        plan = self._plan()
        if plan.node_ip is None:
            return web.json_response("Error getting node IP", status=500)
        return web.json_response(
            {
                "nodeId": plan.node_id,
                "nodeName": self._node_name,
                "nodeIP": str(plan.node_ip.ip),
                "podNetwork": str(plan.pod_subnet_this_node),
                "podSubnetThisNode": str(plan.pod_subnet_this_node),
                "vppHostNetwork": str(plan.vpp_host_network),
                "config": ipam_config_json(self._ipam),
            }
        )

    async def _liveness(self, request: web.Request) -> web.Response:
        status, body = _liveness_answer(self._alive)
        return web.json_response(body, status=status)

    async def _readiness(self, request: web.Request) -> web.Response:
        ok, reason = self._ready()
        return web.json_response({"ready": ok, "reason": reason}, status=200 if ok else 503)

    async def _txn(self, request: web.Request) -> web.StreamResponse:
        records = list(self._history())  # frozen values: safe to write out while the agent goes on
        last = request.query.get("last")
        if last is not None:
            if not last.isdigit() or int(last) < 1:
                return web.json_response(
                    {"error": f"last={last!r}: a whole number of transactions, 1 or more"}, status=400
                )
            records = records[-int(last) :]
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        await resp.write(b"[")
        for i, record in enumerate(records):
            if i:
                await resp.write(b", ")
            for piece in record.json_chunks():
                await resp.write(piece.encode())
                await asyncio.sleep(0)  # let everything else run between pieces
        await resp.write(b"]")
        await resp.write_eof()
        return resp

    @staticmethod
    def _report(report: Report) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                return web.json_response(await report(request.query))
            except ContivError as exc:
                return web.json_response({"error": str(exc)}, status=400)

        return handle

    @staticmethod
    def _action(action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"error": "the request body is not JSON"}, status=400)
            if not isinstance(body, dict):
                return web.json_response({"error": "the request body is not a JSON object"}, status=400)
            try:
                return web.json_response(await action(body))
            except ContivError as exc:
                return web.json_response({"error": str(exc)}, status=400)

        return handle

    async def _exposition(self, request: web.Request) -> web.Response:
        if self._metrics is None:
            return web.json_response({"error": "no metrics"}, status=404)
        return web.Response(body=self._metrics(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def _loop(self, request: web.Request) -> web.Response:
        if self._loop_lag is None:
            return web.json_response({"error": "the event loop is not watched"}, status=404)
        return web.json_response(self._loop_lag())


def _liveness_answer(alive: Probe) -> tuple[int, dict[str, Any]]:
    ok, reason = alive()
    return (200, {"alive": True}) if ok else (503, {"alive": False, "reason": reason})


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host`` (a name, an IPv4 or a bracketed IPv6 address) and ``port``."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host.strip("[]") or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def is_liveness(line: bytes) -> bool:
    """Whether a request line asks for the liveness probe (GET or HEAD, any query)."""
    parts = line.split()
    return len(parts) >= 2 and parts[0] in (b"GET", b"HEAD") and parts[1].split(b"?", 1)[0] == b"/liveness"


class _Acceptor:
    """The REST port's accepting thread: liveness answered here, everything else handed to the loop."""

    def __init__(
        self,
        listener: socket.socket,
        loop: asyncio.AbstractEventLoop,
        protocol: Callable[[], asyncio.BaseProtocol],
        alive: Probe,
    ) -> None:
        self._listener = listener
        self.port: int = listener.getsockname()[1]
        self._loop = loop
        self._protocol = protocol
        self._alive = alive
        self._closing = threading.Event()
        self._handing: set[asyncio.Task[Any]] = set()
        self._thread = threading.Thread(target=self._accept, name="rest-accept", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop accepting (blocks until the thread is gone: call it from a thread)."""
        self._closing.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError as exc:
                if self._closing.is_set():
                    return
                log.warning("REST: cannot accept a connection: %s", exc)
                self._closing.wait(0.1)  # out of file descriptors, say: do not spin
                continue
            threading.Thread(target=self._route, args=(conn,), name="rest-route", daemon=True).start()

    def _route(self, conn: socket.socket) -> None:
        try:
            line = _peek_request_line(conn)
            if is_liveness(line):
                self._answer_liveness(conn, head=line.split(b" ", 1)[0] == b"HEAD")
                return
            conn.setblocking(False)
            self._loop.call_soon_threadsafe(self._hand_over, conn)
        except (OSError, RuntimeError):  # the client went away, or the loop is closed (stopping)
            conn.close()

    def _hand_over(self, conn: socket.socket) -> None:
        """On the loop: aiohttp serves the connection as one it accepted itself."""
        task = self._loop.create_task(self._loop.connect_accepted_socket(self._protocol, conn))
        self._handing.add(task)
        task.add_done_callback(functools.partial(self._handed, conn))

    def _handed(self, conn: socket.socket, task: asyncio.Task[Any]) -> None:
        self._handing.discard(task)
        if task.cancelled() or task.exception() is not None:
            conn.close()

    def _answer_liveness(self, conn: socket.socket, *, head: bool) -> None:
        conn.settimeout(REQUEST_LINE_TIMEOUT)
        with contextlib.closing(conn):
            _read_head(conn)  # consumed, so that closing does not reset the connection under the answer
            status, body = _liveness_answer(self._alive)
            data = json.dumps(body).encode()
            reason = "OK" if status == 200 else "Service Unavailable"
            header = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            ).encode()
            conn.sendall(header if head else header + data)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_WR)


def _peek_request_line(conn: socket.socket) -> bytes:
    """The request line as far as it has arrived within the timeout, left unread for whoever serves it."""
    deadline = time.monotonic() + REQUEST_LINE_TIMEOUT
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data
        readable, _, _ = select.select([conn], [], [], left)
        if not readable:
            return data
        data = conn.recv(_HEAD_MAX, socket.MSG_PEEK)
        if not data or b"\n" in data or len(data) >= _HEAD_MAX:
            return data.split(b"\n", 1)[0]
        # Part of the line has arrived and more is on its way: peeking again at once would spin.
        time.sleep(0.005)


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data and len(data) < _HEAD_MAX:
        chunk = conn.recv(_HEAD_MAX - len(data))
        if not chunk:
            break
        data += chunk
    return data
