"""The reconciler: the one place that turns desired state into operations on the dataplane.

Transactions run one at a time (an asyncio lock), each through the same
pipeline: validate and expand the input → plan → record the plan → execute
→ commit what happened → classify every item it looked at → record the
outcome → schedule retries. Retries run later as their own transactions on
the injected clock; no caller ever waits for a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from contivctl.reconcile.clock import Clock, LoopClock, Timer
from contivctl.reconcile.descriptor import Descriptor, Registry
from contivctl.reconcile.desired import Delta, expand, top_changes
from contivctl.reconcile.errors import (
    Blocked,
    ForeignItemConflict,
    ReconcileError,
    ReconcilerClosed,
    RetrieveFailed,
    TransactionFailed,
)
from contivctl.reconcile.history import History, Mode, OpRecord, PlannedOp, TxnKind, TxnRecord, error_text
from contivctl.reconcile.item import Dependency, ItemState, ItemStatus, Metadata, Retrieved, describe
from contivctl.reconcile.plan import OpKind, Plan, make_plan
from contivctl.reconcile.retry import RetryPolicy
from contivctl.reconcile.store import Have, ItemStore, Want
from contivctl.reconcile.txn import Executor, OpResult, Outcome

_EMPTY = Delta({}, {})


def planned(plan: Plan) -> tuple[PlannedOp, ...]:
    return tuple(PlannedOp(op.kind.value, op.key, op.reason, plan.preds[i]) for i, op in enumerate(plan.ops))


def op_record(r: OpResult) -> OpRecord:
    error = error_text(r.error)
    if error is None and r.blocked_by is not None:
        error = f"blocked by {r.blocked_by!r}"
    return OpRecord(r.op.value, r.key, r.outcome.value, error, r.duration, r.undo)


class _RetrievedView:
    """The descriptor Context during retrieve: what earlier waves just dumped."""

    def __init__(self, found: Mapping[str, tuple[Descriptor[Any], Retrieved]]) -> None:
        self._found = found

    def metadata(self, key: str) -> Metadata:
        return self._found[key][1].metadata

    def value(self, key: str) -> Any:
        return self._found[key][1].value

    def exists(self, key: str) -> bool:
        return key in self._found


class _Expected:
    """What is expected of each kind in one retrieve round: grouped by descriptor on first use.

    Most descriptors can list their kind by themselves and never look; a
    resync of many items must not pay for grouping them unless one does.
    """

    def __init__(self, items: Callable[[], Iterable[tuple[str, Descriptor[Any], Any]]]) -> None:
        self._items = items
        self._groups: dict[Descriptor[Any], dict[str, Any]] | None = None

    def group(self, d: Descriptor[Any]) -> dict[str, Any]:
        if self._groups is None:
            groups: dict[Descriptor[Any], dict[str, Any]] = {}
            for key, owner, value in self._items():
                groups.setdefault(owner, {})[key] = value
            self._groups = groups
        return self._groups.get(d, {})

    def of(self, d: Descriptor[Any]) -> Mapping[str, Any]:
        return _ExpectedOf(self, d)


class _ExpectedOf(Mapping[str, Any]):
    """One descriptor's share of ``_Expected``, computed when first read."""

    def __init__(self, owner: _Expected, d: Descriptor[Any]) -> None:
        self._owner = owner
        self._d = d

    def __getitem__(self, key: str) -> Any:
        return self._owner.group(self._d)[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._owner.group(self._d))

    def __len__(self) -> int:
        return len(self._owner.group(self._d))


