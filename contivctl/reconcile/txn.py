"""Executing a plan: bounded concurrency, dependency order, revert or best effort.

Operations run as soon as every earlier related operation (Plan.preds) has
finished, at most `limit` at a time; related operations therefore never
overlap. The store's `known` map is updated after each operation, so a
dependent's descriptor reads fresh metadata through its context.

On failure:
- best effort: operations that wait on the failed one are skipped (an item
  is never created before its dependency, a parent never deleted before its
  children); everything else still runs.
- revert: nothing new starts; once running operations finish, every
  completed one is undone, newest first.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import attrs

from contivctl.reconcile.history import Mode
from contivctl.reconcile.item import Metadata
from contivctl.reconcile.plan import Op, OpKind, Plan
from contivctl.reconcile.store import Have


class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    #: not attempted because an operation it waits for failed
    SKIPPED = "skipped"
    #: not attempted because the (revert-mode) transaction stopped
    NOT_RUN = "not-run"


@attrs.frozen
class OpResult:
    op: OpKind
    key: str
    outcome: Outcome
    error: Exception | None = None
    duration: float = 0.0
    #: for SKIPPED: the key whose failure blocked it
    blocked_by: str | None = None
    #: an operation run to undo an earlier one
    undo: bool = False


class KnownView:
    """The descriptor Context during transactions: a live, read-only view of `known`."""

    def __init__(self, known: Mapping[str, Have]) -> None:
        self._known = known

    def metadata(self, key: str) -> Metadata:
        return self._known[key].metadata

    def value(self, key: str) -> Any:
        return self._known[key].value

    def exists(self, key: str) -> bool:
        return key in self._known


class Executor:
    """Runs one plan against `known`, which it updates as operations succeed."""

    def __init__(self, plan: Plan, known: dict[str, Have], *, mode: Mode, limit: int) -> None:
        self.plan = plan
        self.known = known
        self.ctx = KnownView(known)
        self.mode = mode
        self.limit = max(1, limit)
        n = len(plan.ops)
        self.results: list[OpResult | None] = [None] * n
        #: completed operations, in completion order, with what existed before
        self.done: list[tuple[int, Have | None]] = []
        self.undo_results: list[OpResult] = []
        #: keys whose `known` entry changed, in the order they changed (a dict as an ordered set:
        #: walking them later in that order reads memory in about the order it was written)
        self.touched: dict[str, None] = {}
        self.stop = False

    @property
    def failed(self) -> OpResult | None:
        for r in self.results:
            if r is not None and r.outcome is Outcome.FAILED:
                return r
        return None

    async def run(self) -> None:
        plan = self.plan
        n = len(plan.ops)
        try:
            await self._stage(range(plan.barrier))
            if plan.barrier < n and not self.stop:
                await self._settle(range(plan.barrier))
            await self._stage(range(plan.barrier, n))
        finally:
            for i in range(n):
                if self.results[i] is None:
                    self.results[i] = OpResult(plan.ops[i].kind, plan.ops[i].key, Outcome.NOT_RUN)
        if self.stop and self.mode is Mode.REVERT:
            await self._undo()

    async def _stage(self, idxs: range) -> None:
        if not idxs:
            return
        plan = self.plan
        lo = idxs.start
        # lists by position in the stage, not dicts: one plan may hold a hundred thousand operations
        indeg = [0] * len(idxs)
        succ: list[list[int] | None] = [None] * len(idxs)
        for i in idxs:
            for j in plan.preds[i]:
                if j >= lo:
                    indeg[i - lo] += 1
                    after = succ[j - lo]
                    if after is None:
                        succ[j - lo] = [i]
                    else:
                        after.append(i)
        ready = deque(i for i in idxs if not indeg[i - lo])

        def release(i: int) -> None:
            for s in succ[i - lo] or ():
                indeg[s - lo] -= 1
                if not indeg[s - lo]:
                    ready.append(s)

        def blocker(i: int) -> str | None:
            for j in plan.preds[i]:
                r = self.results[j]
                assert r is not None
                if r.outcome is Outcome.FAILED:
                    return r.key
                if r.outcome is not Outcome.OK:
                    return r.blocked_by or r.key
            return None

        running: dict[asyncio.Task[None], int] = {}
        try:
            while ready or running:
                while ready and len(running) < self.limit and not self.stop:
                    i = ready.popleft()
                    by = blocker(i)
                    if by is not None:
                        op = plan.ops[i]
                        self.results[i] = OpResult(op.kind, op.key, Outcome.SKIPPED, blocked_by=by)
                        release(i)
                    elif plan.ops[i].goes_with is not None:
                        self._goes_with(i)  # nothing to send: no task, no wait
                        release(i)
                    elif self.limit == 1:
                        await self._op(i)
                        release(i)
                    else:
                        running[asyncio.ensure_future(self._op(i))] = i
                if self.stop and not running:
                    return
                if not running:
                    continue
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for t in finished:
                    i = running.pop(t)
                    t.result()
                    release(i)
        finally:
            for t in running:
                t.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _settle(self, idxs: range) -> None:
        """Let the descriptors that deleted something finish it, before anything is created."""
        deleted: dict[int, Any] = {}
        for i in idxs:
            op, r = self.plan.ops[i], self.results[i]
            if op.kind is OpKind.DELETE and op.goes_with is None and r is not None and r.outcome is Outcome.OK:
                deleted.setdefault(id(op.descriptor), op.descriptor)
        if deleted:
            await asyncio.gather(*(d.settle() for d in deleted.values()))

    def _goes_with(self, i: int) -> None:
        op = self.plan.ops[i]
        before = self.known.pop(op.key, None)
        self.touched[op.key] = None
        self.results[i] = OpResult(op.kind, op.key, Outcome.OK, None, 0.0)
        self.done.append((i, before))

    async def _op(self, i: int) -> None:
        op = self.plan.ops[i]
        before = self.known.get(op.key)
        t0 = time.perf_counter()
        try:
            await self._do(op, before)
        except Exception as exc:
            self.results[i] = OpResult(op.kind, op.key, Outcome.FAILED, exc, time.perf_counter() - t0)
            if self.mode is Mode.REVERT:
                self.stop = True
            return
        self.results[i] = OpResult(op.kind, op.key, Outcome.OK, None, time.perf_counter() - t0)
        self.done.append((i, before))

    async def _do(self, op: Op, before: Have | None) -> None:
        d = op.descriptor
        key = op.key
        if op.kind is OpKind.CREATE:
            md = await d.create(self.ctx, key, op.value)
            self.known[key] = Have(op.value, d, md, True, op.deps)
        elif op.kind is OpKind.UPDATE:
            assert before is not None
            md = await d.update(self.ctx, key, before.value, op.value, before.metadata)
            self.known[key] = Have(op.value, d, md, before.owned, op.deps)
        else:
            assert before is not None
            await d.delete(self.ctx, key, before.value, before.metadata)
            del self.known[key]
        self.touched[key] = None

    async def _undo(self) -> None:
        """Undo completed operations newest first, which is a valid order by construction.

        An item whose undo failed is still there; what it depends on is then
        not removed under it (a route would be left pointing at an interface
        that is gone, where nothing can see or remove it): both stay known,
        so the next transaction deletes them in order.
        """
        completed = {i for i, _ in self.done}
        stuck: list[Have] = []  # items whose undo failed, as they are now
        for i, before in reversed(self.done):
            op = self.plan.ops[i]
            now = self.known.get(op.key)
            d = op.descriptor
            t0 = time.perf_counter()
            kind = OpKind.DELETE if before is None else OpKind.CREATE if now is None else OpKind.UPDATE
            if op.taker is not None and op.taker not in completed and before is not None:
                # the delete that would have taken it along did not happen: it is still there
                self.known[op.key] = before
                self.touched[op.key] = None
                continue
            if before is None and any(dep.matches(op.key) for h in stuck for dep in h.deps):
                self.touched[op.key] = None
                continue
            try:
                if before is None:
                    assert now is not None
                    await d.delete(self.ctx, op.key, now.value, now.metadata)
                    del self.known[op.key]
                elif now is None:
                    md = await d.create(self.ctx, op.key, before.value)
                    self.known[op.key] = attrs.evolve(before, metadata=md)
                elif d.needs_recreate(now.value, before.value):
                    await d.delete(self.ctx, op.key, now.value, now.metadata)
                    del self.known[op.key]
                    md = await d.create(self.ctx, op.key, before.value)
                    self.known[op.key] = attrs.evolve(before, metadata=md)
                else:
                    md = await d.update(self.ctx, op.key, now.value, before.value, now.metadata)
                    self.known[op.key] = attrs.evolve(before, metadata=md)
            except Exception as exc:
                self.undo_results.append(
                    OpResult(kind, op.key, Outcome.FAILED, exc, time.perf_counter() - t0, undo=True)
                )
                left = self.known.get(op.key)
                if left is not None:
                    stuck.append(left)
            else:
                self.undo_results.append(OpResult(kind, op.key, Outcome.OK, None, time.perf_counter() - t0, undo=True))
            finally:
                self.touched[op.key] = None
