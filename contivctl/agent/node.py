"""One node's reconciler, views and controller, built the same way for every flavour.

The agent builds its node here, and so do the tests, around an emulated
VPP or a namespace of their own: what they test is what the agent runs.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from contivctl.agent.parts import DataplaneParts
from contivctl.config.model import Config, NodeConfig
from contivctl.controller import Controller, NodeView
from contivctl.controller.podstore import PodStore
from contivctl.dataplane.linux import netns_exists
from contivctl.ipam import node_setup
from contivctl.kv.store import KVStore
from contivctl.reconcile import Reconciler
from contivctl.reconcile.history import TxnRecord


@attrs.define
class Node:
    parts: DataplaneParts
    reconciler: Reconciler
    controller: Controller

    @property
    def view(self) -> NodeView:
        return self.controller.node_view


async def assemble(
    parts: DataplaneParts,
    cfg: Config,
    node_name: str,
    node_id: int,
    store: KVStore,
    *,
    crd: NodeConfig | None = None,
    on_record: Callable[[TxnRecord], None] | None = None,
    services: bool = False,
) -> Node:
    """The node, its dataplane connected and its inputs read, its controller not started yet.

    Start it with ``node.controller.start()`` (the startup resync), once
    whatever must be in the view before the resync (the other nodes, the
    Services) is. ``services``: the node forwards Kubernetes Services.
    """
    await parts.connect()
    inputs = await parts.inputs(node_setup(cfg, node_name, node_id, crd=crd))
    if services:
        inputs = attrs.evolve(inputs, services=True)
    reconciler = Reconciler(parts.descriptors(), on_record=on_record)
    controller = Controller(
        reconciler=reconciler,
        pod_store=PodStore(store, node_name),
        node_view=NodeView(inputs, parts.renderers),
        netns_exists=netns_exists,
    )
    parts.follow(controller.post)
    return Node(parts, reconciler, controller)


async def stop_node(node: Node) -> None:
    await node.controller.stop()
    await node.reconciler.aclose()
    await node.parts.close()
