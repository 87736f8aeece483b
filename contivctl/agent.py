"""``contivctl agent``: assembles the parts and runs them until told to stop.

Start-up order matters: the configuration and address plan first (a bad
config must fail before anything is touched), then the store, VPP, the
reconciler and the controller's startup resync, and only then the endpoints
that accept work (REST readiness turns green after the resync). The CNI
socket opens just before the startup resync: calls made meanwhile wait for
it, up to a bound, and then get "try again later" (docs/cni.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import attrs

from contivctl import gcpolicy
from contivctl.cluster import Membership, claim_node_id, list_nodes, remove_node
from contivctl.cluster.static import StaticMembership
from contivctl.cni.server import STATUS_DEGRADED, STATUS_READY, STATUS_UNAVAILABLE, CNIServer, RemoteCNI
from contivctl.config import effective_config, load_config, node_ip_exclusions
from contivctl.config.model import Config
from contivctl.controller import Controller, Resync
from contivctl.controller.nodes import NodeView
from contivctl.controller.podstore import PodStore
from contivctl.dataplane.linux import Namespaces, kernel_descriptors, linux_descriptors
from contivctl.dataplane.vpp.connection import Reconnected, VPPConnection
from contivctl.dataplane.vpp.descriptors import vpp_descriptors
from contivctl.dataplane.vpp.trace import enable_packet_trace
from contivctl.errors import ContivError, VPPError
from contivctl.ipam import NodeAddressPlan, PodIPAllocator, node_plan
from contivctl.items import vpp as vpp_items
from contivctl.k8s.client import KubernetesAccess, api_client, choose_access
from contivctl.k8s.sources import KubernetesSources, NodeRemovalHook
from contivctl.kernel_wiring import kernel_pod_network, kernel_vswitch_inputs
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import EtcdConfig
from contivctl.kv.local import LocalStore
from contivctl.model import NodeInfo
from contivctl.node_wiring import kubernetes_callbacks, vswitch_inputs, watch_main_nic_leases, with_crd
from contivctl.reconcile import Reconciler
from contivctl.render.base import l2_mode
from contivctl.render.dataplane import Dataplane, renderers_for
from contivctl.render.pod import PodNetwork
from contivctl.render.vswitch import PodVrfPlan, render_pod_vrf
from contivctl.rest import RestServer

log = logging.getLogger(__name__)

#: how long the start waits for etcd's list of nodes before going on without it
ETCD_START_READ_TIMEOUT = 3.0

_RX_MODES = {
    "polling": vpp_items.RxMode.POLLING,
    "interrupt": vpp_items.RxMode.INTERRUPT,
    "adaptive": vpp_items.RxMode.ADAPTIVE,
}


@attrs.frozen
class AgentOptions:
    """Command-line options, each with an environment fallback (docs/agent.md)."""

    config: Path
    node_name: str
    node_id: int = 1
    store: Path = Path("/var/lib/contiv/agent.db")
    vpp_socket: str = "/run/vpp/api.sock"
    vpp_api_dir: str = "/usr/share/vpp/api"
    cni_socket: str = "/var/run/contiv/cni.sock"
    http: str = "127.0.0.1:9999"
    vpp_timeout: float = 5.0
    #: Kubernetes access: a kubeconfig file, else in-cluster when its environment is there
    kubeconfig: str = ""
    no_kubernetes: bool = False
    #: how long the start waits for this node's NodeConfig to be read (then goes on without it)
    k8s_sync_timeout: float = 5.0
    #: how long a CNI call arriving before the startup resync is done waits for it
    cni_ready_timeout: float = 10.0
    #: who plays the vswitch: VPP, or the Linux kernel of ``vswitch_netns`` (docs/kernel-dataplane.md)
    dataplane: Dataplane = "vpp"
    #: kernel dataplane: the namespace playing the vswitch ("" = the agent's own)
    vswitch_netns: str = ""
    #: the cluster store; None: a lone node (docs/cluster.md)
    etcd: EtcdConfig | None = None
    #: take the node ID from etcd's allocator instead of ``node_id``
    allocate_node_id: bool = False
    #: the other nodes from a file instead of etcd (docs/cluster.md, "Without etcd")
    nodes_file: Path | None = None


def pod_network(cfg: Config, plan: NodeAddressPlan) -> PodNetwork:
    return PodNetwork(
        mode="tap" if cfg.use_tap_interfaces else "veth",
        gateway=plan.pod_gateway,
        pod_vrf=cfg.pod_vrf_id,
        mtu=cfg.mtu_size,
        rx_ring_size=cfg.tap_v2_rx_ring_size or 256,
        tx_ring_size=cfg.tap_v2_tx_ring_size or 256,
        checksum_offload=not cfg.tcp_checksum_offload_disabled,
        rx_mode=_RX_MODES.get(cfg.interface_rx_mode),
    )


def pod_vrf_plan(cfg: Config, plan: NodeAddressPlan) -> PodVrfPlan:
    assert cfg.ipam.vpp_host_subnet_cidr is not None
    return PodVrfPlan(
        main_vrf=cfg.main_vrf_id,
        pod_vrf=cfg.pod_vrf_id,
        gateway=plan.pod_gateway,
        node_pod_subnet=plan.pod_subnet_this_node,
        pod_subnet=plan.pod_subnet_cidr,
        vpp_host_subnet=cfg.ipam.vpp_host_subnet_cidr,
        node_vpp_host_subnet=plan.vpp_host_network,
        l2_interconnect=l2_mode(cfg),
        tcp_stack=not cfg.tcp_stack_disabled,
    )


def resync_after_vpp_restart(controller: Controller, event: Reconnected) -> None:
    """A VPP that lost its configuration gets all of it back through a full resync."""
    if event.restarted:
        log.warning("VPP restarted (%s): full resync", event.reason)
        controller.post(Resync(full=True, reason=f"VPP restarted: {event.reason}"))


class Agent:
    def __init__(self, opts: AgentOptions) -> None:
        self.opts = opts
        self.config = load_config(opts.config)
        eff = effective_config(self.config, opts.node_name)
        self.plan = node_plan(
            self.config.ipam,
            opts.node_id,
            excluded=node_ip_exclusions(self.config),
            dhcp=eff.use_dhcp,
            static_ip=eff.main_interface.ip,
        )
        self.vpp = VPPConnection(
            opts.vpp_socket, api_dir=opts.vpp_api_dir, timeout=opts.vpp_timeout, on_reconnect=self._vpp_back
        )
        self.namespaces = Namespaces()
        self.renderers = renderers_for(opts.dataplane)
        if self.kernel:
            descriptors = kernel_descriptors(self.namespaces, opts.vswitch_netns, scope=opts.node_name)
        else:
            descriptors = [
                *vpp_descriptors(self.vpp, state_dir=opts.store.parent),
                *linux_descriptors(self.namespaces, scope=opts.node_name),
            ]
        self.reconciler = Reconciler(descriptors)
        self.store: LocalStore | None = None
        self.controller: Controller | None = None
        self.rest: RestServer | None = None
        self.cni: CNIServer | None = None
        self.membership: Membership | None = None
        self.static_members: StaticMembership | None = None
        self._publishing: asyncio.Task[None] | None = None
        self._tracing: asyncio.Task[None] | None = None
        self.stopping = asyncio.Event()
        self.node_view: NodeView | None = None
        self.k8s_access: KubernetesAccess = choose_access(opts.kubeconfig, opts.no_kubernetes)
        self.kubernetes: KubernetesSources | None = None
        #: awaited with a node's name when its Kubernetes Node is deleted, before its
        #: dataplane items go (the cluster store's part of a node leaving)
        self.node_removal_hooks: list[NodeRemovalHook] = []
        if opts.etcd is not None:
            self.node_removal_hooks.append(self._remove_node_from_cluster)

    def _vpp_back(self, event: Reconnected) -> None:
        if self.controller is not None:
            resync_after_vpp_restart(self.controller, event)
        if event.restarted and self.config.enable_packet_trace:
            self._tracing = asyncio.get_running_loop().create_task(self._trace_packets())

    async def _trace_packets(self) -> None:
        try:
            await enable_packet_trace(self.vpp)
        except VPPError as exc:  # a debugging aid: its failure must not stop the agent
            log.warning("packet trace not enabled: %s", exc)

    @property
    def kernel(self) -> bool:
        """The kernel plays the vswitch: VPP is neither connected to nor waited for."""
        return self.opts.dataplane == "kernel"

    def readiness(self) -> tuple[bool, str]:
        if not self.kernel and not self.vpp.connected:
            return False, "VPP is not connected"
        if self.controller is None or not self.controller.ready.is_set():
            return False, "startup resync is not done"
        if self.membership is not None and self.membership.conflict:
            return False, self.membership.conflict
        return True, "ready"

    def cni_status(self) -> tuple[int, str]:
        """CNI STATUS: can an ADD be served now, and if not, are running pods affected too."""
        if self.controller is None or not self.controller.ready.is_set():
            return STATUS_UNAVAILABLE, "the agent is starting: startup resync is not done"
        if not self.kernel and not self.vpp.connected:
            return STATUS_DEGRADED, "VPP is not connected: existing pods may have limited connectivity"
        return STATUS_READY, "ready"

    async def start(self) -> None:
        """Store, REST (so health answers while VPP is awaited), VPP, then the controller's resync."""
        self.store = await LocalStore.open(self.opts.store)
        host, _, port = self.opts.http.rpartition(":")
        self.rest = RestServer(
            node_name=self.opts.node_name,
            plan=lambda: self.node_view.inputs.plan if self.node_view is not None else self.plan,
            ipam=self.config.ipam,
            ready=self.readiness,
            history=lambda: [r.to_dict() for r in self.reconciler.history()],
        )
        await self.rest.start(host or "127.0.0.1", int(port))
        if self.kernel:
            await self._start_kernel(self.store)
            return
        await self.vpp.start()
        if self.config.enable_packet_trace:
            await self._trace_packets()
        self.node_view = NodeView(await vswitch_inputs(self.config, self.opts.node_name, self.opts.node_id, self.vpp))
        net = pod_network(self.config, self.plan)
        self.controller = Controller(
            reconciler=self.reconciler,
            pod_store=PodStore(self.store, self.opts.node_name),
            namespaces=self.namespaces,
            pod_network=net,
            allocator=PodIPAllocator(self.plan.pod_subnet_this_node),
            base_items=render_pod_vrf(pod_vrf_plan(self.config, self.plan)),
            tcp_stack_enabled=not self.config.tcp_stack_disabled,
            node_view=self.node_view,
        )
        watch_main_nic_leases(self.vpp, self.controller)
        await self._run_controller(self.controller, self.node_view)
        log.info("agent for node %s (ID %d) is ready", self.opts.node_name, self.opts.node_id)

    async def _run_controller(self, controller: Controller, view: NodeView) -> None:
        """What both dataplanes do once their controller exists: sources, CNI, startup resync, cluster."""
        await self._start_kubernetes(controller, view)
        # CNI calls are accepted from now on; they wait (bounded) for the startup resync.
        self.cni = CNIServer(
            RemoteCNI(controller, ready_timeout=self.opts.cni_ready_timeout, status=self.cni_status),
            self.opts.cni_socket,
        )
        await self.cni.start()
        self._read_nodes_file(controller, view)
        await self._read_cluster_nodes(view)
        await controller.start()
        await self._join_cluster()

    async def _start_kernel(self, store: LocalStore) -> None:
        """The kernel dataplane's start: no VPP, no pod VRF, no TCP stack, no DHCP leases to follow."""
        netns = self.opts.vswitch_netns
        self.node_view = NodeView(
            kernel_vswitch_inputs(self.config, self.opts.node_name, self.opts.node_id, netns), self.renderers
        )
        self.controller = Controller(
            reconciler=self.reconciler,
            pod_store=PodStore(store, self.opts.node_name),
            namespaces=self.namespaces,
            pod_network=kernel_pod_network(self.config, self.plan, netns),
            allocator=PodIPAllocator(self.plan.pod_subnet_this_node),
            base_items={},
            node_view=self.node_view,
            renderers=self.renderers,
        )
        await self._run_controller(self.controller, self.node_view)
        log.info(
            "agent for node %s (ID %d) is ready; the kernel of %s is the vswitch",
            self.opts.node_name,
            self.opts.node_id,
            netns or "its own namespace",
        )

    async def _start_kubernetes(self, controller: Controller, view: NodeView) -> None:
        """Start the reflectors; wait (bounded) for this node's NodeConfig so the first resync uses it."""
        if not self.k8s_access.enabled:
            log.info("running without Kubernetes")
            return
        sources = KubernetesSources(
            await api_client(self.k8s_access), self.opts.node_name, kubernetes_callbacks(controller)
        )
        for hook in self.node_removal_hooks:
            sources.register_node_removal_hook(hook)
        sources.start()
        self.kubernetes = sources
        try:
            await asyncio.wait_for(sources.node_configs.synced.wait(), self.opts.k8s_sync_timeout)
        except TimeoutError:
            log.warning(
                "NodeConfig not read within %.0fs; starting with the file's node entry", self.opts.k8s_sync_timeout
            )
            return
        crd = sources.node_config()
        if crd is not None:
            view.set_inputs(with_crd(view.inputs, crd))  # before the controller runs: the startup resync applies it

    async def stop(self) -> None:
        if self.kubernetes is not None:
            await self.kubernetes.stop()
            await self.kubernetes.close()
        if self.cni is not None:
            await self.cni.stop()
        if self.rest is not None:
            await self.rest.stop()
        await self._leave_cluster()
        if self.controller is not None:
            await self.controller.stop()
        await self.reconciler.aclose()
        await self.vpp.close()
        if self.store is not None:
            await self.store.close()

    # -- cluster membership (etcd) ---------------------------------------------------

    async def _remove_node_from_cluster(self, name: str) -> None:
        """A deleted Kubernetes Node leaves the cluster: its ID record and data go from etcd (idempotent)."""
        assert self.opts.etcd is not None
        store = EtcdStore(self.opts.etcd)
        try:
            removed = await remove_node(store, name)
            log.info("node %s left the cluster: removed IDs %s", name, list(removed.ids))
        finally:
            await store.close()

    def _read_nodes_file(self, controller: Controller, view: NodeView) -> None:
        """The static members go into the view before the startup resync: a restart then keeps their items."""
        if self.opts.nodes_file is None:
            return
        self.static_members = StaticMembership(self.opts.nodes_file, self.opts.node_name, controller.post)
        nodes = self.static_members.read()
        for node in nodes:
            view.set_node(node)
        self.static_members.seed(nodes)
        log.info("%d other nodes from %s", len(nodes), self.opts.nodes_file)

    async def _read_cluster_nodes(self, view: NodeView) -> None:
        """The other nodes known to etcd go into the view before the startup resync.

        Without them, a restarted agent would resync without its peers and
        delete and re-create their tunnels and routes. etcd being away must not
        hold the start: then the membership watch brings the nodes later.
        """
        if self.opts.etcd is None:
            return
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

    async def _join_cluster(self) -> None:
        """Follow the other nodes and publish this one; never waits for etcd to answer."""
        if self.static_members is not None:
            await self.static_members.start()
        if self.opts.etcd is None or self.controller is None:
            return
        node_ip = () if self.plan.node_ip is None else (str(self.plan.node_ip),)
        me = NodeInfo(self.opts.node_id, self.opts.node_name, node_ip)
        self.membership = Membership(EtcdStore(self.opts.etcd), me, self.controller.post)
        await self.membership.start()
        if self.node_view is not None:
            self.node_view.add_node_ip_listener(self._node_ip_changed)

    def _node_ip_changed(self, ip: object | None) -> None:
        """A new node IP (a DHCP lease, a NodeConfig change) goes into this node's etcd record."""
        addresses = () if ip is None else (str(ip),)
        self._publishing = asyncio.get_running_loop().create_task(self.publish_node_ips(addresses))

    async def publish_node_ips(
        self, ip_addresses: tuple[str, ...], management_ips: tuple[str, ...] | None = None
    ) -> None:
        """Put this node's new addresses into its etcd record (on NodeIPChanged); returns at once."""
        if self.membership is not None:
            await self.membership.publish(ip_addresses, management_ips)

    async def _leave_cluster(self) -> None:
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


async def run_agent(opts: AgentOptions) -> int:
    gcpolicy.tune()
    opts = await cluster_node_id(opts)
    agent = Agent(opts)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.stopping.set)
    try:
        starting = asyncio.create_task(agent.start(), name="agent start")
        stopping = asyncio.create_task(agent.stopping.wait(), name="stop signal")
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # a start-up failure is raised here
            gcpolicy.settle()
            await stopping
        else:
            log.info("stopping while still starting up")
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
    finally:
        try:
            await agent.stop()
        except Exception:  # report, but never hide the error that stopped the agent
            log.exception("the agent did not shut down cleanly")
    return 0


def env_default(name: str, fallback: str) -> str:
    return os.environ.get(name, fallback)
