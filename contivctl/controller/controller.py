"""The controller: the one task that changes the agent's view, one event at a time.

Sources (the CNI server, Kubernetes and etcd watches, the nodes file, the
DHCP listener, timers) put events on one queue; those that need an answer
await the future the event carries. The controller takes them in order,
updates the views (pods, nodes, services), renders the items that change and hands
them to the reconciler. Events for the same attachment are therefore
strictly ordered; the reconciler itself runs independent operations of one
transaction concurrently.

Each event type has one handler (``_handlers``), found by the event's type;
the controller never talks to VPP or Linux itself. The one fact about the
host it needs — does a pod's network namespace still exist — is injected
(``netns_exists``), so the controller imports no driver.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from contivctl.controller.eventlog import log_event
from contivctl.controller.nodes import NodeView
from contivctl.controller.pods import PodView
from contivctl.controller.podstore import PodStore
from contivctl.controller.requests import check_add, check_known, shown
from contivctl.controller.services import ServiceView, cluster_node_ips
from contivctl.errors import AttachmentNotFound, ContivError, PodWiringError
from contivctl.events import (
    AddPod,
    AddResult,
    CheckPod,
    CheckResult,
    DeletePod,
    DhcpLeased,
    EndpointsRemoved,
    EndpointsUpdated,
    Event,
    GarbageCollect,
    GCResult,
    ManagementIPsChanged,
    NodeConfigChanged,
    NodeRemoved,
    NodeUpdated,
    Resync,
    ServiceRemoved,
    ServiceUpdated,
    SweepAttachments,
    SweepResult,
)
from contivctl.ipam import PodIPAllocator
from contivctl.iptypes import IPAddress
from contivctl.items import Changes, Items
from contivctl.model import TCP_STACK_LABEL, Attachment, AttachmentKey, PodRef
from contivctl.reconcile import Reconciler, RetrieveFailed
from contivctl.reconcile.errors import ReconcileError
from contivctl.reconcile.history import Mode, TxnRecord
from contivctl.render import naming

log = logging.getLogger(__name__)

#: backoff of a startup resync that could not read the dataplane, in seconds
_STARTUP_RETRY_FIRST = 0.5
_STARTUP_RETRY_MAX = 10.0

#: pod events applied in one transaction at the most
MAX_BATCH = 16
#: other nodes' events applied in one transaction at the most: enough to make a burst of joins
#: cost one transaction per many nodes, few enough that a pod waits little for its turn
MAX_NODE_BATCH = 64
_NODE_EVENTS = (NodeUpdated, NodeRemoved)
#: the events of pods' CNI calls, which go ahead of the others
_POD_EVENTS = (AddPod, DeletePod, CheckPod, GarbageCollect, SweepAttachments)
#: Service and EndpointSlice events applied in one transaction at the most (a watch's first list
#: delivers them all at once)
MAX_SERVICE_BATCH = 256
_SERVICE_EVENTS = (ServiceUpdated, ServiceRemoved, EndpointsUpdated, EndpointsRemoved)

PodHook = Callable[[Attachment], Awaitable[None]]
NetnsCheck = Callable[[str], bool]


class Controller:
    def __init__(
        self,
        *,
        reconciler: Reconciler,
        pod_store: PodStore,
        node_view: NodeView,
        netns_exists: NetnsCheck,
    ) -> None:
        self.reconciler = reconciler
        self._pod_store = pod_store
        self._netns_exists = netns_exists
        #: this node's vswitch and the other nodes
        self.node_view = node_view
        #: the pods wired on this node
        self.pods = PodView(PodIPAllocator(node_view.inputs.plan.pod_subnet_this_node))
        #: Kubernetes Services and their endpoints
        self.services = ServiceView(node_view.renderers, lambda: self.node_view.inputs, self._node_ips)
        #: the queue, in two lanes: pods' CNI calls, and everything else (see ``_next_event``)
        self._pod_lane: collections.deque[Event] = collections.deque()
        self._other_lane: collections.deque[Event] = collections.deque()
        self._arrived = asyncio.Event()
        self._pre_removal: list[PodHook] = []
        self._post_add: list[PodHook] = []
        self.ready = asyncio.Event()
        #: the record of the last full resync (the startup's, or one after VPP restarted): what it
        #: left failed makes the node not ready until healed (the agent's readiness asks)
        self.last_full_resync: TxnRecord | None = None
        #: why the startup resync has not been done yet, once a try failed (None: not tried, or done)
        self.startup_problem: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._handlers: dict[type[Event], Callable[[Any], Awaitable[Any]]] = {
            AddPod: self._add,
            DeletePod: self._on_delete,
            CheckPod: self._check,
            GarbageCollect: self._gc,
            SweepAttachments: self._sweep,
            Resync: self._resync,
            DhcpLeased: self._on_lease,
            NodeUpdated: self._on_node_updated,
            NodeRemoved: self._on_node_removed,
            NodeConfigChanged: self._on_node_config_changed,
            ManagementIPsChanged: self._on_management_ips_changed,
            ServiceUpdated: self._on_service_updated,
            ServiceRemoved: self._on_service_removed,
            EndpointsUpdated: self._on_endpoints_updated,
            EndpointsRemoved: self._on_endpoints_removed,
        }

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
        (self._pod_lane if isinstance(event, _POD_EVENTS) else self._other_lane).append(event)
        self._arrived.set()

    async def submit(self, event: Event) -> Any:
        """Queue ``event`` and wait for the controller's answer (or its error)."""
        self.post(event)
        return await event.reply

    @property
    def queued(self) -> int:
        """Events waiting to be taken."""
        return len(self._pod_lane) + len(self._other_lane)

    def desired(self) -> Items:
        out = self.node_view.desired()
        out.update(self.pods.desired())
        out.update(self.services.desired())
        return out

    async def _restore(self) -> None:
        records = await self._pod_store.load()
        kept: list[Attachment] = []
        gone: list[Attachment] = []
        for att in records:
            if self._netns_exists(att.netns):
                kept.append(att)
            else:
                gone.append(att)
                # The pod is gone while we were away: its VPP side is simply not
                # rendered (so the resync removes it) and its address is freed.
                log.info("attachment %s: network namespace %s is gone, removing it", att.key, att.netns)
                await self._pod_store.remove(att.key)
        state = {"allocations": {str(a.key): str(a.ip) for a in kept}}
        allocator = PodIPAllocator.from_state(self.pods.allocator.subnet, state)
        for key, ip in allocator.dropped.items():
            log.warning("attachment %s: address %s is outside this node's pod subnet; not restored", key, ip)
        self.pods = PodView(allocator)
        net = self.node_view.pod_network
        for att in kept:
            if str(att.key) in allocator.dropped:
                await self._pod_store.remove(att.key)
                gone.append(att)
                continue
            self.pods.add(att, self.node_view.renderers.pod(att, net))
        # What the pods that are gone had is not desired, but expected: the resync then knows their items
        # for the agent's (a pod's route looks like the one VPP makes for its neighbour) and removes them.
        hints: Items = {}
        for att in gone:
            hints.update(self.node_view.renderers.pod(att, net))
        record = await self._startup_resync(hints)
        self.last_full_resync = record
        log.info("startup resync: %d attachments, %d operations", len(self.pods), len(record.ops))
        self.ready.set()

    async def _startup_resync(self, hints: Items) -> TxnRecord:
        """The startup resync, tried until the dataplane can be read; the agent is not ready meanwhile.

        A resync plans nothing without a complete picture of what exists
        (``RetrieveFailed``). A dataplane that refuses or drops a read at
        start (VPP still starting, restarting, overloaded) is waited for with
        a backoff, as kubelet would restart the agent, but without losing
        the time of a process start.
        """
        delay = _STARTUP_RETRY_FIRST
        while True:
            try:
                record = await self.reconciler.resync_full(self.desired(), trigger="startup resync", hints=hints)
            except RetrieveFailed as exc:
                self.startup_problem = str(exc)
                log.warning("startup resync: %s; trying again in %.1fs", exc, delay)
            else:
                self.startup_problem = None
                if any(op.op == "delete" for op in record.ops):
                    await self._after_startup_deletes()
                return record
            await asyncio.sleep(delay)
            delay = min(delay * 2, _STARTUP_RETRY_MAX)

    async def _after_startup_deletes(self) -> None:
        """Read the dataplane once more after a startup resync that removed what a crash left.

        What the agent cannot tell from VPP's own (a route of a pod it never
        recorded looks like the entry VPP makes for a neighbour) shows once
        the interface under it is gone: a second reading finds it and removes
        it, before the node serves. A clean restart deletes nothing and
        never pays for this.
        """
        try:
            await self.reconciler.resync_downstream(trigger="startup resync: what its deletes uncovered")
        except RetrieveFailed as exc:
            log.warning("startup resync: the second reading failed (%s); the next resync removes what is left", exc)

    # -- the event loop --------------------------------------------------------

    async def _serve(self) -> None:
        while True:
            batch = await self._next_batch()
            if len(batch) == 1:
                await self._run_one(batch[0])
            elif isinstance(batch[0], _NODE_EVENTS):
                await self._run_change_batch(batch, "node", self._node_changes, self._apply_node_changes)
            elif isinstance(batch[0], _SERVICE_EVENTS):
                await self._run_change_batch(batch, "service", self._service_changes, self._apply_service_changes)
            else:
                await self._run_batch(batch)

    async def _next_event(self) -> Event:
        """The next pod event if one waits, else the next of the others.

        Pods come first: a pod waits for its ADD, while a burst of other nodes
        joining (a thousand events) is best effort and has no order with pods
        (their items are independent). Within each lane the order is kept.
        """
        while True:
            if self._pod_lane:
                return self._pod_lane.popleft()
            if self._other_lane:
                return self._other_lane.popleft()
            self._arrived.clear()
            await self._arrived.wait()

    async def _next_batch(self) -> list[Event]:
        """The next event, plus the pod events queued right behind it that can share its transaction.

        Under a burst of pod starts and stops, applying them one transaction
        each makes every pod wait for all the kernel work queued before it.
        Events for distinct new or existing attachments are independent, so
        they go to the reconciler together, which runs independent operations
        concurrently. Anything else (a repeated ADD, a pod replacing its old
        sandbox, a resync) ends the batch and runs alone, in order.
        """
        first = await self._next_event()
        batch = [first]
        if isinstance(first, _NODE_EVENTS):
            lane = self._other_lane
            while len(batch) < MAX_NODE_BATCH and lane and isinstance(lane[0], _NODE_EVENTS):
                batch.append(lane.popleft())
            return batch
        if isinstance(first, _SERVICE_EVENTS):
            lane = self._other_lane
            while len(batch) < MAX_SERVICE_BATCH and lane and isinstance(lane[0], _SERVICE_EVENTS):
                batch.append(lane.popleft())
            return batch
        seen: set[object] = set()
        if not self._batchable(first, seen):
            return batch
        lane = self._pod_lane
        while len(batch) < MAX_BATCH and lane and self._batchable(lane[0], seen):
            batch.append(lane.popleft())
        return batch

    def _batchable(self, event: Event, seen: set[object]) -> bool:
        """An ADD of a new attachment of a pod not otherwise wired, or a DEL of a wired one."""
        if isinstance(event, AddPod):
            key = AttachmentKey(event.container_id, event.ifname)
            slot = (event.pod, event.ifname) if event.pod.name else key
            if key in self.pods or key in seen or slot in seen:
                return False
            if event.pod.name and self.pods.in_slot(event.pod, event.ifname):
                return False
            seen.update((key, slot))
            return True
        if isinstance(event, DeletePod):
            key = AttachmentKey(event.container_id, event.ifname)
            if key not in self.pods or key in seen:
                return False
            seen.add(key)
            return True
        return False

    async def _run_one(self, event: Event) -> None:
        started = time.perf_counter()
        error: BaseException | None = None
        result: Any = None
        att = self._attachment_of(event)
        try:
            result = await self._handle(event)
        except ContivError as exc:
            error = exc
            if not event.reply.done():
                event.reply.set_exception(exc)
        except ReconcileError as exc:
            error = PodWiringError(str(exc))
            if not event.reply.done():
                event.reply.set_exception(error)
        except Exception as exc:  # a bug must not kill the loop; the sender still gets an answer
            log.exception("event %d %s failed unexpectedly", event.seq, event.name)
            error = exc
            if not event.reply.done():
                event.reply.set_exception(exc)
        else:
            if not event.reply.done():
                event.reply.set_result(result)
        log_event(event, error, (time.perf_counter() - started) * 1e3, result, att)

    def _attachment_of(self, event: Event) -> Attachment | None:
        """The attachment a DEL or CHECK is about, looked up before it runs (a DEL takes it away)."""
        if isinstance(event, DeletePod | CheckPod):
            return self.pods.get(AttachmentKey(event.container_id, event.ifname))
        return None

    async def _handle(self, event: Event) -> Any:
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"unknown event {event!r}")
        return await handler(event)

    async def _run_batch(self, batch: list[Event]) -> None:
        """Apply a batch of pod events in one revert-on-failure transaction.

        If anything in it fails, nothing of it stays (the transaction is
        undone) and each event is then run alone, so only the pod that
        really fails gets an error — with everything of it rolled back.
        """
        started = time.perf_counter()
        adds: list[tuple[AddPod, Attachment, Items]] = []
        deletes: list[tuple[DeletePod, Attachment]] = []
        changes: Changes = {}
        for ev in batch:
            if isinstance(ev, DeletePod):
                key = AttachmentKey(ev.container_id, ev.ifname)
                att = self.pods.attachments[key]
                await self._pre_removal_hooks(att)
                deletes.append((ev, att))
                changes.update({k: None for k in self.pods.items.get(key, {})})
        try:
            net = self.node_view.pod_network
            for ev in batch:
                if isinstance(ev, AddPod):
                    att = self._new_attachment(ev)
                    items = self.node_view.renderers.pod(att, net)
                    adds.append((ev, att, items))
                    changes.update(items)
            await self.reconciler.apply(
                changes, mode=Mode.REVERT, trigger=f"{len(batch)} pod events from {batch[0].seq}"
            )
        except (ContivError, ReconcileError) as exc:
            log.info("batch of %d pod events failed (%s): running them one by one", len(batch), exc)
            for _ev, att, _items in adds:
                self.pods.release(att.key)
            for ev in batch:
                await self._run_one(ev)
            return
        ms = (time.perf_counter() - started) * 1e3
        for del_ev, att in deletes:
            await self._forget(att)
            del_ev.reply.set_result(None)
            log_event(del_ev, None, ms, None, att)
        for add_ev, att, items in adds:
            try:
                await self._pod_store.save(att)
            except ContivError as exc:
                await self.reconciler.apply({k: None for k in items}, mode=Mode.BEST_EFFORT, trigger=f"undo {att.key}")
                self.pods.release(att.key)
                add_ev.reply.set_exception(exc)
                log_event(add_ev, exc, ms)
                continue
            self.pods.add(att, items)
            await self._post_add_hooks(att)
            added = self._result(att)
            add_ev.reply.set_result(added)
            log_event(add_ev, None, ms, added)
        log.info(
            "events %s: %d pod events in one transaction in %.1f ms",
            ",".join(str(e.seq) for e in batch),
            len(batch),
            (time.perf_counter() - started) * 1e3,
        )

    # -- pods ------------------------------------------------------------------

    def _result(self, att: Attachment) -> AddResult:
        return AddResult(
            attachment=att,
            mac=naming.pod_side_mac(att.container_id, att.ifname),
            gateway=self.node_view.pod_network.gateway,
            prefix_len=att.ip.max_prefixlen,
        )

    def _wants_tcp_stack(self, pod: PodRef, labels: Mapping[str, str] | None) -> bool:
        """Only a pod labelled ``ldpreload: "true"`` gets the TCP stack; every other falls back to VETH or TAP."""
        if not self.node_view.pod_network.tcp_stack:
            return False
        if labels is None:
            log.info("labels of pod %s not known: no TCP stack for it (VETH or TAP)", pod)
            return False
        return labels.get(TCP_STACK_LABEL) == "true"

    async def _add(self, ev: AddPod) -> AddResult:
        key = AttachmentKey(ev.container_id, ev.ifname)
        existing = self.pods.get(key)
        if existing is None:
            check_add(ev)  # what the agent already has was checked when it came
        if existing is not None:
            if existing.netns == ev.netns:
                return self._result(existing)  # a repeated ADD gets what the first one got
            await self._delete(key, f"re-add {key} in another namespace")
        if ev.pod.name:
            for old in self.pods.in_slot(ev.pod, ev.ifname):
                if old.container_id != ev.container_id:
                    # A new sandbox of the same pod: the old one's attachment goes first.
                    await self._delete(old.key, f"replace {old.key} of {ev.pod} by {ev.container_id}")
        att = self._new_attachment(ev)
        items = self.node_view.renderers.pod(att, self.node_view.pod_network)
        try:
            await self.reconciler.apply(items, mode=Mode.REVERT, trigger=f"add {ev.pod} {key}")
        except BaseException:
            self.pods.release(key)
            raise
        try:
            await self._pod_store.save(att)
        except BaseException:
            await self.reconciler.apply({k: None for k in items}, mode=Mode.BEST_EFFORT, trigger=f"undo {key}")
            self.pods.release(key)
            raise
        self.pods.add(att, items)
        await self._post_add_hooks(att)
        return self._result(att)

    def _new_attachment(self, ev: AddPod) -> Attachment:
        """The attachment an ADD creates, with a freshly allocated address."""
        return Attachment(
            container_id=ev.container_id,
            ifname=ev.ifname,
            netns=ev.netns,
            pod=ev.pod,
            ip=self.pods.allocator.allocate(str(AttachmentKey(ev.container_id, ev.ifname))),
            uid=ev.uid,
            tcp_stack=self._wants_tcp_stack(ev.pod, ev.labels),
        )

    async def _post_add_hooks(self, att: Attachment) -> None:
        for hook in self._post_add:
            try:
                await hook(att)
            except Exception:  # a hook's failure is not the pod's: logged, the ADD stands
                log.exception("post-add hook failed for %s", att.key)

    async def _pre_removal_hooks(self, att: Attachment) -> None:
        for hook in self._pre_removal:
            try:
                await hook(att)
            except Exception:  # a hook's failure must not keep a pod wired
                log.exception("pre-removal hook failed for %s", att.key)

    async def _forget(self, att: Attachment) -> None:
        """Drop a removed attachment from the view, the store and the address pool."""
        self.pods.remove(att.key)
        await self._pod_store.remove(att.key)
        self.pods.release(att.key)

    async def _on_delete(self, ev: DeletePod) -> None:
        await self._delete(AttachmentKey(ev.container_id, ev.ifname), f"delete {ev.container_id}")

    async def _delete(self, key: AttachmentKey, trigger: str) -> None:
        att = self.pods.get(key)
        if att is None:
            return  # DEL of what we do not know succeeds: the runtime may repeat it
        await self._pre_removal_hooks(att)
        removed = self.pods.remove(key)
        items = removed[1] if removed is not None else {}
        await self.reconciler.apply({k: None for k in items}, mode=Mode.BEST_EFFORT, trigger=trigger)
        await self._forget(att)

    async def _check(self, ev: CheckPod) -> CheckResult:
        key = AttachmentKey(ev.container_id, ev.ifname)
        att = self.pods.get(key)
        if att is None:
            check_known(ev.container_id, ev.ifname)
            raise AttachmentNotFound(f"no attachment {shown(f'{ev.container_id}/{ev.ifname}')}")
        problems = []
        if ev.netns and ev.netns != att.netns:
            problems.append(f"attachment {key} is in network namespace {att.netns}, not {ev.netns}")
        if not self._netns_exists(att.netns):
            problems.append(f"network namespace {att.netns} is gone")
        found = await self.reconciler.verify(self.pods.items.get(key, {}))
        problems.extend(f"{item}: {what}" for item, what in found.items())
        return CheckResult(self._result(att), tuple(problems))

    async def _gc(self, ev: GarbageCollect) -> GCResult:
        removed: list[AttachmentKey] = []
        errors: list[str] = []
        for key in sorted(set(self.pods.attachments) - ev.valid, key=str):
            try:
                await self._delete(key, f"garbage-collect {key}")
            except (ContivError, ReconcileError) as exc:  # GC goes on and reports every failure
                errors.append(f"{key}: {exc}")
            else:
                removed.append(key)
        return GCResult(tuple(removed), tuple(errors))

    async def _sweep(self, ev: SweepAttachments) -> SweepResult:
        garbage: list[tuple[AttachmentKey, str, str]] = []
        for key, att in self.pods.attachments.items():
            if not self._netns_exists(att.netns):
                garbage.append((key, "netns-gone", f"network namespace {att.netns} is gone"))
            elif ev.pods is not None and key in ev.suspects and att.pod.name and not ev.pods.has(att):
                garbage.append((key, "pod-gone", f"pod {att.pod} (UID {att.uid or 'unknown'}) is gone"))
        removed: list[tuple[AttachmentKey, str]] = []
        errors: list[str] = []
        for key, reason, why in garbage:
            try:
                await self._delete(key, f"garbage-collect {key}: {why}")
            except (ContivError, ReconcileError) as exc:  # the sweep goes on; the next one tries again
                errors.append(f"{key}: {exc}")
            else:
                removed.append((key, reason))
                log.info("garbage-collected attachment %s: %s", key, why)
        return SweepResult(tuple(removed), tuple(errors))

    async def _resync(self, ev: Resync) -> object:
        if ev.full:
            record = await self.reconciler.resync_full(self.desired(), trigger=ev.reason)
            self.last_full_resync = record
            return record
        return await self.reconciler.resync_downstream(trigger=ev.reason)

    # -- nodes -----------------------------------------------------------------
    # Each handler changes the node view and applies only the item changes it
    # returns, best effort: a remote node that cannot be wired now is retried by
    # the reconciler, and never holds up the pods.

    async def _apply_node_changes(self, changes: Changes, trigger: str) -> None:
        changes = {**changes, **self.services.refresh()}  # node ports open on the nodes' addresses
        if changes:
            await self.reconciler.apply(changes, mode=Mode.BEST_EFFORT, trigger=trigger)

    async def _on_node_updated(self, ev: NodeUpdated) -> None:
        await self._apply_node_changes(self._node_changes(ev), f"node {ev.node.name} (ID {ev.node.id}) updated")

    async def _on_node_removed(self, ev: NodeRemoved) -> None:
        await self._apply_node_changes(self._node_changes(ev), f"node {ev.node_name or ev.node_id} removed")

    def _node_changes(self, ev: Event) -> Changes:
        """The item changes of one other-node event, the node view updated."""
        view = self.node_view
        if isinstance(ev, NodeUpdated):
            return view.set_node(ev.node)
        assert isinstance(ev, NodeRemoved)
        node_id = ev.node_id
        if node_id not in view.nodes and ev.node_name:
            known = view.node_by_name(ev.node_name)  # Kubernetes knows nodes by name only
            node_id = known.id if known is not None else node_id
        return view.remove_node(node_id)

    async def _on_management_ips_changed(self, ev: ManagementIPsChanged) -> None:
        changes = self.node_view.set_management_ips(ev.node_name, ev.ips)
        await self._apply_node_changes(changes, f"management IPs of node {ev.node_name}")

    async def _on_node_config_changed(self, ev: NodeConfigChanged) -> None:
        view = self.node_view
        inputs = view.inputs.reconfigured(ev.node_config, view.lease)
        source = "deleted" if ev.node_config is None else "applied"
        await self._apply_node_changes(view.set_inputs(inputs), f"NodeConfig of {inputs.eff.node_name} {source}")

    async def _on_lease(self, ev: DhcpLeased) -> None:
        """A lease of the main NIC is this node's IP (and gateway); other NICs' leases change nothing."""
        view, lease = self.node_view, ev.lease
        main = view.renderers.lease_interface(view.inputs)
        try:
            main_index = None if main is None else self.reconciler.metadata(main)
        except KeyError:
            return  # the main NIC is not configured (yet): the lease cannot be ours
        if main_index is None or main_index != lease.sw_if_index:
            return
        log.info("DHCP lease on the main interface: %s via %s", lease.address, lease.router)
        view.lease = lease
        if not view.inputs.eff.use_dhcp:
            log.info("DHCP lease %s ignored: the main interface has a static address", lease.address)
            return
        inputs = view.inputs.reconfigured(view.inputs.crd, lease)
        await self._apply_node_changes(view.set_inputs(inputs), f"node IP {lease.address} (DHCP)")

    # -- Services ---------------------------------------------------------------
    # Like the node events: each changes the service view and applies only the
    # items of the one Service it concerns, best effort.

    def _node_ips(self) -> tuple[IPAddress, ...]:
        view = self.node_view
        own = view.node_ip.ip if view.node_ip is not None else None
        others = [(n.ip_addresses, view.merged(n).management_ips) for _, n in sorted(view.nodes.items())]
        return cluster_node_ips(own, view.management_ips.get(view.inputs.eff.node_name, ()), others)

    def _service_changes(self, ev: Event) -> Changes:
        view = self.services
        if isinstance(ev, ServiceUpdated):
            return view.set_service(ev.service)
        if isinstance(ev, ServiceRemoved):
            return view.remove_service(ev.ref)
        if isinstance(ev, EndpointsUpdated):
            return view.set_slice(ev.slice)
        assert isinstance(ev, EndpointsRemoved)
        return view.remove_slice(ev.namespace, ev.name)

    async def _apply_service_changes(self, changes: Changes, trigger: str) -> None:
        if changes:
            await self.reconciler.apply(changes, mode=Mode.BEST_EFFORT, trigger=trigger)

    async def _on_service_updated(self, ev: ServiceUpdated) -> None:
        await self._apply_service_changes(self._service_changes(ev), f"service {ev.service.ref} updated")

    async def _on_service_removed(self, ev: ServiceRemoved) -> None:
        await self._apply_service_changes(self._service_changes(ev), f"service {ev.ref} removed")

    async def _on_endpoints_updated(self, ev: EndpointsUpdated) -> None:
        sl = ev.slice
        trigger = f"endpoints {sl.namespace}/{sl.name} of {sl.service}"
        await self._apply_service_changes(self._service_changes(ev), trigger)

    async def _on_endpoints_removed(self, ev: EndpointsRemoved) -> None:
        await self._apply_service_changes(self._service_changes(ev), f"endpoints {ev.namespace}/{ev.name} removed")

    async def _run_change_batch(
        self,
        batch: list[Event],
        what: str,
        changes_of: Callable[[Event], Changes],
        apply: Callable[[Changes, str], Awaitable[None]],
    ) -> None:
        """Events of one kind queued behind each other (other nodes', Services'), as one best-effort transaction.

        A watch delivering a thousand joins, or the first list of Services,
        would otherwise cost a thousand transactions; each event concerns its
        own node's or Service's items, so later ones simply override earlier.
        """
        started = time.perf_counter()
        changes: Changes = {}
        for ev in batch:
            changes.update(changes_of(ev))
        try:
            await apply(changes, f"{len(batch)} {what} events from {batch[0].seq}")
        except (ContivError, ReconcileError) as exc:
            for ev in batch:
                ev.reply.set_exception(exc if isinstance(exc, ContivError) else PodWiringError(str(exc)))
        else:
            for ev in batch:
                ev.reply.set_result(None)
        log.info(
            "events %d-%d: %d %s events in one transaction in %.1f ms",
            batch[0].seq,
            batch[-1].seq,
            len(batch),
            what,
            (time.perf_counter() - started) * 1e3,
        )

    # -- queries ---------------------------------------------------------------

    def attachment_of(self, pod: PodRef) -> Attachment | None:
        return self.pods.attachment_of(pod)
