"""Descriptors: how one kind of item is made, changed, removed and found.

The reconciler is generic; a descriptor is where the meaning of a value
lives. One descriptor per item kind, chosen by key prefix (`prefix`), so a
key alone says who handles it — the reconciler never inspects values to
route them. Prefixes of registered descriptors must not be prefixes of one
another, so every key has at most one owner.

Contract (see docs/reconciler.md for the long form):

- `create`, `update`, `delete` are awaited one at a time per item, only
  when every dependency exists (create/update) or every dependent is gone
  (delete). They raise on failure; `is_retriable` classifies the error.
- `update` is optional. Without it, or when `needs_recreate(old, new)` is
  true, a change is a delete followed by a create, and dependents of the
  item are re-created as well.
- `retrieve` dumps every item of the kind that exists, including items the
  agent did not create; `owns` (or `Retrieved.owned`) marks those the agent
  may delete. Items not owned are never updated or deleted. It is given
  what is expected of its kind — the desired values and those last seen
  to exist (what vpp-agent's KVScheduler calls the correlate) — so that a
  kind that cannot be listed as a whole (links inside pod namespaces,
  which are files anywhere) learns from them where to look.
- `equivalent(desired, actual)` decides whether an existing item already
  matches the desired value; it must ignore what the dataplane fills in or
  normalises, or a resync would re-create items forever.
- `dependencies` and `derived` are pure functions of the key and value.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Generic, Protocol, TypeVar

from contivctl.reconcile.errors import UnknownKind
from contivctl.reconcile.item import Dependency, Metadata, Retrieved

V = TypeVar("V")


class Context(Protocol):
    """Read-only view of what exists, handed to every descriptor call.

    During a transaction it shows items as they are at that moment: a
    dependency's metadata (from its `create`) is readable by the time a
    dependent's `create` runs. During `retrieve` it shows what the
    descriptors listed in `retrieve_after` have just retrieved.
    """

    def metadata(self, key: str) -> Metadata:
        """The metadata of an existing item; KeyError when it does not exist."""
        ...

    def value(self, key: str) -> Any:
        """The value of an existing item; KeyError when it does not exist."""
        ...

    def exists(self, key: str) -> bool: ...


class Descriptor(abc.ABC, Generic[V]):
    """Base class of descriptors; set `prefix` (class or instance) and implement the abstract methods."""

    #: keys starting with this belong to the descriptor (e.g. "dp/interface/")
    prefix: str = ""
    #: prefixes of descriptors whose `retrieve` must run first (their metadata is then in ctx)
    retrieve_after: tuple[str, ...] = ()

    @abc.abstractmethod
    async def create(self, ctx: Context, key: str, value: V) -> Metadata:
        """Make the item; return metadata dependents may need (or None)."""

    async def update(self, ctx: Context, key: str, old: V, new: V, metadata: Metadata) -> Metadata:
        """Change the item in place; return the metadata to keep from now on."""
        raise NotImplementedError

    def needs_recreate(self, old: V, new: V) -> bool:
        """Whether going from `old` to `new` needs delete + create instead of `update`."""
        return type(self).update is Descriptor.update

    @abc.abstractmethod
    async def delete(self, ctx: Context, key: str, value: V, metadata: Metadata) -> None:
        """Remove the item."""

    @abc.abstractmethod
    async def retrieve(self, ctx: Context, expected: Mapping[str, V]) -> Iterable[Retrieved]:
        """Every item of this kind that exists now, owned or not.

        ``expected`` holds, by key, the items of this kind that are desired
        (derived ones included) or were last seen to exist: at least
        everything they name must be looked at.
        """

    @abc.abstractmethod
    def owns(self, key: str, value: V) -> bool:
        """Whether a retrieved item is the agent's to change and delete."""

    def equivalent(self, desired: V, actual: V) -> bool:
        """Whether `actual` already is `desired`, modulo what the dataplane fills in."""
        return desired == actual

    def is_retriable(self, exc: Exception) -> bool:
        """Whether a failure is transient and worth retrying with backoff."""
        return False

    async def settle(self) -> None:
        """Finish what this descriptor's deletes left for later; must not raise.

        A delete may leave part of its work to be done in a batch (links
        waiting to be removed together, say), as long as nothing else needs
        it done. A transaction that creates after deleting calls this between
        the two, for every descriptor that deleted something, so that a name
        or an address a delete gave up is free when a create takes it.
        """

    def dependencies(self, key: str, value: V) -> Iterable[Dependency]:
        """Keys (or prefixes) that must exist before the item is created."""
        return ()

    def deleted_with(self, key: str, value: V) -> str | None:
        """The key of an item whose deletion takes this one with it in the dataplane, if any.

        A network device takes its addresses and routes with it. When both
        are deleted in one transaction, this item's delete is not sent: it
        counts as done, ordered before the other as any dependent's delete.
        Should the other's delete then fail, the item is still there
        although not known to be; the next resync finds it and removes it.
        """
        return None

    def derived(self, key: str, value: V) -> Iterable[tuple[str, Any]]:
        """Items that exist because this one does, e.g. an interface's addresses.

        Derived items are routed to their own descriptors by key, depend
        implicitly on their parent and are removed when it is.
        """
        return ()


#: routed keys remembered at the most (a resync routes every key several times)
_ROUTE_MEMO = 1 << 17


class Registry:
    """Routes keys to descriptors by prefix, in O(number of distinct prefix lengths), remembered per key."""

    def __init__(self, descriptors: Iterable[Descriptor[Any]]) -> None:
        by_prefix: dict[str, Descriptor[Any]] = {}
        for d in descriptors:
            if not d.prefix:
                raise ValueError(f"descriptor {type(d).__name__} has an empty prefix")
            for other in by_prefix:
                if other.startswith(d.prefix) or d.prefix.startswith(other):
                    raise ValueError(f"descriptor prefixes overlap: {other!r} and {d.prefix!r}")
            by_prefix[d.prefix] = d
        for d in by_prefix.values():
            for after in d.retrieve_after:
                if after not in by_prefix:
                    raise ValueError(f"{d.prefix!r} retrieves after unknown prefix {after!r}")
        self._by_prefix = by_prefix
        self._lengths = sorted({len(p) for p in by_prefix})
        self._routed: dict[str, Descriptor[Any]] = {}

    def route(self, key: str) -> Descriptor[Any]:
        found = self._routed.get(key)
        if found is not None:
            return found
        for n in self._lengths:
            d = self._by_prefix.get(key[:n])
            if d is not None:
                if len(self._routed) >= _ROUTE_MEMO:
                    self._routed.clear()  # keys of items long gone: start over
                self._routed[key] = d
                return d
        raise UnknownKind(key)

    def __iter__(self) -> Iterator[Descriptor[Any]]:
        return iter(self._by_prefix.values())

    def by_prefix(self) -> Mapping[str, Descriptor[Any]]:
        return self._by_prefix

    def retrieve_order(self) -> list[list[Descriptor[Any]]]:
        """Descriptors in waves: each wave only retrieves after earlier waves."""
        done: set[str] = set()
        waves: list[list[Descriptor[Any]]] = []
        left = dict(self._by_prefix)
        while left:
            wave = [d for d in left.values() if all(a in done for a in d.retrieve_after)]
            if not wave:
                raise ValueError("retrieve_after of descriptors loops: " + ", ".join(sorted(left)))
            waves.append(wave)
            for d in wave:
                done.add(d.prefix)
                del left[d.prefix]
        return waves
