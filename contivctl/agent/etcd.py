"""This node in an etcd cluster: its ID claimed, its record published, the other nodes followed.

etcd being away never holds up the start or a pod: the nodes are read
before the startup resync within a bound, and the watch brings them later
otherwise. The nodes read then seed the membership, so its first snapshot
posts only what changed since (not thousands of no-op updates that pods
would queue behind). A Kubernetes Node deleted for good leaves the cluster
store through the node-removal hook.
"""

from __future__ import annotations

import asyncio
import logging

import attrs

from contivctl.agent.options import AgentOptions
from contivctl.cluster.admin import list_nodes, remove_node
from contivctl.cluster.membership import Membership
from contivctl.cluster.nodeid import claim_node_id
from contivctl.controller import Controller, NodeView
from contivctl.errors import ContivError
from contivctl.iptypes import IPInterface
from contivctl.k8s.hooks import NodeRemovalHook
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import EtcdConfig
from contivctl.kv.local import LocalStore
from contivctl.model import NodeInfo

log = logging.getLogger(__name__)

#: how long the start waits for etcd's list of nodes before going on without it
ETCD_START_READ_TIMEOUT = 3.0


class EtcdCluster:
    def __init__(self, opts: AgentOptions) -> None:
        assert opts.etcd is not None
        self.opts = opts
        self.etcd: EtcdConfig = opts.etcd
        self.membership: Membership | None = None
        self._known: list[NodeInfo] = []
        self._publishing: asyncio.Task[None] | None = None
        self.node_removal_hooks: list[NodeRemovalHook] = [self._remove_node_from_cluster]

    @property
    def conflict(self) -> str | None:
        return self.membership.conflict if self.membership is not None else None

    async def _remove_node_from_cluster(self, name: str) -> None:
        """A deleted Kubernetes Node leaves the cluster: its ID record and data go from etcd (idempotent)."""
        store = EtcdStore(self.etcd)
        try:
            removed = await remove_node(store, name)
            log.info("node %s left the cluster: removed IDs %s", name, list(removed.ids))
        finally:
            await store.close()

    async def before_resync(self, controller: Controller) -> None:
        await self._read_nodes(controller.node_view)

    async def _read_nodes(self, view: NodeView) -> None:
        store = EtcdStore(self.etcd)
        try:
            nodes = await asyncio.wait_for(list_nodes(store), ETCD_START_READ_TIMEOUT)
        except (TimeoutError, ContivError) as exc:
            log.warning("other nodes not read from etcd before the resync (%s); they follow from the watch", exc)
            return
        finally:
            await store.close()
        self._known = [n for n in nodes if n.name != self.opts.node_name and n.id != self.opts.node_id]
        for node in self._known:
            view.set_node(node)
        log.info("%d other nodes from etcd", len(self._known))

    async def join(self, controller: Controller) -> None:
        view = controller.node_view
        node_ip = view.node_ip
        me = NodeInfo(
            self.opts.node_id,
            self.opts.node_name,
            () if node_ip is None else (str(node_ip),),
            management_ips(view),
        )
        self.membership = Membership(EtcdStore(self.etcd), me, controller.post)
        self.membership.seed(self._known)
        await self.membership.start()
        view.add_node_ip_listener(self._node_ip_changed)
        view.add_management_ips_listener(self._management_ips_changed)

    def _node_ip_changed(self, ip: IPInterface | None) -> None:
        """A new node IP (a DHCP lease, a NodeConfig change) goes into this node's etcd record."""
        addresses = () if ip is None else (str(ip),)
        self._publishing = asyncio.get_running_loop().create_task(self.publish_node_ips(addresses))

    def _management_ips_changed(self, ips: tuple[str, ...]) -> None:
        """Kubernetes reports other management IPs for this node: they go into its etcd record."""
        if self.membership is not None:
            current = self.membership.me.ip_addresses
            self._publishing = asyncio.get_running_loop().create_task(self.publish_node_ips(current, ips))

    async def publish_node_ips(
        self, ip_addresses: tuple[str, ...], management_ips: tuple[str, ...] | None = None
    ) -> None:
        """Put this node's new addresses into its etcd record; returns at once."""
        if self.membership is not None:
            await self.membership.publish(ip_addresses, management_ips)

    def describe(self) -> dict[str, object]:
        m = self.membership
        return {
            "kind": "etcd",
            "endpoints": list(self.etcd.endpoints),
            "following": m is not None,
            "nodes": len(m.nodes) if m is not None else len(self._known),
            "conflict": self.conflict or "",
        }

    async def leave(self) -> None:
        """Stop following the cluster; the node record (and so the ID) stays in etcd."""
        if self.membership is not None:
            membership, self.membership = self.membership, None
            await membership.stop()
            await membership.store.close()


def management_ips(view: NodeView) -> tuple[str, ...]:
    """This node's management IPs for its record: Kubernetes' InternalIP/ExternalIP, else the host's own.

    Contiv-VPP v2.0 agents wire a peer only once its record has both a node IP
    and a management IP: a record without one would leave this node cut off
    from them in a cluster migrated node by node.
    """
    return view.own_management_ips or tuple(str(ip) for ip in view.inputs.host_ips)


async def claim_node_id_of(opts: AgentOptions) -> AgentOptions:
    """The options with the node ID etcd's allocator gives (or recalls for) this node."""
    assert opts.etcd is not None
    local = await LocalStore.open(opts.store)
    cluster = EtcdStore(opts.etcd)
    try:
        claim = await claim_node_id(cluster, local, opts.node_name)
    finally:
        await cluster.close()
        await local.close()
    log.info("node %s has ID %d%s", opts.node_name, claim.id, "" if claim.confirmed else " (etcd not reachable yet)")
    return attrs.evolve(opts, node_id=claim.id)
