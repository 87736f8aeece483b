"""The controller: the one task that changes the agent's view, one event at a time.

Sources (the CNI server, timers, later Kubernetes and etcd watchers) put
events on one queue and await the future the event carries. The controller
takes them in order, updates the view (attachments, IP allocations),
renders the items that change and hands them to the reconciler. Events for
the same attachment are therefore strictly ordered; the reconciler itself
runs independent operations of one transaction concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from contivctl.controller.events import (
    AddPod,
    DeletePod,
    Event,
    ManagementIPsChanged,
    NodeConfigChanged,
    NodeIPChanged,
    NodeRemoved,
    NodeUpdated,
    Resync,
)
from contivctl.controller.nodes import NodeView, inputs_for, parse_lease
from contivctl.controller.podstore import PodStore
from contivctl.dataplane.linux.netns import netns_exists
from contivctl.dataplane.linux.snapshot import Namespaces
from contivctl.errors import ContivError
from contivctl.ipam import PodIPAllocator
from contivctl.model import Attachment, AttachmentKey, IPAddress, PodRef
from contivctl.reconcile import Reconciler
from contivctl.reconcile.errors import ReconcileError
from contivctl.reconcile.txn import Mode
from contivctl.render.dataplane import VPP, Renderers
from contivctl.render.pod import PodNetwork

log = logging.getLogger(__name__)

PodHook = Callable[[Attachment], Awaitable[None]]


class PodWiringError(ContivError):
    """A pod could not be wired; everything the attempt made has been undone."""


@attrs.frozen
class AddResult:
    """What a CNI ADD answers: the interface, its address and the default route."""

    attachment: Attachment
    mac: str
    gateway: IPAddress
    #: prefix length of the pod address (/32 or /128: the pod owns exactly its address)
    prefix_len: int


class Controller:
    def __init__(
        self,
        *,
        reconciler: Reconciler,
        pod_store: PodStore,
        namespaces: Namespaces,
        pod_network: PodNetwork,
        allocator: PodIPAllocator,
        base_items: Mapping[str, Any],
        tcp_stack_enabled: bool = False,
        node_view: NodeView | None = None,
        renderers: Renderers = VPP,
    ) -> None:
        self.reconciler = reconciler
        self._pod_store = pod_store
        self._namespaces = namespaces
        self.pod_network = pod_network
        self.allocator = allocator
        self._base_items = dict(base_items)
        self._tcp_stack_enabled = tcp_stack_enabled
        self.attachments: dict[AttachmentKey, Attachment] = {}
        self._pod_items: dict[AttachmentKey, dict[str, Any]] = {}
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._pre_removal: list[PodHook] = []
        self._post_add: list[PodHook] = []
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: this node's vswitch and the other nodes (None: pod wiring only)
        self.node_view = node_view
        #: the dataplane's renderers (VPP or the kernel); the pod's own side is the same in both
        self.renderers = renderers

    # -- hooks -----------------------------------------------------------------

    def register_pod_pre_removal_hook(self, hook: PodHook) -> None:
        self._pre_removal.append(hook)

    def register_pod_post_add_hook(self, hook: PodHook) -> None:
        self._post_add.append(hook)

    # -- life cycle ------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild the view from the store, resync the dataplane, then serve events."""
        await self._restore()
        self._task = asyncio.create_task(self._serve(), name="controller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def post(self, event: Event) -> None:
        """Queue ``event`` without waiting for its answer (timers, watchers, callbacks)."""
        self._queue.put_nowait(event)

    async def submit(self, event: Event) -> Any:
        """Queue ``event`` and wait for the controller's answer (or its error)."""
        await self._queue.put(event)
        return await event.reply

    def desired(self) -> dict[str, Any]:
        out = dict(self._base_items)
        if self.node_view is not None:
            out.update(self.node_view.desired())
        for items in self._pod_items.values():
            out.update(items)
        return out

    async def _restore(self) -> None:
        records = await self._pod_store.load()
        kept: list[Attachment] = []
        for att in records:
            if netns_exists(att.netns):
                kept.append(att)
            else:
                # The pod is gone while we were away: its VPP side is simply not
                # rendered (so the resync removes it) and its address is freed.
                log.info("attachment %s: network namespace %s is gone, removing it", att.key, att.netns)
                await self._pod_store.remove(att.key)
        state = {"allocations": {str(a.key): str(a.ip) for a in kept}}
        self.allocator = PodIPAllocator.from_state(self.allocator.subnet, state)
        for key, ip in self.allocator.dropped.items():
            log.warning("attachment %s: address %s is outside this node's pod subnet; not restored", key, ip)
        for att in kept:
            if str(att.key) in self.allocator.dropped:
                await self._pod_store.remove(att.key)
                continue
            self.attachments[att.key] = att
            self._pod_items[att.key] = self.renderers.pod(att, self.pod_network)
        self._namespaces.set(a.netns for a in self.attachments.values())
        record = await self.reconciler.resync_full(self.desired(), trigger="startup resync")
        log.info("startup resync: %d attachments, %d operations", len(self.attachments), len(record.ops))
        self.ready.set()

    # -- the event loop --------------------------------------------------------

    async def _serve(self) -> None:
        while True:
            event = await self._queue.get()
            started = time.perf_counter()
            outcome = "ok"
            try:
                result = await self._handle(event)
            except ContivError as exc:
                outcome = f"error: {exc}"
                if not event.reply.done():
                    event.reply.set_exception(exc)
            except ReconcileError as exc:
                outcome = f"error: {exc}"
                if not event.reply.done():
                    event.reply.set_exception(PodWiringError(str(exc)))
            except Exception as exc:  # a bug must not kill the loop; the sender still gets an answer
                log.exception("event %d %s failed unexpectedly", event.seq, event.name)
                outcome = f"bug: {exc!r}"
                if not event.reply.done():
                    event.reply.set_exception(exc)
            else:
                if not event.reply.done():
                    event.reply.set_result(result)
            log.info(
                "event %d %s: %s in %.1f ms", event.seq, event.name, outcome, (time.perf_counter() - started) * 1e3
            )

    async def _handle(self, event: Event) -> Any:
        if isinstance(event, AddPod):
            return await self._add(event)
        if isinstance(event, DeletePod):
            return await self._delete(AttachmentKey(event.container_id, event.ifname), f"delete {event.container_id}")
        if isinstance(event, Resync):
            if event.full:
                self._namespaces.set(a.netns for a in self.attachments.values())
                return await self.reconciler.resync_full(self.desired(), trigger=event.reason)
            return await self.reconciler.resync_downstream(trigger=event.reason)
        if isinstance(event, NodeUpdated | NodeRemoved | NodeConfigChanged | NodeIPChanged | ManagementIPsChanged):
            return await self._handle_node_event(event)
        raise TypeError(f"unknown event {event!r}")

    # -- pods ------------------------------------------------------------------

    def _result(self, att: Attachment) -> AddResult:
        from contivctl.render import naming

        return AddResult(
            attachment=att,
            mac=naming.pod_side_mac(att.container_id, att.ifname),
            gateway=self.pod_network.gateway,
            prefix_len=att.ip.max_prefixlen,
        )

    def _wants_tcp_stack(self, labels: Mapping[str, str] | None) -> bool:
        if not self._tcp_stack_enabled:
            return False
        return labels is None or labels.get("ldpreload") == "true"

    async def _add(self, ev: AddPod) -> AddResult:
        key = AttachmentKey(ev.container_id, ev.ifname)
        existing = self.attachments.get(key)
        if existing is not None:
            if existing.netns == ev.netns:
                return self._result(existing)  # a repeated ADD gets what the first one got
            await self._delete(key, f"re-add {key} in another namespace")
        for old in [a for a in self.attachments.values() if a.pod == ev.pod and a.ifname == ev.ifname]:
            if ev.pod.name and old.container_id != ev.container_id:
                # A new sandbox of the same pod: the old one's attachment goes first.
                await self._delete(old.key, f"replace {old.key} of {ev.pod} by {ev.container_id}")
        ip = self.allocator.allocate(str(key))
        att = Attachment(
            container_id=ev.container_id,
            ifname=ev.ifname,
            netns=ev.netns,
            pod=ev.pod,
            ip=ip,
            uid=ev.uid,
            tcp_stack=self._wants_tcp_stack(ev.labels if ev.labels else None),
        )
        items = self.renderers.pod(att, self.pod_network)
        self._namespaces.add(att.netns)
        try:
            await self.reconciler.apply(items, mode=Mode.REVERT, trigger=f"add {ev.pod} {key}")
        except BaseException:
            self.allocator.release(str(key))
            self._forget_namespace(att.netns)
            raise
        try:
            await self._pod_store.save(att)
        except BaseException:
            await self.reconciler.apply({k: None for k in items}, mode=Mode.BEST_EFFORT, trigger=f"undo {key}")
            self.allocator.release(str(key))
            self._forget_namespace(att.netns)
            raise
        self.attachments[key] = att
        self._pod_items[key] = items
        for hook in self._post_add:
            try:
                await hook(att)
            except Exception:
                log.exception("post-add hook failed for %s", key)
        return self._result(att)

    async def _delete(self, key: AttachmentKey, trigger: str) -> None:
        att = self.attachments.get(key)
        if att is None:
            return  # DEL of what we do not know succeeds: the runtime may repeat it
        for hook in self._pre_removal:
            try:
                await hook(att)
            except Exception:
                log.exception("pre-removal hook failed for %s", key)
        items = self._pod_items.pop(key, {})
        del self.attachments[key]
        await self.reconciler.apply({k: None for k in items}, mode=Mode.BEST_EFFORT, trigger=trigger)
        await self._pod_store.remove(key)
        self.allocator.release(str(key))
        self._forget_namespace(att.netns)

    def _forget_namespace(self, netns: str) -> None:
        if not any(a.netns == netns for a in self.attachments.values()):
            self._namespaces.discard(netns)

    # -- nodes -----------------------------------------------------------------
    # Each handler changes the node view and applies only the item changes it
    # returns, best effort: a remote node that cannot be wired now is retried by
    # the reconciler, and never holds up the pods.

    async def _handle_node_event(self, event: Event) -> None:
        view = self.node_view
        if view is None:
            log.info("event %s ignored: this agent does not manage the vswitch base config", event.name)
            return
        if isinstance(event, NodeUpdated):
            await self._on_node_updated(view, event)
        elif isinstance(event, NodeRemoved):
            await self._on_node_removed(view, event)
        elif isinstance(event, NodeConfigChanged):
            await self._on_node_config_changed(view, event)
        elif isinstance(event, NodeIPChanged):
            await self._on_node_ip_changed(view, event)
        elif isinstance(event, ManagementIPsChanged):
            await self._on_management_ips_changed(view, event)

    async def _apply_node_changes(self, changes: Mapping[str, Any | None], trigger: str) -> None:
        if changes:
            await self.reconciler.apply(changes, mode=Mode.BEST_EFFORT, trigger=trigger)

    async def _on_node_updated(self, view: NodeView, ev: NodeUpdated) -> None:
        await self._apply_node_changes(view.set_node(ev.node), f"node {ev.node.name} (ID {ev.node.id}) updated")

    async def _on_node_removed(self, view: NodeView, ev: NodeRemoved) -> None:
        node_id = ev.node_id
        if node_id not in view.nodes and ev.name:
            known = view.node_by_name(ev.name)  # Kubernetes knows nodes by name only
            node_id = known.id if known is not None else node_id
        await self._apply_node_changes(view.remove_node(node_id), f"node {ev.name or node_id} removed")

    async def _on_management_ips_changed(self, view: NodeView, ev: ManagementIPsChanged) -> None:
        changes = view.set_management_ips(ev.name, ev.ips)
        await self._apply_node_changes(changes, f"management IPs of node {ev.name}")

    async def _on_node_config_changed(self, view: NodeView, ev: NodeConfigChanged) -> None:
        cur = view.inputs
        inputs = inputs_for(cur.config, cur.eff.node_name, cur.plan.node_id, cur, ev.node_config, view.lease)
        source = "deleted" if ev.node_config is None else "applied"
        await self._apply_node_changes(view.set_inputs(inputs), f"NodeConfig of {cur.eff.node_name} {source}")

    async def _on_node_ip_changed(self, view: NodeView, ev: NodeIPChanged) -> None:
        cur = view.inputs
        view.lease = parse_lease(ev.address, ev.gateway)
        if not cur.eff.use_dhcp:
            log.info("DHCP lease %s ignored: the main interface has a static address", ev.address)
            return
        inputs = inputs_for(cur.config, cur.eff.node_name, cur.plan.node_id, cur, cur.crd, view.lease)
        await self._apply_node_changes(view.set_inputs(inputs), f"node IP {ev.address} (DHCP)")

    # -- queries ---------------------------------------------------------------

    def attachment_of(self, pod: PodRef) -> Attachment | None:
        return next((a for a in self.attachments.values() if a.pod == pod), None)
