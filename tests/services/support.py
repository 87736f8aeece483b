"""Service tests' helpers: Service values, a small TCP server in a pod, clients that report who answered."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from contivctl.agent.kernel import KernelParts
from contivctl.agent.node import assemble
from contivctl.agent.vpp import HostStack, VppParts
from contivctl.config.model import Config
from contivctl.controller import Controller, NodeView
from contivctl.dataplane.linux.channel import release as release_netns
from contivctl.dataplane.vpp.connection import Backoff, VPPConnection
from contivctl.events import AddPod, AddResult
from contivctl.kv.local import LocalStore
from contivctl.model import Endpoint, EndpointPort, EndpointSlice, PodRef, Service, ServicePort, ServiceRef
from contivctl.reconcile import Reconciler
from contivctl.testing.vppemu import Emulator
from tests.agent.support import API_DIR
from tests.kernel.support import Lab, NodeNs
from tests.nodes.support import NODE as VPP_NODE
from tests.nodes.support import HostSide

#: the demo's TCP server and client (contivctl/demo/tcp.py), run from this tree
ROOT = Path(__file__).resolve().parents[2]
TCP = [sys.executable, "-m", "contivctl.demo.tcp"]


def service(
    name: str = "web",
    cluster_ip: str = "10.96.0.10",
    port: int = 80,
    *,
    node_port: int = 0,
    namespace: str = "default",
    **kw: Any,
) -> Service:
    return Service(
        ref=ServiceRef(namespace, name),
        cluster_ips=(ipaddress.ip_address(cluster_ip),),
        ports=(ServicePort(name="http", protocol="TCP", port=port, target_port=8080, node_port=node_port),),
        type="NodePort" if node_port else "ClusterIP",
        **kw,
    )


def endpoints(
    *eps: tuple[str, str], service_name: str = "web", slice_name: str = "", port: int = 8080, namespace: str = "default"
) -> EndpointSlice:
    """A slice of ``(ip, node name)`` endpoints serving the port named "http"."""
    return EndpointSlice(
        namespace=namespace,
        name=slice_name or f"{service_name}-abc",
        service=service_name,
        ports=(EndpointPort("http", "TCP", port),),
        endpoints=tuple(Endpoint(ipaddress.ip_address(ip), node) for ip, node in eps),
    )


class SvcLab(Lab):
    """The kernel tests' lab, its namespaces named ``svc…`` so that they are told apart."""

    def netns(self, prefix: str) -> str:
        return super().netns("svc" + prefix.removeprefix("ctlk"))


@attrs.define(eq=False)
class SvcNode:
    ns: NodeNs
    store: LocalStore
    reconciler: Reconciler
    controller: Controller

    @property
    def view(self) -> NodeView:
        return self.controller.node_view

    async def add(self, cid: str, netns: str, name: str) -> AddResult:
        result: AddResult = await self.controller.submit(
            AddPod(container_id=cid, ifname="eth0", netns=netns, pod=PodRef("default", name))
        )
        return result

    def ops_since(self, seq: int) -> list[tuple[str, str]]:
        """(op, key) of every operation of the transactions after ``seq``."""
        return [(o.op, o.key) for r in self.reconciler.history() if r.seq > seq for o in r.ops]

    def last_seq(self) -> int:
        history = self.reconciler.history()
        return history[-1].seq if history else 0


@contextlib.asynccontextmanager
async def kernel_node(
    cfg: Config, ns: NodeNs, store_path: Path, *, before_resync: Callable[[Controller], None] = lambda c: None
) -> AsyncIterator[SvcNode]:
    store = await LocalStore.open(store_path)
    parts = KernelParts(ns.path, scope=ns.node_name)
    node = await assemble(parts, cfg, ns.node_name, ns.node_id, store, services=True)
    before_resync(node.controller)
    await node.controller.start()
    try:
        yield SvcNode(ns, store, node.reconciler, node.controller)
    finally:
        await node.controller.stop()
        await node.reconciler.aclose()
        await store.close()
        for path in [ns.path, *(a.netns for a in node.controller.pods)]:
            release_netns(path)


def _netns_name(netns: str) -> str:
    return netns.rsplit("/", 1)[-1]


@contextlib.contextmanager
def tcp_server(netns: str, name: str, port: int = 8080) -> Iterator[subprocess.Popen[str]]:
    """A server in ``netns`` that answers every connection with ``name``; stopped afterwards."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", _netns_name(netns), *TCP, "serve", str(port), name],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "listening"
        yield proc
    finally:
        proc.kill()
        proc.wait()


async def connect_all(netns: str, targets: Sequence[tuple[str, int]], timeout: float = 2.0) -> list[str]:
    """From ``netns``, one connection to each target: who answered, or ``error:<errno name>``."""
    args = [f"{host}:{port}" for host, port in targets]
    proc = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        _netns_name(netns),
        *TCP,
        "connect",
        str(timeout),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    answers: list[str] = json.loads(out)
    return answers


async def answered_by(netns: str, host: str, port: int, tries: int = 40, expect: int = 2) -> set[str]:
    """Who answers connections to host:port from ``netns``, until ``expect`` distinct ones (or ``tries``)."""
    seen: set[str] = set()
    left = tries
    while left > 0 and len(seen) < expect:
        batch = min(left, 8)
        seen.update(await connect_all(netns, [(host, port)] * batch))
        left -= batch
    return seen


@attrs.define(eq=False)
class VppSvcNode:
    vpp: VPPConnection
    store: LocalStore
    reconciler: Reconciler
    controller: Controller

    @property
    def view(self) -> NodeView:
        return self.controller.node_view

    def ops_since(self, seq: int) -> list[tuple[str, str]]:
        return [(o.op, o.key) for r in self.reconciler.history() if r.seq > seq for o in r.ops]

    def last_seq(self) -> int:
        history = self.reconciler.history()
        return history[-1].seq if history else 0


@contextlib.asynccontextmanager
async def vpp_node(
    emu: Emulator,
    store_path: Path,
    cfg: Config,
    side: HostSide,
    *,
    node_id: int = 5,
    before_resync: Callable[[Controller], None] = lambda c: None,
    teardown: bool = True,
) -> AsyncIterator[VppSvcNode]:
    """A VPP node forwarding Services on the emulator; ``teardown`` removes what it made afterwards."""
    vpp = VPPConnection(emu.socket_path, api_dir=API_DIR, timeout=2.0, backoff=Backoff(initial=0.01, maximum=0.1))
    host = HostStack(netns=side.path, host_if=side.host_if, vswitch_if=side.vswitch_if)
    parts = VppParts(vpp, scope=str(store_path), state_dir=store_path.parent, host=host, wait=5)
    store = await LocalStore.open(store_path)
    built = await assemble(parts, cfg, VPP_NODE, node_id, store, services=True)
    before_resync(built.controller)
    await built.controller.start()
    try:
        yield VppSvcNode(vpp, store, built.reconciler, built.controller)
    finally:
        await built.controller.stop()
        if teardown:
            await built.reconciler.apply({k: None for k in built.controller.desired()}, trigger="test teardown")
        await built.reconciler.aclose()
        await vpp.close()
        await store.close()
