"""The whole agent (``Agent``: REST, CNI server, controller, cluster wiring) in the test's event loop.

Its host stack is a namespace of the test's (``tests.nodes.support.host_side``)
and its VPP the emulator, so nothing of it lands in the machine's own
tables; on the way out the vswitch's base config is taken away again, so no
tap or veth outlives the test.
"""

from __future__ import annotations

import contextlib
import json
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import yaml

from contivctl.agent.agent import Agent
from contivctl.agent.options import AgentOptions
from contivctl.agent.vpp import HostStack, VppParts
from contivctl.dataplane.vpp.connection import Backoff, VPPConnection
from contivctl.testing.vppemu import Emulator
from tests.agent.support import API_DIR
from tests.nodes.support import NODE, host_side

#: what the agent is configured with unless a test says otherwise
CONFIG: dict[str, Any] = {
    "UseTAPInterfaces": True,
    "TCPstackDisabled": True,
    "MTUSize": 1450,
    "NatExternalTraffic": False,
    "IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 5) -> tuple[int, Any]:
    """A blocking GET (call it from a thread while the agent runs on this loop): status and JSON body."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def options(
    emu: Emulator, sockdir: Path, tmp_path: Path, config: dict[str, Any] | None = None, **kw: Any
) -> AgentOptions:
    path = tmp_path / "contiv.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, **(config or {})}))
    base: dict[str, Any] = {
        "config": path,
        "node_name": NODE,
        "node_id": 5,
        "store": tmp_path / "agent.db",
        "vpp_socket": emu.socket_path,
        "vpp_api_dir": API_DIR,
        "vpp_timeout": 2.0,
        "cni_socket": str(sockdir / "cni.sock"),
        "http": f"127.0.0.1:{free_port()}",
        "no_kubernetes": True,
    }
    base.update(kw)
    return AgentOptions(**base)


@attrs.define
class Running:
    agent: Agent
    vpp: VPPConnection

    @property
    def url(self) -> str:
        return f"http://{self.agent.opts.http}"


def with_host_side(agent: Agent, host: HostStack) -> VPPConnection:
    """Give ``agent`` VPP parts whose host stack is ``host`` (before it starts); their connection."""
    opts = agent.opts
    vpp = VPPConnection(
        opts.vpp_socket, api_dir=opts.vpp_api_dir, timeout=opts.vpp_timeout, backoff=Backoff(0.01, maximum=0.1)
    )
    agent.parts = VppParts(vpp, scope=str(opts.store), state_dir=opts.store.parent, host=host, wait=5)
    agent.parts.observe(agent.metrics)
    return vpp


@contextlib.asynccontextmanager
async def running_agent(opts: AgentOptions) -> AsyncIterator[Running]:
    with host_side() as side:
        agent = Agent(opts)
        vpp = with_host_side(agent, HostStack(netns=side.path, host_if=side.host_if, vswitch_if=side.vswitch_if))
        try:
            await agent.start()
            yield Running(agent, vpp)
        finally:
            node = agent.node
            if node is not None and node.controller.ready.is_set():
                await node.controller.stop()
                await node.reconciler.apply({k: None for k in node.controller.desired()}, trigger="test teardown")
            await agent.stop()
