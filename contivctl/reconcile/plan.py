"""Planning: from desired changes and what exists, the operations to run and their order.

Pure: the planner reads the committed ItemStore and a Delta, simulates every
operation on an overlay, and returns a Plan; nothing is changed and no
descriptor I/O happens, so plans are testable (and shown as dry runs)
without a dataplane.

The planner is event driven, which keeps it O(changed): it starts from
the changed ("dirty") keys, and an operation only looks further when it
affects others — a create wakes up items pending on the created key, a
delete first deletes the items that would lose their dependency. Two
phases, in this order: *prune* (everything that must go,
including the old instance of everything to re-create) then *sync*
(create, update); the executor finishes the first, and lets the
descriptors that deleted something settle it, before it starts the
second, so names and addresses are freed before being reused, and
dependents of a re-created item are created once, after it.

Rules, per key, comparing desired (`want`) with existing (`have`):

- not desired, exists and owned → delete (dependents first);
- exists but not owned → never touched;
- desired, a dependency missing → PENDING; if it exists, deleted — but only
  after everything else was planned, as the dependency may come back;
- desired, missing → create, then wake up its pending dependents;
- both, `equivalent` → nothing;
- both, differ → `update`, or delete + create when `needs_recreate`
  (dependents are deleted first and re-created after).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from typing import Any

import attrs

from contivctl.reconcile.descriptor import Descriptor
from contivctl.reconcile.desired import Delta
from contivctl.reconcile.item import Dependency, describe
from contivctl.reconcile.store import DependentsIndex, Have, ItemStore, SortedKeys, Want

_MAX_OPS_PER_KEY = 4


class OpKind(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@attrs.frozen
class Op:
    """One planned operation."""

    kind: OpKind
    key: str
    descriptor: Descriptor[Any]
    #: the value created or updated to; for a delete, the value deleted
    value: Any
    #: dependencies of the new value (create, update); recorded once it exists
    deps: tuple[Dependency, ...]
    #: dependencies relevant to ordering: of the old and of the new value
    order_deps: tuple[Dependency, ...]
    #: for an update, the value it replaces
    old: Any = None
    reason: str = ""
    #: for each prefix dependency, the key the planner counted on to meet it
    witnesses: tuple[str, ...] = ()
    #: for a delete: the key whose delete in the same plan takes this item with it (nothing is sent)
    goes_with: str | None = None
    #: the index of the delete that really removes it (that one's, or the end of a chain of such)
    taker: int | None = None


@attrs.frozen
class Plan:
    """Operations in a valid sequential order, plus what each must wait for."""

    ops: tuple[Op, ...]
    #: preds[i]: indexes of earlier operations op i must wait for
    preds: tuple[tuple[int, ...], ...]
    #: ops[:barrier] (prune) all finish before ops[barrier:] (sync) start
    barrier: int
    #: keys the planner looked at (their status is re-evaluated afterwards)
    visited: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.ops)

    def __len__(self) -> int:
        return len(self.ops)


def make_plan(store: ItemStore, delta: Delta, dirty: Iterable[str] = ()) -> Plan:
    """Plan `delta` (plus re-examining `dirty` keys) on top of `store`."""
    p = _Planner(store, delta)
    keys = set(dirty)
    keys.update(delta.items)
    removals = sorted(k for k in keys if p.want(k) is None)
    rest = sorted(k for k in keys if p.want(k) is not None)
    for k in removals:
        p.settle(k, "not desired")
    for k in rest:
        p.prune_for_recreate(k)
    barrier = len(p.ops)
    for k in rest:
        p.settle(k, "changed" if k in delta.items else "drift")
    while True:
        while p.requeue:
            p.settle(p.requeue.popleft(), "dependency back")
        if not p.deferred:
            break
        # Existing items whose dependency is missing are deleted only now:
        # the dependency may have been (re-)created meanwhile.
        batch, p.deferred = p.deferred, []
        p.final = True
        for k in batch:
            p.settle(k, "dependency missing")
        p.final = False
    ops = _implied_deletes(p.ops)
    return Plan(ops, order(ops), barrier, frozenset(p.visited))


def _implied_deletes(ops: list[Op]) -> tuple[Op, ...]:
    """Mark the deletes that another delete later in the plan takes care of (`Descriptor.deleted_with`).

    The *taker* is the delete that really removes the item: the other's, or,
    when that one goes along with yet another, the one at the end of that
    chain. Only when nothing else happens to the item until the taker, and
    nothing it depends on is deleted until then: the item is still there, so
    an item re-created, or a dependency deleted, before the taker needs the
    item really gone first. Whatever waits for the item's delete later in
    the plan waits for the taker too (`order`).
    """
    if not any(op.kind is OpKind.DELETE for op in ops):
        return tuple(ops)
    by_key: dict[str, list[int]] = {}
    for i, op in enumerate(ops):
        by_key.setdefault(op.key, []).append(i)
    out = list(ops)
    for i in range(len(ops) - 1, -1, -1):  # a later delete's own taker is known when an earlier one asks
        op = ops[i]
        if op.kind is not OpKind.DELETE:
            continue
        other = op.descriptor.deleted_with(op.key, op.value)
        if other is None:
            continue
        j = next((j for j in by_key.get(other, ()) if j > i and ops[j].kind is OpKind.DELETE), None)
        if j is None:
            continue
        chained = out[j].taker
        taker = chained if chained is not None else j
        if any(i < k < taker for k in by_key[op.key]):
            continue
        # a dependency going along with the same taker vanishes together with it: no conflict
        if any(d.prefix for d in op.order_deps) or any(
            i < k < taker and ops[k].kind is OpKind.DELETE and out[k].taker != taker
            for d in op.order_deps
            for k in by_key.get(d.target, ())
        ):
            continue
        out[i] = attrs.evolve(op, goes_with=other, taker=taker, reason=f"{op.reason}; goes with {other}")
    return tuple(out)


class _Planner:
    def __init__(self, store: ItemStore, delta: Delta) -> None:
        self.store = store
        self.items = delta.items
        self.sim: dict[str, Have | None] = {}
        #: keys created in the simulation that the store does not know
        self.added = SortedKeys()
        #: keys the store knows that the simulation deleted
        self.removed: set[str] = set()
        self.index = DependentsIndex()
        for k, w in delta.items.items():
            if w is not None:
                self.index.add(k, w.deps)
        self.ops: list[Op] = []
        self.visited: set[str] = set()
        self.requeue: deque[str] = deque()
        #: operations planned per key, for keys with more than one (a key's first sets its `sim` entry)
        self.count: dict[str, int] = {}
        self.deferred: list[str] = []
        #: set by `missing`: keys meeting the prefix dependencies just checked
        self.witnesses: list[str] = []
        self.final = False

    # -- views over the overlay -------------------------------------------------

    def want(self, key: str) -> Want | None:
        if key in self.items:
            return self.items[key]
        return self.store.desired.get(key)

    def have(self, key: str) -> Have | None:
        if key in self.sim:
            return self.sim[key]
        return self.store.known.get(key)

    def others_with_prefix(self, prefix: str, exclude: str, limit: int) -> list[str]:
        """Up to `limit` existing keys with `prefix`, other than `exclude`."""
        out: list[str] = []
        for k in self.store.present.with_prefix(prefix):
            if k != exclude and k not in self.removed:
                out.append(k)
                if len(out) >= limit:
                    return out
        for k in self.added.with_prefix(prefix):
            if k != exclude:
                out.append(k)
                if len(out) >= limit:
                    return out
        return out

    def missing(self, key: str, deps: tuple[Dependency, ...]) -> list[Dependency]:
        """Unmet dependencies; for each met prefix one, the key that meets it goes to `witnesses`."""
        miss = []
        self.witnesses = []
        for d in deps:
            if d.prefix:
                found = self.others_with_prefix(d.target, key, 1)
                if found:
                    self.witnesses.append(found[0])
                else:
                    miss.append(d)
            elif self.have(d.target) is None:
                miss.append(d)
        return miss

    def exact_dependents(self, key: str) -> list[str]:
        out = set(self.store.index.exact.get(key, ()))
        out.update(self.index.exact.get(key, ()))
        return sorted(out)

    def prefix_dependents(self, key: str) -> list[tuple[str, list[set[str]]]]:
        """Per prefix of `key` that some item depends on, the sets of those items (not copied)."""
        groups: dict[str, list[set[str]]] = {}
        for index in (self.store.index, self.index):
            for n in index.prefix_lengths:
                if n <= len(key):
                    p = key[:n]
                    s = index.prefix.get(p)
                    if s:
                        groups.setdefault(p, []).append(s)
        return sorted(groups.items())

    # -- rules ----------------------------------------------------------------

    def settle(self, key: str, why: str) -> None:
        self.visited.add(key)
        w = self.want(key)
        h = self.have(key)
        if w is None:
            if h is not None and h.owned:
                self.delete(key, why)
            return
        if h is not None and not h.owned:
            return
        miss = self.missing(key, w.deps)
        if miss:
            if h is not None and not self.final:
                self.deferred.append(key)
            elif h is not None:
                self.delete(key, f"dependency {describe(miss[0])} missing")
            return
        if h is None:
            self.create(key, w, why)
        elif h.value is w.value or w.descriptor.equivalent(w.value, h.value):
            return
        elif w.descriptor.needs_recreate(h.value, w.value):
            self.delete(key, "re-create")
            # Deleting it may have taken away what satisfied its dependencies
            # (an item that relies on it, through a prefix): check again.
            self.settle(key, "re-create")
        else:
            deps = (*h.deps, *w.deps)
            self.emit(OpKind.UPDATE, key, w.descriptor, w.value, w.deps, deps, h.value, why, self.witnesses)
            self.sim[key] = Have(w.value, w.descriptor, h.metadata, True, w.deps)

    def prune_for_recreate(self, key: str) -> None:
        """Delete what must be re-created up front, so dependents are created once, after it."""
        w = self.want(key)
        h = self.have(key)
        if w is None or h is None or not h.owned or h.value is w.value:
            return
        if not w.descriptor.equivalent(w.value, h.value) and w.descriptor.needs_recreate(h.value, w.value):
            self.visited.add(key)
            self.delete(key, "re-create")

    def create(self, key: str, w: Want, why: str) -> None:
        self.emit(OpKind.CREATE, key, w.descriptor, w.value, w.deps, w.deps, None, why, self.witnesses)
        self.sim[key] = Have(w.value, w.descriptor, None, True, w.deps)
        if key in self.store.known:
            self.removed.discard(key)
        else:
            self.added.add(key)
        woken = self.exact_dependents(key)
        for p, sets in self.prefix_dependents(key):
            # Items pending on a prefix only wait while no key with it exists.
            if not self.others_with_prefix(p, key, 1):
                woken.extend(sorted(set().union(*sets)))
        for d in woken:
            if d != key and self.have(d) is None and self.want(d) is not None:
                self.settle(d, f"dependency {key} created")

    def delete(self, key: str, why: str) -> None:
        h = self.have(key)
        assert h is not None
        # Deleting a dependent can make `key` the last key of a prefix some
        # other item relies on, so look again until nobody is left.
        while losing := [d for d in self._dependents_losing(key) if d != key and self.have(d) is not None]:
            for d in losing:
                if self.have(d) is not None:
                    self.delete(d, f"dependency {key} removed")
                    self.requeue.append(d)
        self.emit(OpKind.DELETE, key, h.descriptor, h.value, (), h.deps, None, why)
        self.sim[key] = None
        if key in self.store.known:
            self.removed.add(key)
        else:
            self.added.discard(key)

    def _dependents_losing(self, key: str) -> list[str]:
        """Existing owned items that would lose a dependency if `key` went."""
        losing = self._losing(self.exact_dependents(key), Dependency.on(key))
        for p, sets in self.prefix_dependents(key):
            others = self.others_with_prefix(p, key, 2)
            if not others:
                lose = sorted(set().union(*sets))
            elif len(others) == 1:
                lose = [others[0]] if any(others[0] in s for s in sets) else []
            else:
                continue
            losing.extend(self._losing(lose, Dependency.any_under(p)))
        return losing

    def _losing(self, keys: list[str], dep: Dependency) -> list[str]:
        """Those of `keys` that exist, are owned and rely on `dep`.

        Those pending on it are re-examined as well: their status must now
        name one more missing dependency.
        """
        out = []
        for k in keys:
            h = self.have(k)
            if h is not None:
                if h.owned and dep in h.deps:
                    out.append(k)
                continue
            w = self.want(k)
            if w is not None and dep in w.deps:
                self.visited.add(k)
        return out

    def emit(
        self,
        kind: OpKind,
        key: str,
        descriptor: Descriptor[Any],
        value: Any,
        deps: tuple[Dependency, ...],
        order_deps: tuple[Dependency, ...],
        old: Any,
        why: str,
        witnesses: list[str] | None = None,
    ) -> None:
        self.visited.add(key)
        if key in self.sim:
            n = self.count[key] = self.count.get(key, 1) + 1
            if n > _MAX_OPS_PER_KEY:
                raise AssertionError(f"planner loops on {key!r}")
        self.ops.append(Op(kind, key, descriptor, value, deps, order_deps, old, why, tuple(witnesses or ())))


def order(ops: tuple[Op, ...]) -> tuple[tuple[int, ...], ...]:
    """For each op, the earlier ops it must wait for.

    An operation waits for earlier ones on the same key and on its exact
    dependencies (of the old and the new value); a create or update waits
    for the last operation on the key the planner counted on for each
    prefix dependency (not on every key with the prefix, which would make
    ordering quadratic). A delete also waits for earlier operations on items
    that depend on its key, exactly or through a prefix. Related operations
    keep their plan order; unrelated ones may run concurrently.
    """
    last: dict[str, int] = {}
    exact_waiters: dict[str, list[int]] = {}
    prefix_waiters: dict[str, list[int]] = {}
    prefix_lengths: set[int] = set()
    out: list[tuple[int, ...]] = []
    for i, op in enumerate(ops):
        preds: set[int] = set()
        j = last.get(op.key)
        if j is not None:
            preds.add(j)
        for d in op.order_deps:
            if not d.prefix:
                j = last.get(d.target)
                if j is not None:
                    preds.add(j)
        for w in op.witnesses:
            j = last.get(w)
            if j is not None:
                preds.add(j)
        preds.update(exact_waiters.get(op.key, ()))
        if op.kind is OpKind.DELETE:
            # Creating one more key an earlier item may use through a prefix
            # harms nobody; deleting it may, so only deletes wait for them.
            for n in prefix_lengths:
                preds.update(prefix_waiters.get(op.key[:n], ()))
        # waiting for an item that goes with another delete is waiting until that delete is done
        for j in list(preds):
            t = ops[j].taker
            if t is not None and t < i:
                preds.add(t)
        preds.discard(i)
        for d in op.order_deps:
            if d.prefix:
                prefix_waiters.setdefault(d.target, []).append(i)
                prefix_lengths.add(len(d.target))
            else:
                exact_waiters.setdefault(d.target, []).append(i)
        last[op.key] = i
        out.append(tuple(sorted(preds)))
    return tuple(out)
