"""This node in the cluster: its record kept published, every other node turned into events.

Two background tasks, neither on any path a pod waits for:

- the **watch** follows ``allocatedIDs/`` (resuming after outages, a fresh
  snapshot after compaction or data loss) and posts ``NodeUpdated`` for a
  node that joined or changed and ``NodeRemoved`` for one that left;
- the **publisher** makes etcd hold this node's record as the agent last
  described it (:meth:`Membership.publish`), retrying with backoff while etcd
  is away, and writes it again when the watch sees it missing (etcd lost its
  data, say), when the watch resumes after an outage, and every
  ``recheck`` seconds regardless.

Events go through the injected ``post`` (the controller's queue in the
agent, a list in tests). ``post`` must not block; it is called from the
watch task only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

import attrs

from contivctl.cluster.nodeid import conflict_message
from contivctl.cluster.record import ALLOCATED_IDS, decode, encode, id_key, id_of_key
from contivctl.errors import NodeIDConflict, RecordError, StoreError
from contivctl.events import NodeRemoved, NodeUpdated, Post
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdwatch import DEFAULT_RETRY, Resumed, RetryDelay, Snapshot, WatchUpdate
from contivctl.model import NodeInfo

log = logging.getLogger(__name__)

#: How often the publisher looks at this node's record even when the watch reports nothing:
#: a bound on how long a lost record can stay lost, whatever happens to the watch.
RECHECK_INTERVAL = 30.0


class Membership:
    def __init__(
        self,
        store: EtcdStore,
        me: NodeInfo,
        post: Post,
        *,
        retry: RetryDelay = DEFAULT_RETRY,
        recheck: float = RECHECK_INTERVAL,
    ) -> None:
        self.store = store
        self._recheck = recheck
        self.me = me
        self._post = post
        self._retry = retry
        #: other nodes as last posted, by ID
        self.nodes: dict[int, NodeInfo] = {}
        #: why this node's record cannot be published (another node holds its ID), if so
        self.conflict: str | None = None
        self._dirty = asyncio.Event()
        self._synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._dirty.set()
        self._tasks = [
            loop.create_task(self._watch(), name="cluster-watch"),
            loop.create_task(self._publisher(), name="cluster-publish"),
        ]

    async def stop(self) -> None:
        """Stop following the cluster. The record stays: a node keeps its ID across restarts."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, timeout=5)
        for task in pending:
            log.error("cluster task %s did not stop", task.get_name())
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("cluster task %s failed: %r", task.get_name(), task.exception())

    def seed(self, nodes: Sequence[NodeInfo]) -> None:
        """Nodes the caller gave the controller itself (before its startup resync): not posted again."""
        self.nodes = {n.id: n for n in nodes if n.id != self.me.id}

    # -- this node's record ------------------------------------------------------------

    async def publish(self, ip_addresses: Sequence[str], management_ips: Sequence[str] | None = None) -> None:
        """Describe this node anew (its IP changed); etcd is updated in the background.

        Returns at once: the caller (the controller handling ``NodeIPChanged``)
        must not wait for an etcd that may be away. ``None`` keeps the
        management IPs as they were.
        """
        mgmt = self.me.management_ips if management_ips is None else tuple(management_ips)
        me = attrs.evolve(self.me, ip_addresses=tuple(ip_addresses), management_ips=mgmt)
        if me != self.me:
            self.me = me
            self._synced.clear()
            self._dirty.set()

    async def wait_published(self) -> None:
        """Until etcd holds the record as last published (tests, orderly start-up)."""
        await self._synced.wait()

    async def _publisher(self) -> None:
        delay = self._retry.initial
        failing = False
        while True:
            try:
                async with asyncio.timeout(self._recheck):
                    await self._dirty.wait()
            except TimeoutError:
                pass  # the periodic look at our record
            self._dirty.clear()
            wanted = self.me
            try:
                done = await self._write(wanted)
            except StoreError as exc:
                if not failing:
                    log.warning("node record of %s not published yet (%s); retrying", wanted.name, exc)
                    failing = True
                self._dirty.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry.maximum)
                continue
            except NodeIDConflict as exc:
                if self.conflict != str(exc):
                    log.error("%s", exc)
                self.conflict = str(exc)
                continue  # until the watch sees the ID's record change
            if failing:
                log.info("node record of %s published after an etcd outage", wanted.name)
            failing = False
            delay = self._retry.initial
            self.conflict = None
            if not done:
                self._dirty.set()  # lost a race on the key: look again
            elif wanted == self.me:
                self._synced.set()

    async def _write(self, me: NodeInfo) -> bool:
        """Make etcd hold ``me`` at its ID; False when the key changed under us (try again)."""
        key, value = id_key(me.id), encode(me)
        entry = await self.store.get_entry(key)
        if entry is None:
            log.info("publishing the record of node %s (ID %d)", me.name, me.id)
            return await self.store.create(key, value)
        try:
            current = decode(entry.value, key)
        except RecordError:
            current = None
        if current is None or current.name != me.name:
            owner = current.name if current is not None else "(unreadable record)"
            raise NodeIDConflict(conflict_message(me.id, me.name, owner))
        if entry.value == value:
            return True
        return await self.store.replace(key, value, entry.mod_revision)

    # -- other nodes ---------------------------------------------------------------------

    async def _watch(self) -> None:
        updates = self.store.watch(ALLOCATED_IDS)
        try:
            async for update in updates:
                self._apply(update)
        finally:
            with contextlib.suppress(StoreError):
                await updates.aclose()  # type: ignore[attr-defined]

    def _apply(self, update: WatchUpdate) -> None:
        if isinstance(update, Resumed):
            self._dirty.set()  # back after an outage: is our record still there?
            return
        if isinstance(update, Snapshot):
            seen = self._others(update.entries)
            for gone in sorted(set(self.nodes) - set(seen)):
                self._removed(gone)
            for present in seen.values():
                self._updated(present)
            self._dirty.set()  # knowledge may be stale (etcd lost data, compaction): check our record
            return
        node_id = id_of_key(update.key)
        if node_id is None:
            return
        if node_id == self.me.id:
            # Our own key: never another node, whoever wrote it. Missing or changed, the
            # publisher writes it again — or reports the node that took it.
            self._dirty.set()
            return
        node = self._other(update.key, update.value) if update.value is not None else None
        if node is None:
            if node_id in self.nodes:
                self._removed(node_id)
            return
        self._updated(node)

    def _other(self, key: str, raw: bytes) -> NodeInfo | None:
        """Another node's record at ``key``; None for ours, a stale copy of ours, or garbage."""
        node_id = id_of_key(key)
        if node_id is None or node_id == self.me.id:
            return None
        try:
            node = decode(raw, key)
        except RecordError as exc:
            log.warning("ignoring unreadable node record: %s", exc)
            return None
        return None if node.name == self.me.name else node

    def _others(self, entries: Mapping[str, bytes]) -> dict[int, NodeInfo]:
        nodes = (self._other(key, raw) for key, raw in entries.items())
        return {node.id: node for node in nodes if node is not None}

    def _updated(self, node: NodeInfo) -> None:
        if self.nodes.get(node.id) == node:
            return
        self.nodes[node.id] = node
        log.info("node %s (ID %d) joined or changed: %s", node.name, node.id, ", ".join(node.ip_addresses) or "no IP")
        self._post(NodeUpdated(node=node))

    def _removed(self, node_id: int) -> None:
        node = self.nodes.pop(node_id)
        log.info("node %s (ID %d) left", node.name, node_id)
        self._post(NodeRemoved(node_id=node_id, node_name=node.name))
