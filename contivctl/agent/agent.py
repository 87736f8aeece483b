"""``contivctl agent``: assembles the parts and runs them until told to stop.

Start-up order matters: the configuration and address plan first (a bad
config must fail before anything is touched), then the store, REST (so
health answers while VPP is awaited), the dataplane, the node (reconciler,
views, controller), Kubernetes, and the controller's startup resync; only
then the DELs contiv-cni queued while no agent could take them, and only
then the cluster membership. The CNI socket opens just before the startup
resync: calls made meanwhile wait for the resync and the queued DELs, up to
a bound, and then get "try again later" (docs/cni.md).

The agent does not branch on the dataplane: ``DataplaneParts`` (VPP's or
the kernel's) is chosen once, here, and everything else is the same.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from contivctl import __version__, gcpolicy
from contivctl.agent.cluster import cluster_node_id, cluster_wiring
from contivctl.agent.health import ResyncHealth, Watchdog
from contivctl.agent.logs import RecentLogs
from contivctl.agent.looplag import LoopLag
from contivctl.agent.node import Node, assemble, stop_node
from contivctl.agent.options import AgentOptions
from contivctl.agent.parts import DataplaneParts
from contivctl.agent.reports import Reports
from contivctl.agent.services import ServicesFromFile, services_from_kubernetes
from contivctl.agent.sweep import Sweeper
from contivctl.agent.vpp import VppParts
from contivctl.api import ContivAPI
from contivctl.cni.delqueue import DeleteQueue
from contivctl.cni.server import STATUS_DEGRADED, STATUS_READY, STATUS_UNAVAILABLE, CNIServer, RemoteCNI
from contivctl.config import load_config
from contivctl.config.model import Config
from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.dataplane.vpp.natsessions import IdleTimeouts
from contivctl.errors import ContivError
from contivctl.events import (
    AddPod,
    CheckPod,
    DeletePod,
    Event,
    GarbageCollect,
    GCResult,
    PodsOnNode,
    Submit,
    SweepResult,
)
from contivctl.ipam import NodeAddressPlan, node_setup
from contivctl.k8s.access import KubernetesAccess, choose_access
from contivctl.k8s.hooks import NodeRemovalHook
from contivctl.kv.local import LocalStore
from contivctl.metrics import AgentMetrics, Readings
from contivctl.model import PodRef
from contivctl.reconcile import ItemState
from contivctl.rest import RestServer

if TYPE_CHECKING:
    from contivctl.k8s.sources import KubernetesSources

log = logging.getLogger(__name__)


def readings(node: Node, lag: LoopLag) -> Readings:
    """Where the metrics' gauges read the node's state at scrape time."""
    controller, reconciler = node.controller, node.reconciler

    def failed() -> int:
        counts = reconciler.count_states()
        return counts[ItemState.FAILED] + counts[ItemState.RETRYING]

    return Readings(
        pods=lambda: len(controller.pods),
        nodes=lambda: len(controller.node_view.nodes),
        items_failed=failed,
        ipam_in_use=lambda: len(controller.pods.allocator),
        ipam_capacity=lambda: controller.pods.allocator.capacity,
        queue_depth=lambda: controller.queued,
        loop_lag=lambda: lag.worst_lately(),
    )


_COMMANDS = {AddPod: "ADD", DeletePod: "DEL", CheckPod: "CHECK", GarbageCollect: "GC"}


def metered(submit: Submit, metrics: AgentMetrics) -> Submit:
    """``submit`` that counts each CNI call the controller answers, with its result and time."""

    async def counted(event: Event) -> Any:
        command = _COMMANDS.get(type(event), type(event).__name__)
        started = time.perf_counter()
        try:
            result = await submit(event)
        except BaseException as exc:
            metrics.observe_cni(command, type(exc).__name__, time.perf_counter() - started)
            raise
        metrics.observe_cni(command, "ok", time.perf_counter() - started)
        if isinstance(result, GCResult):
            metrics.observe_collected("cni-gc", len(result.removed))
        return result

    return counted


def count_sweep(metrics: AgentMetrics) -> Callable[[SweepResult], None]:
    def counted(result: SweepResult) -> None:
        for _key, reason in result.removed:
            metrics.observe_collected(reason)

    return counted


def dataplane_parts(opts: AgentOptions, cfg: Config) -> DataplaneParts:
    """The one place the dataplane flavour is chosen."""
    if opts.dataplane == "kernel":
        # a VPP node never loads the kernel dataplane's renderers and drivers (nftables and all)
        from contivctl.agent.kernel import KernelParts

        return KernelParts(opts.vswitch_netns, scope=opts.node_name)
    vpp = VPPConnection(opts.vpp_socket, api_dir=opts.vpp_api_dir, timeout=opts.vpp_timeout)
    idle_nat = (
        IdleTimeouts(cfg.tcp_nat_session_timeout.total_seconds(), cfg.other_nat_session_timeout.total_seconds())
        if cfg.cleanup_idle_nat_sessions
        else None
    )
    return VppParts(
        vpp,
        scope=opts.node_name,
        state_dir=opts.store.parent,
        packet_trace=cfg.enable_packet_trace,
        idle_nat=idle_nat,
    )


class _StartedPods:
    """This node's pods from the agent's Kubernetes sources, once started (they may start after readiness)."""

    def __init__(self, agent: Agent) -> None:
        self._agent = agent

    def pods_now(self) -> PodsOnNode | None:
        sources = self._agent.kubernetes
        return None if sources is None else sources.pods_now()

    async def list_pods(self) -> PodsOnNode:
        sources = self._agent.kubernetes
        if sources is None:
            raise ContivError("Kubernetes is not started yet")
        return await sources.list_pods()


class Agent:
    def __init__(self, opts: AgentOptions) -> None:
        self.opts = opts
        self.config = load_config(opts.config, node=opts.node_name)
        for warning in self.config.warnings:
            log.warning("%s: %s", opts.config, warning)
        #: the address plan as the start computes it (the node view's, once there is one)
        self.plan: NodeAddressPlan = node_setup(self.config, opts.node_name, opts.node_id).plan
        self.parts = dataplane_parts(opts, self.config)
        self.cluster = cluster_wiring(opts)
        self.store: LocalStore | None = None
        self.node: Node | None = None
        #: what the last full resync left failed (readiness names it)
        self.resync_health: ResyncHealth | None = None
        self.api: ContivAPI | None = None
        self.rest: RestServer | None = None
        self.cni: CNIServer | None = None
        #: the DELs contiv-cni queued while this agent could not take them (docs/cni.md)
        self.del_queue: DeleteQueue | None = None
        #: set once the CNI server serves: after the startup resync and the first drain of the DEL queue
        self.serving = asyncio.Event()
        self.stopping = asyncio.Event()
        self.k8s_access: KubernetesAccess = choose_access(opts.kubeconfig, opts.no_kubernetes)
        if opts.dataplane == "vpp" and not self.config.tcp_stack_disabled and not self.k8s_access.enabled:
            log.warning(
                "TCPstackDisabled is false, but without Kubernetes no pod has labels: none is labelled "
                'ldpreload: "true", so every pod is wired by VETH or TAP'
            )
        self.kubernetes: KubernetesSources | None = None
        self._kubernetes_start: asyncio.Task[None] | None = None
        #: attachments whose pod is gone, removed periodically
        self.sweeper: Sweeper | None = None
        #: how late the event loop runs (REST: /contiv/v1/loop)
        self.loop_lag = LoopLag()
        #: whether the loop turns, asked from a thread (REST: /liveness)
        self.watchdog = Watchdog(self.loop_lag, opts.liveness_timeout)
        #: the last log lines, for contivctl bugtool (REST: /contiv/v1/logs)
        self.recent_logs = RecentLogs()
        #: what the agent did and holds, for Prometheus (REST: /metrics)
        self.metrics = AgentMetrics(version=__version__, dataplane=self.parts.renderers.name)
        self.parts.observe(self.metrics)
        #: whether this agent forwards Services (docs/services.md): it learns of them from Kubernetes or a file
        self.services = not opts.no_services and (opts.services_file is not None or self.k8s_access.enabled)
        self.services_file = ServicesFromFile(opts.services_file) if opts.services_file is not None else None

    @property
    def tcp_stack_labels(self) -> bool:
        """Whether pods' labels decide their wiring: only ``ldpreload: "true"`` pods get the TCP stack."""
        return self.opts.dataplane == "vpp" and not self.config.tcp_stack_disabled and self.k8s_access.enabled

    async def _pod_labels(self, pod: PodRef) -> dict[str, str] | None:
        return None if self.kubernetes is None else await self.kubernetes.pod_labels(pod)

    @property
    def node_removal_hooks(self) -> list[NodeRemovalHook]:
        """What a deleted Kubernetes Node sets off besides its items going (etcd forgets it)."""
        return list(self.cluster.node_removal_hooks)

    def cluster_report(self) -> dict[str, object]:
        return self.cluster.describe()

    def kubernetes_report(self) -> dict[str, object]:
        if self.kubernetes is None:
            return {"enabled": self.k8s_access.enabled, "mode": self.k8s_access.mode, "watches": {}}
        watches = {
            r.name.removeprefix("k8s "): {"synced": r.synced.is_set(), "lists": r.lists, "error": r.last_error}
            for r in self.kubernetes.reflectors()
        }
        return {"enabled": True, "mode": self.k8s_access.mode, "watches": watches}

    def _starting(self) -> str | None:
        """What the start still has to do before the CNI server serves, or None."""
        if self.node is None or not self.node.controller.ready.is_set():
            problem = self.node.controller.startup_problem if self.node is not None else None
            return "startup resync is not done" + (f" (the last try: {problem})" if problem else "")
        if not self.serving.is_set():
            return "the DELs contiv-cni queued are being done"
        return None

    def readiness(self) -> tuple[bool, str]:
        reason = self.parts.not_ready()
        if reason is not None:
            return False, reason
        starting = self._starting()
        if starting is not None:
            return False, starting
        left = self.resync_health.not_ready() if self.resync_health is not None else None
        if left is not None:
            return False, left
        if self.cluster.conflict:
            return False, self.cluster.conflict
        return True, "ready"

    def cni_status(self) -> tuple[int, str]:
        """CNI STATUS: can an ADD be served now, and if not, are running pods affected too."""
        starting = self._starting()
        if starting is not None:
            return STATUS_UNAVAILABLE, f"the agent is starting: {starting}"
        reason = self.parts.not_ready()
        if reason is not None:
            return STATUS_DEGRADED, f"{reason}: existing pods may have limited connectivity"
        return STATUS_READY, "ready"

    async def start(self) -> None:
        logging.getLogger().addHandler(self.recent_logs)
        self.loop_lag.start()
        self.watchdog.start()
        self.store = await LocalStore.open(self.opts.store)
        host, _, port = self.opts.http.rpartition(":")
        reports = Reports(self)
        self.rest = RestServer(
            node_name=self.opts.node_name,
            plan=lambda: self.node.view.inputs.plan if self.node is not None else self.plan,
            ipam=self.config.ipam,
            ready=self.readiness,
            alive=self.watchdog.alive,
            history=lambda: self.node.reconciler.history() if self.node is not None else [],
            loop_lag=self.loop_lag.to_data,
            metrics=self.metrics.exposition,
            reports={
                "status": reports.status,
                "pods": reports.pods,
                "ipam/allocations": reports.ipam,
                "ipam/check": reports.ipam_check,
                "items": reports.items,
                "logs": reports.logs,
            },
            actions={"vpp/cli": reports.vpp_cli},
        )
        await self.rest.start(host or "127.0.0.1", int(port))
        node = self.node = await assemble(
            self.parts,
            self.config,
            self.opts.node_name,
            self.opts.node_id,
            self.store,
            on_record=self.metrics.observe_txn,
            services=self.services,
        )
        self.metrics.readings = readings(node, self.loop_lag)
        self.resync_health = ResyncHealth(node.controller, node.reconciler)
        controller = node.controller
        # The startup resync needs this node's NodeConfig, if the CRD configures nodes, and the Services
        # Kubernetes has, if this agent forwards them: Kubernetes first. Otherwise nothing of Kubernetes
        # is needed before it, and its client library (the heaviest import of all) is loaded after
        # readiness, on a thread.
        later = (
            self.config.crd_node_configuration_disabled
            and self.k8s_access.enabled
            and not self.services
            and not self.tcp_stack_labels
        )
        if not later:
            await self._start_kubernetes(node)
        self.api = ContivAPI(
            controller, self.config, node.view.inputs.plan.pod_subnet_this_node, kubernetes=self.kubernetes
        )
        submit = metered(controller.submit, self.metrics)
        queue = self.del_queue = DeleteQueue(self.opts.del_queue_dir, submit, observe=self.metrics.queued_del)
        # CNI calls are accepted from now on; they wait (bounded) for the startup resync and the first drain.
        self.cni = CNIServer(
            RemoteCNI(
                submit,
                self.serving,
                ready_timeout=self.opts.cni_ready_timeout,
                status=self.cni_status,
                labels=self._pod_labels if self.tcp_stack_labels else None,
                settle=queue.settle,
            ),
            self.opts.cni_socket,
        )
        await self.cni.start()
        await self.cluster.before_resync(controller)
        if self.services_file is not None and self.services:
            await self.services_file.before_resync(controller)
        await controller.start()
        # The DELs the plugin queued while no agent could take them, before any call is served.
        try:
            drained = await queue.drain()
        except Exception:  # a bug of the drain must not keep the node from wiring pods
            log.exception(
                "DEL queue %s: the first drain failed; serving anyway, the next drain tries again", queue.directory
            )
        else:
            if drained:
                log.info(
                    "DEL queue %s: %d done, %d failed (kept for the next drain), %d set aside",
                    queue.directory,
                    len(drained.done),
                    len(drained.failed) + len(drained.unread),
                    len(drained.set_aside),
                )
        self.serving.set()
        queue.start(self.opts.cni_del_queue_interval)
        if self.opts.gc_interval > 0:
            self.sweeper = Sweeper(
                controller.submit,
                controller.ready,
                lambda: controller.pods.attachments.values(),
                _StartedPods(self),
                interval=self.opts.gc_interval,
                on_result=count_sweep(self.metrics),
            )
            self.sweeper.start()
        await self.cluster.join(controller)
        if later:
            self._kubernetes_start = asyncio.get_running_loop().create_task(
                self._start_kubernetes_later(node), name="kubernetes start"
            )
        if self.services_file is not None and self.services:
            await self.services_file.start()
        log.info(
            "agent for node %s (ID %d) is ready (%s dataplane)",
            self.opts.node_name,
            self.opts.node_id,
            self.parts.renderers.name,
        )

    async def _start_kubernetes_later(self, node: Node) -> None:
        """Kubernetes after readiness: its modules imported on a thread, so the event loop goes on meanwhile."""
        for module in ("contivctl.k8s.client", "contivctl.k8s.sources"):
            await asyncio.to_thread(importlib.import_module, module)
        await self._start_kubernetes(node)
        if self.api is not None:
            self.api.kubernetes = self.kubernetes

    async def _start_kubernetes(self, node: Node) -> None:
        """Start the reflectors; wait (bounded) for this node's NodeConfig so the first resync uses it."""
        if not self.k8s_access.enabled:
            log.info("running without Kubernetes")
            return
        # the client library is heavy: a node without Kubernetes never imports it
        from contivctl.k8s.client import api_client
        from contivctl.k8s.sources import KubernetesSources

        watch_crd = not self.config.crd_node_configuration_disabled
        sources = KubernetesSources(
            await api_client(self.k8s_access),
            self.opts.node_name,
            node.controller.post,
            node_configs=watch_crd,
            services=self.services,
        )
        for hook in self.cluster.node_removal_hooks:
            sources.register_node_removal_hook(hook)
        sources.start()
        self.kubernetes = sources
        if watch_crd:
            await self._read_node_config(sources, node)
        else:
            log.info("CRDNodeConfigurationDisabled: NodeConfig resources are not read; the node entry is the file's")
        await services_from_kubernetes(sources, node.controller, self.opts.k8s_sync_timeout)

    async def _read_node_config(self, sources: KubernetesSources, node: Node) -> None:
        """This node's NodeConfig into the view before the controller runs: the startup resync applies it."""
        try:
            await asyncio.wait_for(sources.node_configs.synced.wait(), self.opts.k8s_sync_timeout)
        except TimeoutError:
            log.warning(
                "NodeConfig not read within %.0fs; starting with the file's node entry", self.opts.k8s_sync_timeout
            )
            return
        crd = sources.node_config()
        if crd is not None:
            view = node.view
            view.set_inputs(view.inputs.reconfigured(crd, None))

    async def stop(self) -> None:
        starting, self._kubernetes_start = self._kubernetes_start, None
        if starting is not None:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
        if self.sweeper is not None:
            await self.sweeper.stop()
        if self.services_file is not None:
            await self.services_file.stop()
        if self.kubernetes is not None:
            await self.kubernetes.stop()
            await self.kubernetes.close()
        if self.del_queue is not None:
            await self.del_queue.stop()
        if self.cni is not None:
            await self.cni.stop()
        if self.rest is not None:
            await self.rest.stop()
        await self.cluster.leave()
        if self.node is not None:
            await stop_node(self.node)
        else:
            await self.parts.close()
        if self.store is not None:
            await self.store.close()
        self.watchdog.stop()
        await self.loop_lag.stop()
        logging.getLogger().removeHandler(self.recent_logs)


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
