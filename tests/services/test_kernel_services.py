"""Services in the kernel dataplane, with real TCP: two nodes, servers in pods, clients in pods and on the nodes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import attrs

from contivctl.controller import Controller
from contivctl.events import EndpointsUpdated, Event, NodeUpdated, ServiceRemoved, ServiceUpdated
from contivctl.render.kernel.names import SERVICE_TABLE
from tests.kernel.support import OUTSIDE_IP, config, new_cid, run
from tests.services.conftest import needs_root
from tests.services.support import (
    SvcLab,
    SvcNode,
    answered_by,
    connect_all,
    endpoints,
    kernel_node,
    service,
    tcp_server,
)

pytestmark = needs_root

CLUSTER_IP, PORT, NODE_PORT = "10.96.0.10", 80, 30080


@attrs.define
class Cluster:
    a: SvcNode
    b: SvcNode
    server_a: str
    server_b: str
    client_a: str
    client_b: str
    ip_a: str
    ip_b: str


@contextlib.asynccontextmanager
async def cluster(lab: SvcLab, store_dir: Path) -> AsyncIterator[Cluster]:
    """Two nodes that know each other; on each a server pod and a client pod."""
    cfg = config()
    ns_a, ns_b = lab.node(cfg, 1), lab.node(cfg, 2)
    for ns in (ns_a, ns_b):  # as on any host: the node's own connections to a cluster IP need a route
        run("ip", "-n", ns.name, "route", "add", "default", "via", OUTSIDE_IP)
    async with kernel_node(cfg, ns_a, store_dir / "a.db") as a, kernel_node(cfg, ns_b, store_dir / "b.db") as b:
        await a.controller.submit(NodeUpdated(ns_b.info()))
        await b.controller.submit(NodeUpdated(ns_a.info()))
        pods = [lab.pod() for _ in range(4)]
        sa = await a.add(new_cid(), pods[0], "server-a")
        sb = await b.add(new_cid(), pods[1], "server-b")
        await a.add(new_cid(), pods[2], "client-a")
        await b.add(new_cid(), pods[3], "client-b")
        yield Cluster(a, b, pods[0], pods[1], pods[2], pods[3], str(sa.attachment.ip), str(sb.attachment.ip))


@contextlib.contextmanager
def servers(c: Cluster) -> Iterator[None]:
    with tcp_server(c.server_a, "server-a"), tcp_server(c.server_b, "server-b"):
        yield


async def both(c: Cluster, event: Callable[[], Event]) -> None:
    """The same change on both nodes (an event is answered once: each node gets its own)."""
    for node in (c.a, c.b):
        await node.controller.submit(event())


def nft_chains(node: SvcNode) -> set[str]:
    out = run("ip", "netns", "exec", node.ns.name, "nft", "-j", "list", "table", "ip", SERVICE_TABLE)
    return {o["chain"]["name"] for o in json.loads(out.stdout)["nftables"] if "chain" in o}


async def test_cluster_ip_and_node_port_across_nodes(svc_lab: SvcLab, store_dir: Path) -> None:
    async with cluster(svc_lab, store_dir) as c:
        svc = service(node_port=NODE_PORT)
        slice_ = endpoints((c.ip_a, c.a.ns.node_name), (c.ip_b, c.b.ns.node_name))
        await both(c, lambda: ServiceUpdated(service=svc))
        await both(c, lambda: EndpointsUpdated(slice=slice_))
        every = {"server-a", "server-b"}
        clients = {
            "pod on a": c.client_a,
            "pod on b": c.client_b,
            "node a": c.a.ns.path,
            "node b": c.b.ns.path,
            "server a itself": c.server_a,
        }
        with servers(c):
            for who, netns in clients.items():
                for host, port in ((CLUSTER_IP, PORT), (c.a.ns.ip, NODE_PORT), (c.b.ns.ip, NODE_PORT)):
                    assert await answered_by(netns, host, port) == every, f"{who} → {host}:{port}"

            # one endpoint goes: one operation on each node, and only the other endpoint answers
            marks = {n: n.last_seq() for n in (c.a, c.b)}
            only_b = endpoints((c.ip_b, c.b.ns.node_name))
            for node in (c.a, c.b):
                (key,) = node.controller.services.items[svc.ref]
                await node.controller.submit(EndpointsUpdated(slice=only_b))
                assert node.ops_since(marks[node]) == [("update", key)]
            for netns in clients.values():
                got = await connect_all(netns, [(CLUSTER_IP, PORT)] * 6 + [(c.a.ns.ip, NODE_PORT)] * 3)
                assert set(got) == {"server-b"}, got

            # no endpoint at all: a reject, not a timeout
            await both(c, lambda: EndpointsUpdated(slice=endpoints()))
            for netns in clients.values():
                got = await connect_all(netns, [(CLUSTER_IP, PORT), (c.b.ns.ip, NODE_PORT)], timeout=5.0)
                assert set(got) <= {"error:ECONNREFUSED", "error:EHOSTUNREACH"}, got

        await both(c, lambda: ServiceRemoved(ref=svc.ref))
        for node in (c.a, c.b):
            assert not {ch for ch in nft_chains(node) if "/default/web/" in ch}
            assert node.controller.services.desired() == {}


async def test_affinity_and_local_external_traffic(svc_lab: SvcLab, store_dir: Path) -> None:
    async with cluster(svc_lab, store_dir) as c:
        svc = service(node_port=NODE_PORT, external_local=True, affinity_timeout=60)
        slice_ = endpoints((c.ip_a, c.a.ns.node_name), (c.ip_b, c.b.ns.node_name))
        await both(c, lambda: ServiceUpdated(service=svc))
        await both(c, lambda: EndpointsUpdated(slice=slice_))
        with servers(c):
            # ClientIP affinity: a client keeps the endpoint it got
            for netns in (c.client_a, c.client_b):
                assert len(set(await connect_all(netns, [(CLUSTER_IP, PORT)] * 8))) == 1
            # externalTrafficPolicy Local: a node port sends to that node's endpoints only
            assert set(await connect_all(c.b.ns.path, [(c.a.ns.ip, NODE_PORT)] * 6)) == {"server-a"}
            assert set(await connect_all(c.a.ns.path, [(c.b.ns.ip, NODE_PORT)] * 6)) == {"server-b"}


async def test_services_known_at_start_and_a_restart_that_changes_nothing(svc_lab: SvcLab, store_dir: Path) -> None:
    cfg = config()
    ns = svc_lab.node(cfg, 1)
    known = [service(f"s{i}", f"10.96.0.{20 + i}", node_port=30100 + i) for i in range(3)]
    slices = [endpoints(("10.1.1.5", ns.node_name), ("10.1.2.5", "other"), service_name=s.ref.name) for s in known]

    def fill(controller: Controller) -> None:
        for svc in known:
            controller.services.set_service(svc)
        for sl in slices:
            controller.services.set_slice(sl)

    async with kernel_node(cfg, ns, store_dir / "a.db", before_resync=fill) as node:
        (record,) = [r for r in node.reconciler.history() if r.trigger == "startup resync"]
        assert {o.outcome for o in record.ops} == {"ok"}  # the table before the Services in it
        assert {f"svc/default/s{i}/tcp/80" for i in range(3)} <= nft_chains(node)
    async with kernel_node(cfg, ns, store_dir / "a.db", before_resync=fill) as node:
        (record,) = [r for r in node.reconciler.history() if r.trigger == "startup resync"]
        assert [o.key for o in record.ops if "/svc" in o.key] == []
        # what the agent did not make, or no longer wants, in its table: found and removed
        run("ip", "netns", "exec", ns.name, "nft", "add", "chain", "ip", SERVICE_TABLE, "svc/default/gone/tcp/1")
        await node.controller.submit(ServiceRemoved(ref=known[0].ref))
        result = await node.reconciler.resync_full(node.controller.desired(), trigger="test")
        assert ("delete", "linux/svcrules/" + ns.path + "/" + SERVICE_TABLE + "/default/gone") in {
            (o.op, o.key) for o in result.ops
        }
        chains = nft_chains(node)
        assert "svc/default/gone/tcp/1" not in chains and "svc/default/s0/tcp/80" not in chains
        assert "svc/default/s1/tcp/80" in chains
