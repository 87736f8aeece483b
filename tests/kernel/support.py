"""Nodes of a local cluster on the kernel dataplane, for tests.

Each node is a network namespace playing the vswitch, with its own
controller and reconciler in this process; the nodes' NICs are veths on a
bridge in an underlay namespace (which also stands in for the world outside
the cluster: it has an address, and no route to any pod). Pods are network
namespaces. Everything is removed afterwards, also when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from contivctl.agent.kernel import KernelParts
from contivctl.agent.node import assemble
from contivctl.config import parse_config
from contivctl.config.model import Config
from contivctl.controller import Controller, NodeView
from contivctl.dataplane.linux.channel import release as release_netns
from contivctl.events import AddPod, AddResult, DeletePod
from contivctl.ipam import node_plan
from contivctl.kv.local import LocalStore
from contivctl.model import NodeInfo, PodRef
from contivctl.reconcile import Reconciler
from contivctl.reconcile.descriptor import Descriptor

UNDERLAY = "10.77.0.0/24"
#: the underlay's own address: "outside the cluster" for the SNAT test
OUTSIDE_IP = "10.77.0.254"


def config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "TCPstackDisabled": True,
        "MTUSize": 1400,
        "NatExternalTraffic": False,
        "IPAMConfig": {
            "PodSubnetCIDR": "10.1.0.0/16",
            "PodNetworkPrefixLen": 24,
            "VPPHostSubnetCIDR": "172.30.0.0/16",
            "VPPHostNetworkPrefixLen": 24,
            "NodeInterconnectCIDR": UNDERLAY,
            "VxlanCIDR": "10.78.0.0/24",
        },
    }
    data.update(overrides)
    return parse_config(data)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def ns_path(name: str) -> str:
    return f"/var/run/netns/{name}"


@attrs.define
class NodeNs:
    """A node's namespace and its NIC on the underlay."""

    name: str
    node_id: int
    node_name: str
    ip: str

    @property
    def path(self) -> str:
        return ns_path(self.name)

    def info(self) -> NodeInfo:
        """The record the cluster source would publish for this node."""
        return NodeInfo(id=self.node_id, name=self.node_name, ip_addresses=(f"{self.ip}/24",))


