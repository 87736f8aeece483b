"""A node for tests: the VPP emulator, the real drivers and reconciler, a controller.

Pods are real network namespaces; the vswitch side of veth pairs lives in the
test process's namespace under names derived from random container IDs, and
everything a test made is removed afterwards, also when it fails.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs

from contivctl.agent.node import assemble
from contivctl.agent.vpp import VppParts
from contivctl.config import parse_config
from contivctl.config.model import Config
from contivctl.controller import Controller
from contivctl.dataplane.vpp.connection import Backoff, VPPConnection
from contivctl.events import AddPod, AddResult, DeletePod
from contivctl.kv.local import LocalStore
from contivctl.model import TCP_STACK_LABEL, PodRef
from contivctl.reconcile import Reconciler
from contivctl.render import naming
from contivctl.render import vpp as vpp_render
from contivctl.render.vpp.pod_vrf import pod_vrf_plan, render_pod_vrf
from contivctl.testing.vppemu import Emulator

API_DIR = str(Path(__file__).resolve().parents[2] / "contivctl" / "testing" / "vppemu" / "api")
NODE = "node-a"


def config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "UseTAPInterfaces": False,
        "TCPstackDisabled": True,
        "MTUSize": 1450,
        "IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24"},
    }
    data.update(overrides)
    return parse_config(data)


MODES_FOR_RESTART: dict[str, dict[str, Any]] = {
    "veth": {"UseTAPInterfaces": False},
    "tap": {"UseTAPInterfaces": True},
    "tcpstack": {"UseTAPInterfaces": False, "TCPstackDisabled": False},
}


#: The product's VPP renderers with a base config of only what pods need (the pod VRF and its
#: gateway): these tests are about pods, and leave NICs, the host interconnect and the overlay
#: to tests/nodes, where the host stack lives in a namespace of its own.
PODS_ONLY = attrs.evolve(
    vpp_render.RENDERERS, name="vpp (pods only)", base=lambda inputs: render_pod_vrf(pod_vrf_plan(inputs))
)


@attrs.define
class Node:
    cfg: Config
    emu: Emulator
    vpp: VPPConnection
    store: LocalStore
    reconciler: Reconciler
    controller: Controller

    async def add(self, cid: str, netns: str, pod: str = "", ifname: str = "eth0", **kw: Any) -> AddResult:
        """ADD a pod; on a node with the TCP stack it is labelled for it, as a pod that wants it is."""
        ref = PodRef("default", pod or f"pod-{cid[:6]}")
        kw.setdefault("labels", {TCP_STACK_LABEL: "true"} if not self.cfg.tcp_stack_disabled else {})
        result: AddResult = await self.controller.submit(
            AddPod(container_id=cid, ifname=ifname, netns=netns, pod=ref, **kw)
        )
        return result

    async def delete(self, cid: str, ifname: str = "eth0") -> None:
        await self.controller.submit(DeletePod(container_id=cid, ifname=ifname))


async def make_node(emu: Emulator, store_path: Path, cfg: Config, node_id: int = 5, start: bool = True) -> Node:
    """A node; with `start` false its controller is built but not started (no startup resync yet)."""
    vpp = VPPConnection(emu.socket_path, api_dir=API_DIR, timeout=2.0, backoff=Backoff(initial=0.01, maximum=0.1))
    parts = VppParts(vpp, scope=str(store_path), state_dir=store_path.parent, wait=5)
    parts.renderers = PODS_ONLY
    store = await LocalStore.open(store_path)
    node = await assemble(parts, cfg, NODE, node_id, store)
    if start:
        await node.controller.start()
    return Node(cfg, emu, vpp, store, node.reconciler, node.controller)


async def stop_node(node: Node) -> None:
    await node.controller.stop()
    await node.reconciler.aclose()
    await node.vpp.close()
    await node.store.close()


class _Remote:
    """Enough of an Emulator for make_node: the socket of one running in another process."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path


@contextlib.asynccontextmanager
async def running_node(emu: Emulator, store_path: Path, cfg: Config) -> AsyncIterator[Node]:
    node = await make_node(emu, store_path, cfg)
    try:
        yield node
    finally:
        await stop_node(node)


class Pods:
    """Creates pod namespaces and container IDs, and cleans up everything they led to."""

    def __init__(self) -> None:
        self.namespaces: list[str] = []
        self.container_ids: list[str] = []

    def netns(self) -> str:
        name = f"ctlpod-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.namespaces.append(name)
        return f"/var/run/netns/{name}"

    def cid(self) -> str:
        cid = uuid.uuid4().hex * 2
        self.container_ids.append(cid)
        return cid

    def remove_netns(self, path: str) -> None:
        subprocess.run(["ip", "netns", "del", os.path.basename(path)], check=False)

    def cleanup(self) -> None:
        for name in self.namespaces:
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        for cid in self.container_ids:
            for ifname in ("eth0", "net1"):
                for dev in (naming.host_veth_name(cid, ifname), naming.tap_temp_name(cid, ifname)):
                    subprocess.run(["ip", "link", "del", dev], check=False, capture_output=True)


def ip_json(netns: str | None, *args: str) -> Any:
    """``ip -j`` in a namespace (None: the test's own); a missing device reads as []."""
    cmd = ["ip", "-j", *args] if netns is None else ["ip", "-n", os.path.basename(netns), "-j", *args]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        assert "does not exist" in out.stderr or "Cannot find" in out.stderr, out.stderr
        return []
    return json.loads(out.stdout or "[]")


def link_exists(netns: str | None, name: str) -> bool:
    return bool(ip_json(netns, "link", "show", name))


async def vpp_interfaces(vpp: VPPConnection) -> dict[str, Any]:
    """VPP's interfaces the agent made, by its name for them (their ``contiv:`` tag)."""
    return {d.tag[len("contiv:") :]: d for d in await vpp.dump("sw_interface_dump") if d.tag.startswith("contiv:")}


async def vpp_routes(vpp: VPPConnection, vrf: int) -> set[str]:
    routes = await vpp.dump("ip_route_dump", table={"table_id": vrf, "is_ip6": False})
    return {str(r.route.prefix) for r in routes}


async def vpp_neighbours(vpp: VPPConnection) -> set[tuple[int, str, str]]:
    found = await vpp.dump("ip_neighbor_dump", sw_if_index=0xFFFFFFFF, af=0)
    return {(n.neighbor.sw_if_index, str(n.neighbor.ip_address), str(n.neighbor.mac_address)) for n in found}


def pod_ip(result: AddResult) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return result.attachment.ip


async def eventually(check: Any, timeout: float = 10.0) -> None:
    """Await ``check()`` (an async predicate) until it holds or the deadline passes."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)
