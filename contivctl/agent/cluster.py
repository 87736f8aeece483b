"""This node among the others: nobody, a nodes file, or etcd, wired to the controller.

Before the startup resync the other nodes go into the node view, so that a
restarted agent does not delete and re-create its peers' tunnels and
routes; afterwards their changes arrive as events, and only the changes:
what was put into the view before the resync is not posted again.

etcd's wiring (``agent/etcd.py``) is imported only when etcd is
configured: its client library costs a restart time it should not cost a
node without it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from contivctl.agent.options import AgentOptions
from contivctl.cluster.static import StaticMembership
from contivctl.controller import Controller
from contivctl.k8s.hooks import NodeRemovalHook

log = logging.getLogger(__name__)


class ClusterWiring(Protocol):
    #: awaited with a node's name when its Kubernetes Node is deleted, before its items go
    node_removal_hooks: list[NodeRemovalHook]

    @property
    def conflict(self) -> str | None:
        """Why this node cannot take its place (another node holds its ID), if so."""
        ...

    async def before_resync(self, controller: Controller) -> None:
        """The other nodes into the view, as far as they can be known now (bounded)."""
        ...

    async def join(self, controller: Controller) -> None:
        """Follow the other nodes (and publish this one); never waits for a store to answer."""
        ...

    async def leave(self) -> None: ...

    def describe(self) -> dict[str, object]:
        """How this node learns of the others, as ``contivctl status`` shows it."""
        ...


class LoneNode:
    """No other nodes: a single-node cluster, or one whose peers nobody tells us about."""

    def __init__(self) -> None:
        self.node_removal_hooks: list[NodeRemovalHook] = []

    @property
    def conflict(self) -> str | None:
        return None

    async def before_resync(self, controller: Controller) -> None:
        return None

    async def join(self, controller: Controller) -> None:
        return None

    async def leave(self) -> None:
        return None

    def describe(self) -> dict[str, object]:
        return {"kind": "none"}


class NodesFile(LoneNode):
    """The other nodes from a file, followed while running (docs/cluster.md, "Without etcd")."""

    def __init__(self, opts: AgentOptions) -> None:
        super().__init__()
        assert opts.nodes_file is not None
        self.path = opts.nodes_file
        self._node_name = opts.node_name
        self.members: StaticMembership | None = None

    async def before_resync(self, controller: Controller) -> None:
        self.members = StaticMembership(self.path, self._node_name, controller.post)
        # read here, not in a child process as while running: nothing is served before the startup
        # resync, and a child's interpreter start alone costs more than parsing most files
        nodes = self.members.read()
        for node in nodes:
            controller.node_view.set_node(node)
        self.members.seed(nodes)
        log.info("%d other nodes from %s", len(nodes), self.path)

    async def join(self, controller: Controller) -> None:
        if self.members is not None:
            await self.members.start()

    async def leave(self) -> None:
        if self.members is not None:
            await self.members.stop()

    def describe(self) -> dict[str, object]:
        return {"kind": "nodes file", "path": str(self.path), "nodes": len(self.members.nodes) if self.members else 0}


def cluster_wiring(opts: AgentOptions) -> ClusterWiring:
    """The one place the kind of cluster membership is chosen."""
    if opts.etcd is not None:
        from contivctl.agent.etcd import EtcdCluster

        return EtcdCluster(opts)
    if opts.nodes_file is not None:
        return NodesFile(opts)
    return LoneNode()


async def cluster_node_id(opts: AgentOptions) -> AgentOptions:
    """With etcd and no explicit node ID, claim (or recall) it before the address plan is computed."""
    if opts.etcd is None or not opts.allocate_node_id:
        return opts
    from contivctl.agent.etcd import claim_node_id_of

    return await claim_node_id_of(opts)
