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
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from contivctl.controller.events import (
    AddPod,
    CheckPod,
    DeletePod,
    Event,
    GarbageCollect,
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
from contivctl.errors import AttachmentNotFound, ContivError
from contivctl.ipam import PodIPAllocator
from contivctl.model import Attachment, AttachmentKey, IPAddress, PodRef
from contivctl.reconcile import Reconciler
from contivctl.reconcile.errors import ReconcileError
from contivctl.reconcile.history import Mode
from contivctl.render.dataplane import VPP, Renderers
from contivctl.render.pod import PodNetwork

log = logging.getLogger(__name__)

#: pod events applied in one transaction at the most
MAX_BATCH = 16

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


@attrs.frozen
class CheckResult:
    """What a CNI CHECK learns: the attachment's ADD result and every item that is missing or different."""

    result: AddResult
    #: one line per problem, naming the item (its reconciler key) and what is wrong
    problems: tuple[str, ...]


@attrs.frozen
class GCResult:
    """What a CNI GC did: the attachments it removed and one line per one it could not."""

    removed: tuple[AttachmentKey, ...]
    errors: tuple[str, ...]


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
        #: events taken off the queue while forming a batch but not part of it
        self._pending: collections.deque[Event] = collections.deque()
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
            batch = await self._next_batch()
            if len(batch) == 1:
                await self._run_one(batch[0])
            else:
                await self._run_batch(batch)

    async def _next_event(self) -> Event:
        return self._pending.popleft() if self._pending else await self._queue.get()

    def _has_next(self) -> bool:
        return bool(self._pending) or not self._queue.empty()

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
        seen: set[object] = set()
        if not self._batchable(first, seen):
            return batch
        while len(batch) < MAX_BATCH and self._has_next():
            nxt = self._pending.popleft() if self._pending else self._queue.get_nowait()
            if not self._batchable(nxt, seen):
                self._pending.appendleft(nxt)
                break
            batch.append(nxt)
        return batch

    def _batchable(self, event: Event, seen: set[object]) -> bool:
        """An ADD of a new attachment of a pod not otherwise wired, or a DEL of a wired one."""
        if isinstance(event, AddPod):
            key = AttachmentKey(event.container_id, event.ifname)
            slot = (event.pod, event.ifname) if event.pod.name else key
            if key in self.attachments or key in seen or slot in seen:
                return False
            if event.pod.name and any(
                a.pod == event.pod and a.ifname == event.ifname for a in self.attachments.values()
            ):
                return False
            seen.update((key, slot))
            return True
        if isinstance(event, DeletePod):
            key = AttachmentKey(event.container_id, event.ifname)
            if key not in self.attachments or key in seen:
                return False
            seen.add(key)
            return True
        return False

    async def _run_one(self, event: Event) -> None:
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
        log.info("event %d %s: %s in %.1f ms", event.seq, event.name, outcome, (time.perf_counter() - started) * 1e3)

    async def _run_batch(self, batch: list[Event]) -> None:
        """Apply a batch of pod events in one revert-on-failure transaction.

        If anything in it fails, nothing of it stays (the transaction is
        undone) and each event is then run alone, so only the pod that
        really fails gets an error — with everything of it rolled back.
        """
        started = time.perf_counter()
        adds: list[tuple[AddPod, Attachment, dict[str, Any]]] = []
        deletes: list[tuple[DeletePod, Attachment]] = []
        changes: dict[str, Any] = {}
        for ev in batch:
            if isinstance(ev, DeletePod):
                att = self.attachments[AttachmentKey(ev.container_id, ev.ifname)]
                await self._pre_removal_hooks(att)
                deletes.append((ev, att))
                changes.update({k: None for k in self._pod_items.get(att.key, {})})
        try:
            for ev in batch:
                if isinstance(ev, AddPod):
                    att = self._new_attachment(ev)
                    items = self.renderers.pod(att, self.pod_network)
                    self._namespaces.add(att.netns)
                    adds.append((ev, att, items))
                    changes.update(items)
            await self.reconciler.apply(
                changes, mode=Mode.REVERT, trigger=f"{len(batch)} pod events from {batch[0].seq}"
            )
        except (ContivError, ReconcileError) as exc:
            log.info("batch of %d pod events failed (%s): running them one by one", len(batch), exc)
            for _ev, att, _items in adds:
                self.allocator.release(str(att.key))
                self._forget_namespace(att.netns)
            for ev in batch:
                await self._run_one(ev)
            return
        for ev, att in deletes:
            await self._forget(att)
            ev.reply.set_result(None)
        for add_ev, att, items in adds:
            try:
                await self._pod_store.save(att)
            except ContivError as exc:
                await self.reconciler.apply({k: None for k in items}, mode=Mode.BEST_EFFORT, trigger=f"undo {att.key}")
                self.allocator.release(str(att.key))
                self._forget_namespace(att.netns)
                add_ev.reply.set_exception(exc)
                continue
            self.attachments[att.key] = att
            self._pod_items[att.key] = items
            await self._post_add_hooks(att)
            add_ev.reply.set_result(self._result(att))
        log.info(
            "events %s: %d pod events in one transaction in %.1f ms",
            ",".join(str(e.seq) for e in batch),
            len(batch),
            (time.perf_counter() - started) * 1e3,
        )

    async def _handle(self, event: Event) -> Any:
        if isinstance(event, AddPod):
            return await self._add(event)
        if isinstance(event, DeletePod):
            return await self._delete(AttachmentKey(event.container_id, event.ifname), f"delete {event.container_id}")
        if isinstance(event, CheckPod):
            return await self._check(event)
        if isinstance(event, GarbageCollect):
            return await self._gc(event.valid)
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
        att = self._new_attachment(ev)
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
        await self._post_add_hooks(att)
        return self._result(att)

    def _new_attachment(self, ev: AddPod) -> Attachment:
        """The attachment an ADD creates, with a freshly allocated address."""
        return Attachment(
            container_id=ev.container_id,
            ifname=ev.ifname,
            netns=ev.netns,
            pod=ev.pod,
            ip=self.allocator.allocate(str(AttachmentKey(ev.container_id, ev.ifname))),
            uid=ev.uid,
            tcp_stack=self._wants_tcp_stack(ev.labels if ev.labels else None),
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
        self._pod_items.pop(att.key, None)
        self.attachments.pop(att.key, None)
        await self._pod_store.remove(att.key)
        self.allocator.release(str(att.key))
        self._forget_namespace(att.netns)

    async def _delete(self, key: AttachmentKey, trigger: str) -> None:
        att = self.attachments.get(key)
        if att is None:
            return  # DEL of what we do not know succeeds: the runtime may repeat it
        await self._pre_removal_hooks(att)
        items = self._pod_items.pop(key, {})
        del self.attachments[key]
        await self.reconciler.apply({k: None for k in items}, mode=Mode.BEST_EFFORT, trigger=trigger)
        await self._forget(att)

    async def _check(self, ev: CheckPod) -> CheckResult:
        key = AttachmentKey(ev.container_id, ev.ifname)
        att = self.attachments.get(key)
        if att is None:
            raise AttachmentNotFound(f"no attachment {key}")
        problems = []
        if ev.netns and ev.netns != att.netns:
            problems.append(f"attachment {key} is in network namespace {att.netns}, not {ev.netns}")
        if not netns_exists(att.netns):
            problems.append(f"network namespace {att.netns} is gone")
        found = await self.reconciler.verify(self._pod_items.get(key, {}))
        problems.extend(f"{item}: {what}" for item, what in found.items())
        return CheckResult(self._result(att), tuple(problems))

    async def _gc(self, valid: frozenset[AttachmentKey]) -> GCResult:
        removed: list[AttachmentKey] = []
        errors: list[str] = []
        for key in sorted(set(self.attachments) - valid, key=str):
            try:
                await self._delete(key, f"garbage-collect {key}")
            except (ContivError, ReconcileError) as exc:  # GC goes on and reports every failure
                errors.append(f"{key}: {exc}")
            else:
                removed.append(key)
        return GCResult(tuple(removed), tuple(errors))

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
