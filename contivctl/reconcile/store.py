"""The reconciler's committed knowledge: what is desired, what exists, and the indexes.

Everything here is kept so that a change touching a few keys costs a few
dictionary operations, whatever the number of items: dependents are found
through reverse indexes, "does any key with this prefix exist" through a
sorted list, never by scanning.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs

from contivctl.reconcile.descriptor import Descriptor
from contivctl.reconcile.item import Dependency, ItemStatus, Metadata


@attrs.frozen
class Want:
    """A desired item after expansion: its dependencies resolved and its derived items known."""

    value: Any
    descriptor: Descriptor[Any]
    #: the descriptor's dependencies, plus the parent for a derived item
    deps: tuple[Dependency, ...]
    #: the item this one is derived from, None for an item given directly
    parent: str | None = None
    #: keys of the items derived from this one
    children: tuple[str, ...] = ()


@attrs.frozen
class Have:
    """An item that exists in the dataplane, as far as the reconciler knows."""

    value: Any
    descriptor: Descriptor[Any]
    metadata: Metadata
    owned: bool
    deps: tuple[Dependency, ...]


class SortedKeys:
    """A sorted list of keys answering "does a key with this prefix exist" in O(log n)."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._keys = sorted(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: str) -> None:
        i = bisect.bisect_left(self._keys, key)
        if i == len(self._keys) or self._keys[i] != key:
            self._keys.insert(i, key)

    def discard(self, key: str) -> None:
        i = bisect.bisect_left(self._keys, key)
        if i < len(self._keys) and self._keys[i] == key:
            del self._keys[i]

    def with_prefix(self, prefix: str) -> Iterable[str]:
        """Keys starting with `prefix`, in order, lazily."""
        keys = self._keys
        i = bisect.bisect_left(keys, prefix)
        while i < len(keys) and keys[i].startswith(prefix):
            yield keys[i]
            i += 1

    def update(self, added: Iterable[str], removed: Iterable[str]) -> None:
        """Apply a batch; rebuilds when the batch is large, since each insert is O(n)."""
        added = list(added)
        removed = list(removed)
        if len(added) + len(removed) > 64 and len(added) + len(removed) > len(self._keys) // 32:
            gone = set(removed)
            kept = [k for k in self._keys if k not in gone] if gone else self._keys
            # the kept keys are one sorted run, and a batch comes about sorted: a merge, not a full sort
            self._keys = sorted(dict.fromkeys(itertools.chain(kept, added)))
            return
        for k in removed:
            self.discard(k)
        for k in added:
            self.add(k)


class DependentsIndex:
    """Reverse dependency index: which keys name a given key or prefix among their deps.

    A key is indexed under the union of the dependencies of its desired and
    of its existing value, because both matter: the desired one to wake a
    pending item up, the existing one to delete a dependent before its
    dependency. Entries are candidates; callers re-check the actual relation.
    """

    def __init__(self) -> None:
        self.exact: dict[str, set[str]] = {}
        self.prefix: dict[str, set[str]] = {}
        self.prefix_lengths: Counter[int] = Counter()
        #: what each key was indexed under: its exact targets and its prefixes. Tuples of strings,
        #: not sets: one per item, and the garbage collector stops tracking tuples of strings, so a
        #: hundred thousand items do not make every full collection walk a few hundred thousand sets
        self._indexed: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def add(self, key: str, deps: Iterable[Dependency]) -> None:
        """Index a key this index has never seen and will not see again (a plan's own index).

        What it was indexed under is not kept: nothing will have to be taken out.
        """
        for d in deps:
            index = self.prefix if d.prefix else self.exact
            found = index.get(d.target)
            if found is None:
                index[d.target] = {key}
                if d.prefix:
                    self.prefix_lengths[len(d.target)] += 1
            else:
                found.add(key)

    def put(self, key: str, deps: Iterable[Dependency]) -> None:
        exact: list[str] = []
        prefixes: list[str] = []
        for d in deps:
            targets = prefixes if d.prefix else exact
            if d.target not in targets:
                targets.append(d.target)
        new = (tuple(exact), tuple(prefixes))
        old = self._indexed.get(key, _UNINDEXED)
        if old == new:
            return
        old_exact, old_prefixes = old
        for t in old_exact:
            if t not in new[0]:
                s = self.exact[t]
                s.discard(key)
                if not s:
                    del self.exact[t]
        for t in new[0]:
            if t not in old_exact:
                found = self.exact.get(t)
                if found is None:
                    self.exact[t] = {key}
                else:
                    found.add(key)
        for t in old_prefixes:
            if t not in new[1]:
                s = self.prefix[t]
                s.discard(key)
                if not s:
                    del self.prefix[t]
                    self.prefix_lengths[len(t)] -= 1
                    if not self.prefix_lengths[len(t)]:
                        del self.prefix_lengths[len(t)]
        for t in new[1]:
            if t not in old_prefixes:
                if t not in self.prefix:
                    self.prefix[t] = set()
                    self.prefix_lengths[len(t)] += 1
                self.prefix[t].add(key)
        if exact or prefixes:
            self._indexed[key] = new
        else:
            self._indexed.pop(key, None)


_UNINDEXED: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


class ItemStore:
    """Committed state. Only the reconciler writes it, between transactions' operations."""

    def __init__(self) -> None:
        #: desired values as handed over (derived items excluded)
        self.top: dict[str, Any] = {}
        #: every desired item, derived ones included
        self.desired: dict[str, Want] = {}
        #: every item known to exist, owned or not
        self.known: dict[str, Have] = {}
        #: status of every desired item and of owned items that could not be removed
        self.status: dict[str, ItemStatus] = {}
        self.index = DependentsIndex()
        #: keys of `known`, sorted, for prefix dependencies
        self.present = SortedKeys()

    def reindex(self, key: str) -> None:
        w = self.desired.get(key)
        h = self.known.get(key)
        if h is None or w is None or h.deps == w.deps:
            deps: Iterable[Dependency] = w.deps if w is not None else h.deps if h is not None else ()
        else:
            deps = (*w.deps, *h.deps)
        self.index.put(key, deps)
