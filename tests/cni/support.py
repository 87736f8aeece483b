"""Running the real ``contiv-cni`` executable as the runtime does, against an agent served in the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from contivctl.cni.server import CNIServer, RemoteCNI
from contivctl.testing.vppemu import Emulator
from tests.agent.support import Node, config, make_node, stop_node

ROOT = Path(__file__).resolve().parents[2]
#: the contiv-cni executable, set by the session fixture ``contiv_cni`` (tests/cni/conftest.py)
PLUGIN: list[str] = []
VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")


@attrs.frozen
class Run:
    rc: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def error(self) -> dict[str, Any]:
        """The CNI error object of a failed run, checked for shape: one object, no traceback."""
        assert self.rc == 1, (self.rc, self.stdout, self.stderr)
        assert "Traceback" not in self.stderr, self.stderr
        err = self.json
        assert set(err) <= {"cniVersion", "code", "msg", "details"}, err
        assert isinstance(err["code"], int) and isinstance(err["msg"], str) and err["msg"], err
        return dict(err)


def netconf(server: str, version: str = "1.1.0", **extra: Any) -> dict[str, Any]:
    return {"cniVersion": version, "name": "contiv-k8s-net", "type": "contiv-cni", "grpcServer": server, **extra}


def cni_env(command: str, cid: str = "", netns: str = "", ifname: str = "eth0", **more: str) -> dict[str, str]:
    env = {"CNI_COMMAND": command, "CNI_PATH": "/usr/lib/cni", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if cid:
        env["CNI_CONTAINERID"] = cid
        pod = f"K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-{cid[:6]};K8S_POD_UID=u-{cid[:6]}"
        env["CNI_ARGS"] = f"IgnoreUnknown=1;{pod}"
    if netns:
        env["CNI_NETNS"] = netns
    if ifname:
        env["CNI_IFNAME"] = ifname
    env.update(more)
    return env


async def run(
    env: Mapping[str, str], stdin: bytes | Mapping[str, Any], *, argv: list[str] | None = None, timeout: float = 60
) -> Run:
    """Run a plugin (contiv-cni by default) with exactly `env` and `stdin`, without blocking the loop."""
    data = stdin if isinstance(stdin, bytes) else json.dumps(stdin).encode()
    assert argv or PLUGIN, "request the contiv_cni fixture"
    proc = await asyncio.create_subprocess_exec(
        *(argv or PLUGIN),
        env=dict(env),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


@attrs.define
class Agent:
    node: Node
    server: CNIServer

    @property
    def socket(self) -> str:
        return str(self.server.path)


@contextlib.asynccontextmanager
async def running_agent(
    emu: Emulator, sockdir: Path, *, start: bool = True, ready_timeout: float = 10.0, **cfg: Any
) -> AsyncIterator[Agent]:
    """The agent's parts with the CNI server on ``<sockdir>/cni.sock``; `start` false: before the startup resync."""
    node = await make_node(emu, sockdir / "store.db", config(**cfg), start=start)
    try:
        service = RemoteCNI(node.controller.submit, node.controller.ready, ready_timeout=ready_timeout)
        server = CNIServer(service, sockdir / "cni.sock")
        await server.start()
        try:
            yield Agent(node, server)
        finally:
            await server.stop()
    finally:
        await stop_node(node)
