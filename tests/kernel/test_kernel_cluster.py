"""Two nodes, each a namespace with its own agent, joined by an underlay: pods talk across nodes."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from contivctl.config.model import Config
from contivctl.events import NodeRemoved, NodeUpdated
from contivctl.iptypes import IPAddress
from contivctl.reconcile.history import TxnKind
from contivctl.render import naming
from contivctl.render.kernel.names import VXLAN_DEV
from tests.kernel.conftest import needs_root
from tests.kernel.support import (
    OUTSIDE_IP,
    KernelNode,
    Lab,
    config,
    ip_json,
    new_cid,
    pings,
    reachable,
    running_node,
    start_node,
    stop_node,
)

pytestmark = needs_root


@attrs.define
class Pair:
    a: KernelNode
    b: KernelNode
    pod_a: str
    pod_b: str
    ip_a: IPAddress
    ip_b: IPAddress


@contextlib.asynccontextmanager
async def two_nodes(lab: Lab, store_dir: Path, cfg: Config) -> AsyncIterator[Pair]:
    """Nodes 1 and 2 that know each other, with one pod each."""
    ns_a, ns_b = lab.node(cfg, 1), lab.node(cfg, 2)
    async with (
        running_node(cfg, ns_a, store_dir / "a.db") as a,
        running_node(cfg, ns_b, store_dir / "b.db") as b,
    ):
        await a.controller.submit(NodeUpdated(ns_b.info()))
        await b.controller.submit(NodeUpdated(ns_a.info()))
        pod_a, pod_b = lab.pod(), lab.pod()
        ra = await a.add(new_cid(), pod_a)
        rb = await b.add(new_cid(), pod_b)
        yield Pair(a, b, pod_a, pod_b, ra.attachment.ip, rb.attachment.ip)


async def test_pods_on_two_nodes_ping_over_vxlan(the_lab: Lab, store_dir: Path) -> None:
    async with two_nodes(the_lab, store_dir, config()) as p:
        assert await reachable(p.pod_a, p.ip_b)
        assert await reachable(p.pod_b, p.ip_a)

        (dev,) = ip_json(p.a.ns.path, "-d", "link", "show", VXLAN_DEV)
        data = dev["linkinfo"]["info_data"]
        assert (data["id"], data["local"], data["port"]) == (10, p.a.ns.ip, 4789)
        assert dev["address"] == naming.bvi_mac(1)
        out = _bridge_fdb(p.a.ns.name)
        assert {(e["mac"], e.get("dst")) for e in out if "permanent" in e.get("state", "")} >= {
            (naming.bvi_mac(2), p.b.ns.ip)
        }
        neigh = {(n["dst"], n["lladdr"]) for n in ip_json(p.a.ns.path, "neigh", "show", "dev", VXLAN_DEV)}
        assert neigh == {("10.78.0.2", naming.bvi_mac(2))}
        routes = {r["dst"]: r.get("gateway") for r in ip_json(p.a.ns.path, "route", "show", "proto", "199")}
        assert routes["10.1.2.0/24"] == "10.78.0.2"


def _bridge_fdb(ns_name: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["bridge", "-n", ns_name, "-j", "fdb", "show", "dev", VXLAN_DEV], capture_output=True, text=True, check=True
    )
    result: list[dict[str, Any]] = json.loads(out.stdout or "[]")
    for e in result:
        state = e.get("state", "")
        e["state"] = state if isinstance(state, str) else " ".join(state)
    return result


async def test_pods_on_two_nodes_ping_over_l2_routes(the_lab: Lab, store_dir: Path) -> None:
    async with two_nodes(the_lab, store_dir, config(UseL2Interconnect=True)) as p:
        assert await reachable(p.pod_a, p.ip_b)
        assert await reachable(p.pod_b, p.ip_a)
        assert not ip_json(p.a.ns.path, "link", "show", VXLAN_DEV)
        routes = {r["dst"]: (r.get("gateway"), r["dev"]) for r in ip_json(p.a.ns.path, "route", "show", "proto", "199")}
        assert routes["10.1.2.0/24"] == (p.b.ns.ip, "nic0")


@pytest.mark.parametrize("l2", [False, True], ids=["vxlan", "l2"])
async def test_node_leaving_makes_its_pods_unreachable_and_nothing_else_changes(
    the_lab: Lab, store_dir: Path, l2: bool
) -> None:
    async with two_nodes(the_lab, store_dir, config(UseL2Interconnect=l2)) as p:
        second_a = the_lab.pod()
        r2 = await p.a.add(new_cid(), second_a)
        assert await reachable(p.pod_a, p.ip_b)
        leaving = p.a.node_keys(2)
        assert leaving
        kept = {k: v for k, v in p.a.controller.desired().items() if k not in leaving}

        await p.a.controller.submit(NodeRemoved(node_id=2, node_name=p.b.ns.node_name))
        record = p.a.reconciler.history()[-1]
        assert {(op.op, op.key, op.outcome) for op in record.ops} == {("delete", k, "ok") for k in leaving}
        assert p.a.controller.desired() == kept
        assert not await pings(p.pod_a, p.ip_b)
        assert await reachable(p.pod_a, r2.attachment.ip)  # this node's pods are untouched

        await p.a.controller.submit(NodeUpdated(p.b.ns.info()))  # it comes back
        assert await reachable(p.pod_a, p.ip_b)


@pytest.mark.parametrize("l2", [False, True], ids=["vxlan", "l2"])
async def test_restart_performs_zero_operations(the_lab: Lab, store_dir: Path, l2: bool) -> None:
    cfg = config(NatExternalTraffic=True, UseL2Interconnect=l2)
    async with two_nodes(the_lab, store_dir, cfg) as p:
        assert await reachable(p.pod_a, p.ip_b)
        desired = p.a.controller.desired()
        await stop_node(p.a)
        # the cluster store knows node 2 before the first resync, as the real one does
        p.a = await start_node(cfg, p.a.ns, store_dir / "a.db", nodes=(p.b.ns.info(),))
        try:
            record = p.a.reconciler.history()[-1]
            assert record.kind == TxnKind.RESYNC_FULL
            assert record.ops == ()
            assert p.a.controller.desired() == desired
            assert await reachable(p.pod_a, p.ip_b)
            assert await reachable(p.pod_b, p.ip_a)
        finally:
            await stop_node(p.a)


@pytest.mark.parametrize("nat", [True, False], ids=["snat", "no-snat"])
async def test_traffic_leaving_the_cluster_is_snated(the_lab: Lab, store_dir: Path, nat: bool) -> None:
    """The underlay's own address has no route to any pod: only a masqueraded ping comes back."""
    cfg = config(NatExternalTraffic=nat)
    ns = the_lab.node(cfg, 1)
    async with running_node(cfg, ns, store_dir / "a.db") as node:
        pod = the_lab.pod()
        await node.add(new_cid(), pod)
        tables = _nft_tables(ns.name)
        assert ("contiv" in tables) == nat
        if nat:
            assert await reachable(pod, OUTSIDE_IP)
        else:
            assert not await pings(pod, OUTSIDE_IP)


def _nft_tables(ns_name: str) -> set[str]:
    out = subprocess.run(
        ["ip", "netns", "exec", ns_name, "nft", "-j", "list", "tables"], capture_output=True, text=True, check=True
    )
    return {o["table"]["name"] for o in json.loads(out.stdout)["nftables"] if "table" in o}
