"""This node among the others: the nodes file or etcd, wired to the controller.

Before the startup resync the other nodes go into the node view, so that a
restarted agent does not delete and re-create its peers' tunnels and
routes; afterwards their changes arrive as events. With etcd this node
also publishes its own record (its node IP, again whenever it changes) and
a Kubernetes Node deleted for good leaves the cluster store through the
node-removal hook. etcd being away never holds up the start or a pod.
"""

from __future__ import annotations

import asyncio
import logging

import attrs

from contivctl.agent.options import AgentOptions
from contivctl.cluster import Membership, claim_node_id, list_nodes, remove_node
from contivctl.cluster.static import StaticMembership
from contivctl.controller import Controller, NodeView
from contivctl.errors import ContivError
from contivctl.iptypes import IPInterface
from contivctl.k8s.sources import NodeRemovalHook
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.local import LocalStore
from contivctl.model import NodeInfo

log = logging.getLogger(__name__)

#: how long the start waits for etcd's list of nodes before going on without it
ETCD_START_READ_TIMEOUT = 3.0


class ClusterWiring:
    def __init__(self, opts: AgentOptions) -> None:
        self.opts = opts
        self.membership: Membership | None = None
        self.static_members: StaticMembership | None = None
        self._publishing: asyncio.Task[None] | None = None
        #: awaited with a node's name when its Kubernetes Node is deleted, before its
        #: dataplane items go (the cluster store's part of a node leaving)
        self.node_removal_hooks: list[NodeRemovalHook] = []
        if opts.etcd is not None:
            self.node_removal_hooks.append(self._remove_node_from_cluster)

    @property
    def conflict(self) -> str | None:
        """Why this node cannot take its place (another node holds its ID), if so."""
        return self.membership.conflict if self.membership is not None else None

    async def _remove_node_from_cluster(self, name: str) -> None:
        """A deleted Kubernetes Node leaves the cluster: its ID record and data go from etcd (idempotent)."""
        assert self.opts.etcd is not None
        store = EtcdStore(self.opts.etcd)
        try:
            removed = await remove_node(store, name)
            log.info("node %s left the cluster: removed IDs %s", name, list(removed.ids))
        finally:
            await store.close()

    async def before_resync(self, controller: Controller) -> None:
        """The other nodes into the view, from the nodes file or etcd (bounded wait)."""
        view = controller.node_view
        if self.opts.nodes_file is not None:
            self.static_members = StaticMembership(self.opts.nodes_file, self.opts.node_name, controller.post)
            nodes = self.static_members.read()
            for node in nodes:
                view.set_node(node)
            self.static_members.seed(nodes)
            log.info("%d other nodes from %s", len(nodes), self.opts.nodes_file)
        if self.opts.etcd is not None:
            await self._read_etcd_nodes(view)

    async def _read_etcd_nodes(self, view: NodeView) -> None:
        assert self.opts.etcd is not None
        store = EtcdStore(self.opts.etcd)
        try:
            nodes = await asyncio.wait_for(list_nodes(store), ETCD_START_READ_TIMEOUT)
        except (TimeoutError, ContivError) as exc:
            log.warning("other nodes not read from etcd before the resync (%s); they follow from the watch", exc)
            return
        finally:
            await store.close()
        others = [n for n in nodes if n.name != self.opts.node_name and n.id != self.opts.node_id]
        for node in others:
            view.set_node(node)
        log.info("%d other nodes from etcd", len(others))

    async def join(self, controller: Controller) -> None:
        """Follow the other nodes and publish this one; never waits for etcd to answer."""
        if self.static_members is not None:
            await self.static_members.start()
        if self.opts.etcd is None:
            return
        view = controller.node_view
        node_ip = view.node_ip
        me = NodeInfo(self.opts.node_id, self.opts.node_name, () if node_ip is None else (str(node_ip),))
        self.membership = Membership(EtcdStore(self.opts.etcd), me, controller.post)
        await self.membership.start()
        view.add_node_ip_listener(self._node_ip_changed)

    def _node_ip_changed(self, ip: IPInterface | None) -> None:
        """A new node IP (a DHCP lease, a NodeConfig change) goes into this node's etcd record."""
        addresses = () if ip is None else (str(ip),)
        self._publishing = asyncio.get_running_loop().create_task(self.publish_node_ips(addresses))

    async def publish_node_ips(
        self, ip_addresses: tuple[str, ...], management_ips: tuple[str, ...] | None = None
    ) -> None:
        """Put this node's new addresses into its etcd record; returns at once."""
        if self.membership is not None:
            await self.membership.publish(ip_addresses, management_ips)

    async def leave(self) -> None:
        """Stop following the cluster; the node record (and so the ID) stays in etcd."""
        if self.static_members is not None:
            await self.static_members.stop()
        if self.membership is not None:
            membership, self.membership = self.membership, None
            await membership.stop()
            await membership.store.close()


async def cluster_node_id(opts: AgentOptions) -> AgentOptions:
    """With etcd and no explicit node ID, claim (or recall) it before the address plan is computed."""
    if opts.etcd is None or not opts.allocate_node_id:
        return opts
    local = await LocalStore.open(opts.store)
    cluster = EtcdStore(opts.etcd)
    try:
        claim = await claim_node_id(cluster, local, opts.node_name)
    finally:
        await cluster.close()
        await local.close()
    log.info("node %s has ID %d%s", opts.node_name, claim.id, "" if claim.confirmed else " (etcd not reachable yet)")
    return attrs.evolve(opts, node_id=claim.id)