class Lab:
    """Creates namespaces (underlay, nodes, pods) and removes every one of them."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.made: list[str] = []
        self.underlay = ""

    def netns(self, prefix: str) -> str:
        name = f"{prefix}-{self.tag}-{len(self.made)}"
        run("ip", "netns", "add", name)
        self.made.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def pod(self) -> str:
        return ns_path(self.netns("ctlkpod"))

    def node(self, cfg: Config, node_id: int) -> NodeNs:
        if not self.underlay:
            self.underlay = self.netns("ctlkul")
            run("ip", "-n", self.underlay, "link", "add", "br0", "type", "bridge")
            run("ip", "-n", self.underlay, "addr", "add", f"{OUTSIDE_IP}/24", "dev", "br0")
            run("ip", "-n", self.underlay, "link", "set", "br0", "up")
        name = self.netns("ctlknode")
        # off, as on a host that never routed: turning it on is the agent's job
        run("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=0")
        plan = node_plan(cfg.ipam, node_id)
        assert plan.node_ip is not None
        ip = str(plan.node_ip.ip)
        port = f"ul{node_id}"
        run("ip", "-n", name, "link", "add", "nic0", "type", "veth", "peer", "name", port, "netns", self.underlay)
        run("ip", "-n", self.underlay, "link", "set", port, "master", "br0", "up")
        run("ip", "-n", name, "addr", "add", f"{ip}/24", "dev", "nic0")
        run("ip", "-n", name, "link", "set", "nic0", "up")
        return NodeNs(name=name, node_id=node_id, node_name=f"knode{node_id}-{self.tag}", ip=ip)

    def remove(self, name: str) -> None:
        run("ip", "netns", "del", name, check=False)

    def cleanup(self) -> None:
        for name in reversed(self.made):
            self.remove(name)


@attrs.define
class KernelNode:
    cfg: Config
    ns: NodeNs
    store: LocalStore
    reconciler: Reconciler
    controller: Controller
    view: NodeView
    stopped: bool = False

    async def add(self, cid: str, netns: str, ifname: str = "eth0") -> AddResult:
        result: AddResult = await self.controller.submit(
            AddPod(container_id=cid, ifname=ifname, netns=netns, pod=PodRef("default", f"pod-{cid[:6]}"))
        )
        return result

    async def delete(self, cid: str, ifname: str = "eth0") -> None:
        await self.controller.submit(DeletePod(container_id=cid, ifname=ifname))

    def node_keys(self, node_id: int) -> set[str]:
        return set(self.view.node_items.get(node_id, {}))


async def start_node(
    cfg: Config,
    ns: NodeNs,
    store_path: Path,
    *,
    nodes: tuple[NodeInfo, ...] = (),
    wrap: Mapping[str, type[Descriptor[Any]]] | None = None,
) -> KernelNode:
    """A node's agent in this process; ``nodes`` are known before the startup resync (as from the store).

    ``wrap`` replaces the descriptor of a prefix by a subclass (fault injection).
    """
    store = await LocalStore.open(store_path)
    parts = _Parts(ns.path, scope=ns.node_name, wrap=wrap or {})
    node = await assemble(parts, cfg, ns.node_name, ns.node_id, store)
    for info in nodes:
        node.view.set_node(info)
    await node.controller.start()
    return KernelNode(cfg, ns, store, node.reconciler, node.controller, node.view)


class _Parts(KernelParts):
    """The product's kernel parts, some descriptors replaced by subclasses that inject faults."""

    def __init__(self, vswitch_netns: str, *, scope: str, wrap: Mapping[str, type[Descriptor[Any]]]) -> None:
        super().__init__(vswitch_netns, scope=scope)
        self._wrap = wrap

    def descriptors(self) -> list[Descriptor[Any]]:
        return [_wrapped(d, self._wrap) for d in super().descriptors()]


def _wrapped(d: Descriptor[Any], wrap: Mapping[str, type[Descriptor[Any]]]) -> Descriptor[Any]:
    kind = wrap.get(d.prefix)
    if kind is None:
        return d
    assert issubclass(kind, type(d))
    d.__class__ = kind
    return d


async def stop_node(node: KernelNode) -> None:
    """Stop the agent as a crash or SIGTERM would: the dataplane stays as it is."""
    if node.stopped:
        return
    node.stopped = True
    await node.controller.stop()
    await node.reconciler.aclose()
    await node.store.close()
    for path in [node.ns.path, *(a.netns for a in node.controller.pods)]:
        release_netns(path)


@contextlib.asynccontextmanager
async def running_node(cfg: Config, ns: NodeNs, store_path: Path, **kw: Any) -> AsyncIterator[KernelNode]:
    node = await start_node(cfg, ns, store_path, **kw)
    try:
        yield node
    finally:
        await stop_node(node)


@contextlib.contextmanager
def lab() -> Iterator[Lab]:
    made = Lab()
    try:
        yield made
    finally:
        made.cleanup()


def ip_json(netns: str, *args: str) -> Any:
    out = run("ip", "-n", netns.rsplit("/", 1)[-1], "-j", *args, check=False)
    if out.returncode != 0:
        assert "does not exist" in out.stderr or "Cannot find" in out.stderr, out.stderr
        return []
    return json.loads(out.stdout or "[]")


async def pings(netns: str, ip: object) -> bool:
    """One ping from ``netns`` to ``ip`` answered within a second."""
    proc = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        netns.rsplit("/", 1)[-1],
        "ping",
        "-c1",
        "-W1",
        "-q",
        str(ip),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait() == 0


async def reachable(netns: str, ip: object, timeout: float = 5.0) -> bool:
    """Whether a ping from ``netns`` to ``ip`` is answered before the deadline (retrying until then)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await pings(netns, ip):
            return True
        if loop.time() > deadline:
            return False


def new_cid() -> str:
    return uuid.uuid4().hex * 2