class Reconciler:
    """Keeps the dataplane equal to the desired state, one transaction at a time."""

    def __init__(
        self,
        descriptors: Iterable[Descriptor[Any]],
        *,
        max_concurrency: int = 8,
        history: int = 100,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        on_record: Callable[[TxnRecord], None] | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._registry = Registry(descriptors)
        self._store = ItemStore()
        self._history = History(history)
        self._max_concurrency = max_concurrency
        self._retry = retry if retry is not None else RetryPolicy()
        self._clock: Clock = clock if clock is not None else LoopClock()
        self._lock = asyncio.Lock()
        self._seq = 0
        self._retry_heap: list[tuple[float, str]] = []
        #: creates that failed and were reverted, not yet read again: each may have left something that
        #: nobody wants; their values are expected by every reading until one finds what they left, or not
        self._suspects: dict[str, tuple[Descriptor[Any], Any]] = {}
        self._timer: Timer | None = None
        self._timer_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        #: told of every finished transaction (metrics); must not block, and not raise
        self.on_record = on_record

    # -- transactions ---------------------------------------------------------

    async def apply(
        self,
        changes: Mapping[str, Any | None],
        *,
        mode: Mode = Mode.BEST_EFFORT,
        trigger: str = "apply",
        replace: bool = False,
    ) -> TxnRecord:
        """Apply desired changes: `changes[key]` is the new value, or None to remove the key.

        With `replace`, `changes` is the complete desired state instead, and
        keys not in it are removed (the cached actual state is trusted; see
        `resync_full` to re-read it). Cost is O(changed) without `replace`.

        Raises InvalidDesiredState (nothing done) for unknown kinds,
        conflicting keys or dependency cycles; in REVERT mode raises
        TransactionFailed after undoing everything when an operation fails.
        """
        async with self._lock:
            self._check_open()
            delta = self._expand(changes, replace)
            # what failed last time is read again before it is changed: it may have half happened
            status = self._store.status
            suspect = {k for k in delta.items if (st := status.get(k)) is not None and st.state in _UNHEALTHY}
            dirty = await self._refresh(suspect) if suspect else ()
            return await self._run(TxnKind.APPLY, trigger, mode, delta, dirty)

    async def resync_full(
        self, desired: Mapping[str, Any], *, trigger: str = "full resync", hints: Mapping[str, Any] | None = None
    ) -> TxnRecord:
        """Replace the desired state, re-read what exists through every descriptor, fix all differences.

        Owned items that are not desired are deleted; items not owned are
        never touched. Best effort. With nothing changed it runs no operation.
        """
        async with self._lock:
            self._check_open()
            delta = self._expand(desired, True)
            also = {k: (self._registry.route(k), v) for k, v in (hints or {}).items()}
            return await self._resync(TxnKind.RESYNC_FULL, trigger, delta, also)

    async def resync_downstream(self, *, trigger: str = "downstream resync") -> TxnRecord:
        """Re-read what exists and heal it towards the cached desired state (periodic healing)."""
        async with self._lock:
            self._check_open()
            return await self._resync(TxnKind.RESYNC_DOWNSTREAM, trigger, _EMPTY)

    async def verify(self, keys: Iterable[str]) -> dict[str, str]:
        """Re-read the dataplane for `keys` and the items derived from them; name each one missing or different.

        Read-only: nothing is created, repaired or committed, so a caller can
        ask whether something drifted without the answer changing what the
        next resync sees. Only the descriptors owning those keys retrieve.
        A key that is not desired is reported as such. Returns {} when all is
        as desired.
        """
        async with self._lock:
            self._check_open()
            store = self._store
            problems: dict[str, str] = {}
            wanted: dict[str, Want] = {}
            todo = list(keys)
            while todo:
                key = todo.pop()
                if key in wanted:
                    continue
                w = store.desired.get(key)
                if w is None:
                    problems[key] = "not desired"
                    continue
                wanted[key] = w
                todo.extend(w.children)
            expected = _Expected(lambda: ((k, w.descriptor, w.value) for k, w in wanted.items()))
            found = await self._retrieve(expected, {w.descriptor.prefix for w in wanted.values()})
            for key, w in wanted.items():
                got = found.get(key)
                if got is None:
                    problems[key] = "missing"
                elif not (got[1].value is w.value or w.descriptor.equivalent(w.value, got[1].value)):
                    problems[key] = f"differs: want {w.value!r}, found {got[1].value!r}"
            return dict(sorted(problems.items()))

    def plan(self, changes: Mapping[str, Any | None], *, replace: bool = False) -> Plan:
        """What `apply` would do now, without doing it (no I/O, nothing changes)."""
        return make_plan(self._store, self._expand(changes, replace), ())

    def _expand(self, changes: Mapping[str, Any | None], replace: bool) -> Delta:
        store = self._store
        return expand(self._registry, store, top_changes(store, changes) if replace else changes)

    # -- queries --------------------------------------------------------------

    def state(self, key: str) -> ItemStatus | None:
        """Status of a desired item (or of an owned one that could not be removed); None otherwise."""
        return self._store.status.get(key)

    def states(self) -> dict[str, ItemStatus]:
        """Status of every item (a copy: O(items))."""
        return dict(self._store.status)

    def count_states(self) -> Counter[ItemState]:
        """How many items are in each state (O(items), without copying them)."""
        return Counter(s.state for s in self._store.status.values())

    def history(self) -> list[TxnRecord]:
        """The last transactions, oldest first; the running one is included with `done` false."""
        return self._history.records()

    def desired(self) -> Mapping[str, Any]:
        """The desired values as handed over (derived items excluded), read-only."""
        return MappingProxyType(self._store.top)

    def actual(self) -> dict[str, Any]:
        """Every item known to exist (owned or not) with its value, as of the last transaction."""
        return {k: h.value for k, h in self._store.known.items()}

    def metadata(self, key: str) -> Metadata:
        """Metadata of an existing item; KeyError when it does not exist."""
        return self._store.known[key].metadata

    def owned(self, key: str) -> bool:
        """Whether an existing item is the agent's; KeyError when it does not exist."""
        return self._store.known[key].owned

    # -- lifecycle ------------------------------------------------------------

    async def drain(self) -> None:
        """Wait for retry transactions that are already running (not for future ones)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop scheduling retries and wait for a running one; later transactions are refused."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.drain()

    def _check_open(self) -> None:
        if self._closed:
            raise ReconcilerClosed("the reconciler is closed")

    # -- the pipeline ---------------------------------------------------------

    def _expected(self, delta: Delta, also: Mapping[str, tuple[Descriptor[Any], Any]] | None = None) -> _Expected:
        store = self._store

        def expected() -> Iterator[tuple[str, Descriptor[Any], Any]]:
            for key, (d, value) in (also or {}).items():
                yield key, d, value
            for key, (d, value) in self._suspects.items():
                yield key, d, value
            for key, h in store.known.items():
                yield key, h.descriptor, h.value
            for key, w in store.desired.items():
                if key not in delta.items:
                    yield key, w.descriptor, w.value
            for key, new in delta.items.items():
                if new is not None:
                    yield key, new.descriptor, new.value

        return _Expected(expected)

    async def _resync(
        self, kind: TxnKind, trigger: str, delta: Delta, also: Mapping[str, tuple[Descriptor[Any], Any]] | None = None
    ) -> TxnRecord:
        retrieved = await self._retrieve(self._expected(delta, also))
        self._suspects.clear()  # all read: what they left, if anything, is known now
        dirty = self._absorb(retrieved)
        dirty.update(k for k, s in self._store.status.items() if s.state in _UNHEALTHY)
        return await self._run(kind, trigger, Mode.BEST_EFFORT, delta, dirty)

    async def _run(self, kind: TxnKind, trigger: str, mode: Mode, delta: Delta, dirty: Iterable[str]) -> TxnRecord:
        t0 = time.perf_counter()
        dirty = set(dirty)
        plan = make_plan(self._store, delta, dirty)
        self._seq += 1
        seq = self._seq
        record = TxnRecord(seq, kind, trigger, mode, self._clock.now(), planned(plan), started_at=time.time())
        self._history.put(record)
        ex = Executor(plan, self._store.known, mode=mode, limit=self._max_concurrency)
        try:
            await ex.run()
            if mode is Mode.REVERT and ex.failed is not None:
                # Reverted, so nobody wants them any more: if a failed create half happened, what it
                # left is found now, while its value is known, and deleted by a retry.
                broken = {r.key for r in ex.results if r is not None and r.outcome is Outcome.FAILED}
                for op in plan.ops:
                    if op.kind is OpKind.CREATE and op.key in broken:
                        self._suspects[op.key] = (op.descriptor, op.value)
                dirty |= await self._refresh(broken & self._suspects.keys())
        finally:
            failed = ex.failed
            reverted = mode is Mode.REVERT and failed is not None
            if not reverted:
                self._commit_desired(delta)
            self._commit_known(ex.touched, delta.items if not reverted else {})
            failures: dict[str, tuple[Exception, bool]] = {}
            results = [r for r in ex.results if r is not None]
            if not reverted:
                for r in results:
                    if r.outcome is Outcome.FAILED and r.error is not None:
                        failures[r.key] = (r.error, self._registry.route(r.key).is_retriable(r.error))
                for r in results:
                    if r.outcome is Outcome.SKIPPED and r.blocked_by is not None and r.key not in failures:
                        root = failures.get(r.blocked_by)
                        failures[r.key] = (Blocked(r.key, r.blocked_by), root[1] if root else False)
            for r in ex.undo_results:
                if r.outcome is Outcome.FAILED and r.error is not None:
                    failures[r.key] = (r.error, self._registry.route(r.key).is_retriable(r.error))
            # In plan order first: the items' objects were made in about that order, and at a hundred
            # thousand items, reading them in a set's hash order misses the CPU caches far more often.
            keys = dict.fromkeys(op.key for op in plan.ops)
            keys.update(dict.fromkeys(ex.touched))
            for more in (plan.visited, dirty, failures, () if reverted else delta.items):
                keys.update(dict.fromkeys(more))
            changed = delta.items if not reverted else {}
            states = self._classify(keys, failures, changed, seq)
            error = None
            if failed is not None and reverted:
                error = f"{failed.op.value} {failed.key!r} failed: {error_text(failed.error)}"
            record = attrs.evolve(
                record,
                ops=tuple(op_record(r) for r in (*results, *ex.undo_results)),
                states=states,
                error=error,
                done=True,
                duration=time.perf_counter() - t0,
            )
            self._history.put(record)
            if self.on_record is not None:
                self.on_record(record)
            self._schedule_retries()
        if reverted:
            assert failed is not None and failed.error is not None
            undo_failed = [
                (r.key, r.op.value, r.error)
                for r in ex.undo_results
                if r.outcome is Outcome.FAILED and r.error is not None
            ]
            raise TransactionFailed(failed.key, failed.op.value, failed.error, record, undo_failed)
        return record

    def _commit_desired(self, delta: Delta) -> None:
        store = self._store
        for k, v in delta.top.items():
            if v is None:
                store.top.pop(k, None)
            else:
                store.top[k] = v
        for k, w in delta.items.items():
            if w is None:
                store.desired.pop(k, None)
            else:
                store.desired[k] = w

    def _commit_known(self, touched: Mapping[str, None], changed: Mapping[str, Any]) -> None:
        """Record what now exists, and re-index every key whose desired or existing value changed, once."""
        store = self._store
        known = store.known
        store.present.update([k for k in touched if k in known], [k for k in touched if k not in known])
        for k in touched:
            store.reindex(k)
        for k in changed:
            if k not in touched:
                store.reindex(k)

    def _missing(self, key: str, deps: tuple[Dependency, ...]) -> list[Dependency]:
        store = self._store
        miss = []
        for d in deps:
            if d.prefix:
                if not any(k != key for k in store.present.with_prefix(d.target)):
                    miss.append(d)
            elif d.target not in store.known:
                miss.append(d)
        return miss

    def _classify(
        self,
        keys: Iterable[str],
        failures: Mapping[str, tuple[Exception, bool]],
        changed: Mapping[str, Any],
        seq: int,
    ) -> dict[str, ItemStatus]:
        """Set the status of each key from what is desired, what exists and what failed."""
        store = self._store
        now = self._clock.now()
        out: dict[str, ItemStatus] = {}
        # Statuses are frozen: every item configured by this transaction shares one, so that a
        # hundred thousand items cost a hundred thousand dictionary entries, not as many objects.
        configured = ItemStatus(ItemState.CONFIGURED, txn=seq)
        for key in keys:
            st = self._status_of(key, failures.get(key), key in changed, now, seq, configured)
            if st is None:
                store.status.pop(key, None)
                continue
            prev = store.status.get(key)
            if prev is not None and attrs.evolve(prev, txn=seq) == st:
                st = prev
            store.status[key] = st
            out[key] = st
            if st.state is ItemState.RETRYING and st.retry_at is not None and st is not prev:
                heapq.heappush(self._retry_heap, (st.retry_at, key))
        return out

    def _status_of(
        self,
        key: str,
        failure: tuple[Exception, bool] | None,
        changed: bool,
        now: float,
        seq: int,
        configured: ItemStatus,
    ) -> ItemStatus | None:
        store = self._store
        w = store.desired.get(key)
        h = store.known.get(key)
        if failure is not None:
            exc, retriable = failure
            if w is None and (h is None or not h.owned):
                return None
            if isinstance(exc, Blocked) and w is not None and h is None:
                miss = self._missing(key, w.deps)
                if miss:
                    return _pending(miss, seq)
            prev = store.status.get(key)
            attempts = (0 if changed or prev is None else prev.attempts) + 1
            # what is not wanted any more is tried again whatever the error: removing it twice does no harm
            if (retriable or w is None) and not self._retry.gives_up(attempts):
                at = now + self._retry.delay(attempts)
                return ItemStatus(ItemState.RETRYING, error_text(exc), attempts=attempts, retry_at=at, txn=seq)
            return ItemStatus(ItemState.FAILED, error_text(exc), attempts=attempts, txn=seq)
        if w is None:
            if h is not None and h.owned:
                # left by a failure (an undo that did not happen, a batch put back): retried, as a failure is
                return self._again(key, "exists but is no longer desired", now, seq)
            return None
        if h is None:
            miss = self._missing(key, w.deps)
            if miss:
                return _pending(miss, seq)
            return self._again(key, "desired but not created", now, seq)
        if h.value is w.value or w.descriptor.equivalent(w.value, h.value):
            return configured
        if not h.owned:
            return ItemStatus(ItemState.FAILED, error_text(ForeignItemConflict(key)), txn=seq)
        return ItemStatus(ItemState.FAILED, "differs from the desired value", txn=seq)

    def _again(self, key: str, why: str, now: float, seq: int) -> ItemStatus:
        """An item not as desired though nothing of it failed this time: tried again with the backoff."""
        prev = self._store.status.get(key)
        attempts = (prev.attempts if prev is not None else 0) + 1
        if self._retry.gives_up(attempts):
            return ItemStatus(ItemState.FAILED, why, attempts=attempts, txn=seq)
        at = now + self._retry.delay(attempts)
        return ItemStatus(ItemState.RETRYING, why, attempts=attempts, retry_at=at, txn=seq)

    # -- retries --------------------------------------------------------------

    def _schedule_retries(self) -> None:
        heap = self._retry_heap
        status = self._store.status
        while heap:
            at, key = heap[0]
            st = status.get(key)
            if st is not None and st.state is ItemState.RETRYING and st.retry_at == at:
                break
            heapq.heappop(heap)
        if not heap or self._closed:
            return
        at = heap[0][0]
        if self._timer is not None and self._timer_at is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._clock.call_later(max(0.0, at - self._clock.now()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._retry_due())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retry_due(self) -> None:
        async with self._lock:
            if self._closed:
                return
            now = self._clock.now()
            status = self._store.status
            due: set[str] = set()
            while self._retry_heap and self._retry_heap[0][0] <= now:
                at, key = heapq.heappop(self._retry_heap)
                st = status.get(key)
                if st is not None and st.state is ItemState.RETRYING and st.retry_at == at:
                    due.add(key)
            if due:
                await self._run(TxnKind.RETRY, "retry", Mode.BEST_EFFORT, _EMPTY, due | await self._refresh(due))
            else:
                self._schedule_retries()

    async def _refresh(self, keys: set[str]) -> set[str]:
        """Re-read the kinds of ``keys`` before they are tried again; the keys found changed.

        What failed may have half happened (an interface made but not
        configured, a delete that was done though its answer was lost):
        trying again from the old picture would repeat a create of what
        exists, or a delete of what is gone, for ever. When the reading
        fails too the retry goes ahead on what is known.
        """
        by_prefix = self._registry.by_prefix()
        prefixes = set()
        for key in keys:
            h = self._store.known.get(key)
            w = self._store.desired.get(key)
            d = h.descriptor if h is not None else w.descriptor if w is not None else None
            if d is None and key in self._suspects:
                d = self._suspects[key][0]
            if d is not None and d.prefix in by_prefix:
                prefixes.add(d.prefix)
            # and what it depends on: a failure may say that is gone too (a link under an address)
            for dep in h.deps if h is not None else w.deps if w is not None else ():
                with contextlib.suppress(ReconcileError):  # a kind nobody handles: nothing to read
                    prefixes.add(self._registry.route(dep.target).prefix)
        if not prefixes:
            return set()
        scope = self._with_after(prefixes)
        try:
            found = await self._retrieve(self._expected(_EMPTY), scope)
        except RetrieveFailed:
            return set()  # the suspects stay expected: the next reading that works finds what they left
        for key in [k for k, (d, _) in self._suspects.items() if d.prefix in scope]:
            del self._suspects[key]
        changed = self._absorb(found, scope)
        if changed:  # what waited for an item found there now goes ahead
            changed.update(k for k, st in self._store.status.items() if st.state is ItemState.PENDING)
        return changed

    # -- resync ---------------------------------------------------------------

    def _with_after(self, prefixes: Iterable[str]) -> set[str]:
        """``prefixes`` and those whose retrieval reads theirs (``retrieve_after``), transitively."""
        by_prefix = self._registry.by_prefix()
        todo = list(prefixes)
        out: set[str] = set()
        while todo:
            prefix = todo.pop()
            if prefix not in out:
                out.add(prefix)
                todo.extend(by_prefix[prefix].retrieve_after)
        return out

    async def _retrieve(
        self, expected: _Expected, only: set[str] | None = None
    ) -> dict[str, tuple[Descriptor[Any], Retrieved]]:
        """Retrieve through every descriptor, or those of the prefixes `only` and what they retrieve after.

        Each descriptor is handed what is expected of its kind: the values
        desired, and those it was last seen to have (so that it also looks
        where an item no longer desired may still be).
        """
        found: dict[str, tuple[Descriptor[Any], Retrieved]] = {}
        view = _RetrievedView(found)
        if only is not None:
            only = self._with_after(only)

        async def one(d: Descriptor[Any]) -> list[Retrieved]:
            try:
                return list(await d.retrieve(view, expected.of(d)))
            except Exception as exc:
                raise RetrieveFailed(d.prefix, exc) from exc

        for all_of_wave in self._registry.retrieve_order():
            wave = [d for d in all_of_wave if only is None or d.prefix in only]
            dumps = await asyncio.gather(*(one(d) for d in wave))
            for d, items in zip(wave, dumps, strict=True):
                for r in items:
                    try:
                        owner = self._registry.route(r.key)
                    except ReconcileError:
                        owner = None
                    if owner is not d:
                        raise RetrieveFailed(d.prefix, f"returned key {r.key!r} it does not handle")
                    found[r.key] = (d, r)
        return found

    def _absorb(
        self, retrieved: Mapping[str, tuple[Descriptor[Any], Retrieved]], scope: set[str] | None = None
    ) -> set[str]:
        """Make `known` what was retrieved (of the prefixes in `scope`: all of them when None).

        Returns the keys whose existence or value changed.
        """
        store = self._store
        known = store.known
        updates: dict[str, Have] = {}
        dirty: set[str] = set()
        parents: dict[str, str] = {}
        fresh: list[str] = []
        for key, (d, r) in retrieved.items():
            old = known.get(key)
            if old is not None and (old.value is r.value or old.value == r.value):
                if not (r.metadata is None or r.metadata is old.metadata or r.metadata == old.metadata):
                    updates[key] = attrs.evolve(old, metadata=r.metadata)
                continue
            owned = r.owned if r.owned is not None else d.owns(key, r.value)
            if old is not None and old.owned:
                owned = True
            md = r.metadata if r.metadata is not None or old is None else old.metadata
            updates[key] = Have(r.value, d, md, owned, tuple(d.dependencies(key, r.value)))
            for ck, _ in d.derived(key, r.value):
                parents[ck] = key
            fresh.append(key)
            dirty.add(key)
        for key in fresh:
            w = store.desired.get(key)
            parent = w.parent if w is not None and w.parent is not None else parents.get(key)
            if parent is not None:
                h = updates[key]
                updates[key] = attrs.evolve(h, deps=(*h.deps, Dependency.on(parent)))
        added = [k for k in fresh if k not in known]
        if scope is None:
            vanished = len(known) + len(added) != len(retrieved)
            removed = [k for k in known if k not in retrieved] if vanished else []
        else:
            removed = [k for k, h in known.items() if h.descriptor.prefix in scope and k not in retrieved]
        for k in removed:
            del known[k]
        known.update(updates)
        dirty.update(removed)
        store.present.update(added, removed)
        for k in dirty:
            store.reindex(k)
        return dirty


_UNHEALTHY = (ItemState.FAILED, ItemState.RETRYING)


def _pending(missing: Iterable[Dependency], seq: int) -> ItemStatus:
    return ItemStatus(ItemState.PENDING, waiting_for=tuple(describe(d) for d in missing), txn=seq)
