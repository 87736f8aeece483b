"""The agent's HTTP endpoint: IPAM info as the original served it, health, history.

- ``GET /contiv/v1/ipam``: the original's keys (nodeId, nodeName, nodeIP
  without prefix, podNetwork, vppHostNetwork, config) plus the later
  ``podSubnetThisNode``; HTTP 500 with the JSON string "Error getting node
  IP" while the node IP is not known, as before.
- ``GET /liveness``: 200 while the event loop answers.
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
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from contivctl.config.model import IPAMConfig
from contivctl.errors import ContivError
from contivctl.ipam import NodeAddressPlan, ipam_config_json
from contivctl.reconcile.history import TxnRecord

Probe = Callable[[], tuple[bool, str]]
#: a read-only report: the query's parameters in, a JSON value out (ContivError: 400 with its message)
Report = Callable[[Mapping[str, str]], Awaitable[Any]]
#: something done on request (a VPP CLI command): a JSON object in, a JSON value out
Action = Callable[[Mapping[str, Any]], Awaitable[Any]]
#: the text exposition format Prometheus scrapes
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
    ) -> None:
        self._node_name = node_name
        self._plan = plan
        self._ipam = ipam
        self._ready = ready
        self._history = history
        self._loop_lag = loop_lag
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
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
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as exc:  # a port in use is the user's to fix: one line, no traceback
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ContivError(f"cannot serve REST on {host}:{port}: {reason}") from None

    async def stop(self) -> None:
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
        return web.json_response({"alive": True})

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
