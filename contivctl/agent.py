"""``contivctl agent``: assembles the parts and runs them until told to stop.

Start-up order matters: the configuration and address plan first (a bad
config must fail before anything is touched), then the store, VPP, the
reconciler and the controller's startup resync, and only then the endpoints
that accept work (REST readiness turns green after the resync).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import attrs

from contivctl.cluster import Membership, claim_node_id
from contivctl.config import effective_config, load_config, node_ip_exclusions
from contivctl.config.model import Config
from contivctl.controller import Controller, Resync
from contivctl.controller.podstore import PodStore
from contivctl.dataplane.linux import Namespaces, linux_descriptors
from contivctl.dataplane.vpp.connection import Reconnected, VPPConnection
from contivctl.dataplane.vpp.descriptors import vpp_descriptors
from contivctl.ipam import NodeAddressPlan, PodIPAllocator, node_plan
from contivctl.items import vpp as vpp_items
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import EtcdConfig
from contivctl.kv.local import LocalStore
from contivctl.model import NodeInfo
from contivctl.reconcile import Reconciler
from contivctl.render.pod import PodNetwork
from contivctl.render.vswitch import PodVrfPlan, render_pod_vrf
from contivctl.rest import RestServer

log = logging.getLogger(__name__)

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
    #: the cluster store; None: a lone node (docs/cluster.md)
    etcd: EtcdConfig | None = None
    #: take the node ID from etcd's allocator instead of ``node_id``
    allocate_node_id: bool = False


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
        l2_interconnect=cfg.use_l2_interconnect,
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
        self.reconciler = Reconciler(
            [*vpp_descriptors(self.vpp, state_dir=opts.store.parent), *linux_descriptors(self.namespaces)]
        )
        self.store: LocalStore | None = None
        self.controller: Controller | None = None
        self.rest: RestServer | None = None
        self.membership: Membership | None = None
        self.stopping = asyncio.Event()

    def _vpp_back(self, event: Reconnected) -> None:
        if self.controller is not None:
            resync_after_vpp_restart(self.controller, event)

    def readiness(self) -> tuple[bool, str]:
        if not self.vpp.connected:
            return False, "VPP is not connected"
        if self.controller is None or not self.controller.ready.is_set():
            return False, "startup resync is not done"
        if self.membership is not None and self.membership.conflict:
            return False, self.membership.conflict
        return True, "ready"

    async def start(self) -> None:
        self.store = await LocalStore.open(self.opts.store)
        await self.vpp.start()
        net = pod_network(self.config, self.plan)
        self.controller = Controller(
            reconciler=self.reconciler,
            pod_store=PodStore(self.store, self.opts.node_name),
            namespaces=self.namespaces,
            pod_network=net,
            allocator=PodIPAllocator(self.plan.pod_subnet_this_node),
            base_items=render_pod_vrf(pod_vrf_plan(self.config, self.plan)),
            tcp_stack_enabled=not self.config.tcp_stack_disabled,
        )
        await self.controller.start()
        await self._join_cluster()
        host, _, port = self.opts.http.rpartition(":")
        self.rest = RestServer(
            node_name=self.opts.node_name,
            plan=lambda: self.plan,
            ipam=self.config.ipam,
            ready=self.readiness,
            history=lambda: [r.to_dict() for r in self.reconciler.history()],
        )
        await self.rest.start(host or "127.0.0.1", int(port))
        log.info("agent for node %s (ID %d) is ready", self.opts.node_name, self.opts.node_id)

    async def stop(self) -> None:
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

    async def _join_cluster(self) -> None:
        """Follow the other nodes and publish this one; never waits for etcd to answer."""
        if self.opts.etcd is None or self.controller is None:
            return
        node_ip = () if self.plan.node_ip is None else (str(self.plan.node_ip),)
        me = NodeInfo(self.opts.node_id, self.opts.node_name, node_ip)
        self.membership = Membership(EtcdStore(self.opts.etcd), me, self.controller.post)
        await self.membership.start()

    async def publish_node_ips(
        self, ip_addresses: tuple[str, ...], management_ips: tuple[str, ...] | None = None
    ) -> None:
        """Put this node's new addresses into its etcd record (on NodeIPChanged); returns at once."""
        if self.membership is not None:
            await self.membership.publish(ip_addresses, management_ips)

    async def _leave_cluster(self) -> None:
        """Stop following the cluster; the node record (and so the ID) stays in etcd."""
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
    opts = await cluster_node_id(opts)
    agent = Agent(opts)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.stopping.set)
    try:
        await agent.start()
        await agent.stopping.wait()
    finally:
        try:
            await agent.stop()
        except Exception:  # report, but never hide the error that stopped the agent
            log.exception("the agent did not shut down cleanly")
    return 0


def env_default(name: str, fallback: str) -> str:
    return os.environ.get(name, fallback)
