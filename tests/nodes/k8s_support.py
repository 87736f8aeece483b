"""Driving kmock's Kubernetes emulator the way kubectl would, and waiting for watches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

NODECONFIGS = "/apis/nodeconfig.contiv.vpp/v1"


def api_client_for(server: Any) -> client.ApiClient:
    return client.ApiClient(client.Configuration(host=str(server.url).rstrip("/")))


def kubeconfig_for(server: Any, path: Path) -> Path:
    """A kubeconfig at ``path`` that points a client at the mock API server (no credentials)."""
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: mock\n"
        f"clusters: [{{name: mock, cluster: {{server: '{str(server.url).rstrip('/')}'}}}}]\n"
        "contexts: [{name: mock, context: {cluster: mock, user: nobody}}]\n"
        "users: [{name: nobody, user: {}}]\n"
    )
    return path


def watches(server: Any, path: str) -> list[Any]:
    return [r for r in list(server) if r.url.path == path and r.params.get("watch", "").lower() == "true"]


async def watching(server: Any, path: str, count: int = 1, timeout: float = 10.0) -> Any:
    """Wait until ``count`` watch requests for ``path`` have arrived (kmock replays no missed events)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(watches(server, path)) < count:
        if loop.time() > deadline:
            raise AssertionError(f"no watch of {path} within {timeout}s")
        await asyncio.sleep(0.02)
    return watches(server, path)[-1]


async def send(server: Any, method: str, path: str, body: dict[str, Any] | None = None) -> None:
    async with server.request(method, path, json=body) as resp:
        assert resp.status < 300, await resp.text()


async def gone(server: Any, watch_request: Any) -> None:
    """End a watch stream with 410 Gone, as an API server does when its version expired."""
    status = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}
    await server._buses[watch_request.resource].put({"type": "ERROR", "object": status})


def node(name: str, *ips: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"addresses": [{"type": "InternalIP", "address": ip} for ip in ips]},
    }


def node_config(name: str, spec: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "nodeconfig.contiv.vpp/v1",
        "kind": "NodeConfig",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


async def queue_items(q: asyncio.Queue[Any]) -> AsyncIterator[Any]:
    while True:
        yield await q.get()


class Relay:
    """A TCP relay in front of the mock API server: ``cut()`` makes the server vanish abruptly
    (open connections reset, new ones refused), the way a crashed or partitioned API server looks;
    ``resume()`` brings it back on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._port = 0
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self._port)
        self._port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self._port}"

    async def resume(self) -> None:
        """The API server is back, at the address it had."""
        await self.start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in self._writers:
            w.transport.abort()
        self._writers.clear()
