"""The periodic sweep on a real node: attachments whose namespace or pod is gone go, and nothing else.

Pods are real network namespaces wired through the emulator; the pods
Kubernetes has are given by a stand-in for the Kubernetes sources
(tests/nodes/test_sweep_k8s.py has the real ones against kmock).
"""

from __future__ import annotations

from pathlib import Path

import attrs

from contivctl.agent.sweep import Sweeper
from contivctl.events import AddPod, PodsOnNode, SweepResult
from contivctl.model import PodRef
from contivctl.render import naming
from contivctl.testing.vppemu import Emulator
from tests.agent.inprocess import options, running_agent
from tests.agent.support import Node, Pods, config, link_exists, running_node, vpp_interfaces
from tests.polling import until


@attrs.define
class Listed:
    """What the Kubernetes sources would say: the watched index, and a list read now."""

    index: PodsOnNode | None
    fresh: PodsOnNode
    fresh_lists: int = 0

    def pods_now(self) -> PodsOnNode | None:
        return self.index

    async def list_pods(self) -> PodsOnNode:
        self.fresh_lists += 1
        return self.fresh


def pods_of(*named: tuple[str, str]) -> PodsOnNode:
    """Pods by (name, uid), in namespace default."""
    return PodsOnNode(uids=frozenset(u for _n, u in named), names=frozenset(PodRef("default", n) for n, _u in named))


def sweeper(node: Node, lister: Listed | None) -> Sweeper:
    c = node.controller
    return Sweeper(c.submit, c.ready, lambda: c.pods.attachments.values(), lister)


async def gone_from_vpp_and_host(node: Node, cid: str) -> bool:
    return not link_exists(None, naming.host_veth_name(cid, "eth0")) and naming.vpp_pod_if_name(
        cid, "eth0"
    ) not in await vpp_interfaces(node.vpp)


async def test_an_attachment_whose_network_namespace_is_gone_is_removed_and_its_address_freed(
    emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    async with running_node(emu, tmp_path / "store.db", config()) as node:
        keep_ns, keep = pods.netns(), pods.cid()
        gone_ns, gone = pods.netns(), pods.cid()
        await node.add(keep, keep_ns, uid="u-keep")
        lost = await node.add(gone, gone_ns, uid="u-gone")
        pods.remove_netns(gone_ns)  # the sandbox went without a DEL reaching the agent

        result = await sweeper(node, None).sweep()

        assert result == SweepResult(removed=((lost.attachment.key, "netns-gone"),))
        assert [a.container_id for a in node.controller.pods.attachments.values()] == [keep]
        assert str(lost.attachment.ip) not in {str(ip) for ip in node.controller.pods.allocator.allocations().values()}
        assert all(gone not in key for key in await node.store.list("/"))
        await until(lambda: gone_from_vpp_and_host(node, gone))
        assert link_exists(keep_ns, "eth0")
        (record,) = [r for r in node.reconciler.history() if r.trigger.startswith(f"garbage-collect {gone}")]
        assert "is gone" in record.trigger and record.ops and all(o.outcome == "ok" for o in record.ops)


async def test_only_suspects_confirmed_by_a_fresh_list_are_removed(emu: Emulator, pods: Pods, tmp_path: Path) -> None:
    async with running_node(emu, tmp_path / "store.db", config()) as node:
        added = {}
        for name in ("web", "deleted", "lagging", "renamed", "nameless"):
            cid, netns = pods.cid(), pods.netns()
            pod = PodRef("", "") if name == "nameless" else PodRef("default", name)
            uid = "" if name in ("renamed", "nameless") else f"u-{name}"
            ev = AddPod(container_id=cid, ifname="eth0", netns=netns, pod=pod, uid=uid)
            added[name] = await node.controller.submit(ev)
        # "deleted" and "renamed" (no UID: known by name) are gone from Kubernetes. "lagging" is in
        # the API server but not yet in the watched index: a suspect that the fresh list clears.
        # "nameless" came from a runtime without Kubernetes: never a pod's to sweep.
        index = pods_of(("web", "u-web"))
        fresh = pods_of(("web", "u-web"), ("lagging", "u-lagging"))
        lister = Listed(index, fresh)

        result = await sweeper(node, lister).sweep()

        gone = {added["deleted"].attachment.key, added["renamed"].attachment.key}
        assert {k for k, _ in result.removed} == gone and {why for _, why in result.removed} == {"pod-gone"}
        assert lister.fresh_lists == 1
        left = {a.key for a in node.controller.pods.attachments.values()}
        assert left == {added[n].attachment.key for n in ("web", "lagging", "nameless")}
        assert len(node.controller.pods.allocator) == 3

        # Nothing suspected: no list is read at all.
        again = Listed(fresh, fresh)
        assert await sweeper(node, again).sweep() == SweepResult()
        assert again.fresh_lists == 0


async def test_a_pod_list_never_read_or_not_current_removes_no_pod(emu: Emulator, pods: Pods, tmp_path: Path) -> None:
    async with running_node(emu, tmp_path / "store.db", config()) as node:
        await node.add(pods.cid(), pods.netns(), pod="web", uid="u-web")
        nobody = PodsOnNode()
        assert await sweeper(node, Listed(None, nobody)).sweep() == SweepResult()  # index not listed yet
        assert len(node.controller.pods) == 1

        class Unreachable(Listed):
            async def list_pods(self) -> PodsOnNode:
                raise OSError("connection refused")

        # suspected from the index, but the API server cannot confirm it: kept
        assert await sweeper(node, Unreachable(nobody, nobody)).sweep() == SweepResult()
        assert len(node.controller.pods) == 1


async def test_the_agent_sweeps_on_its_own_and_counts_what_it_removed(
    emu: Emulator, pods: Pods, sockdir: Path, tmp_path: Path
) -> None:
    async with running_agent(
        options(emu, sockdir, tmp_path, gc_interval=0.05, config={"UseTAPInterfaces": False})
    ) as run:
        node = run.agent.node
        assert node is not None
        netns = pods.netns()
        await node.controller.submit(
            AddPod(container_id=pods.cid(), ifname="eth0", netns=netns, pod=PodRef("default", "web"), uid="u-web")
        )
        pods.remove_netns(netns)
        await until(lambda: len(node.controller.pods) == 0)
        # counted once the sweep that removed it has its answer, a moment after the removal itself
        counted = 'contivctl_attachments_collected_total{reason="netns-gone"} 1.0'
        await until(lambda: counted in run.agent.metrics.exposition().decode())
