"""An in-memory dataplane and its descriptor, for the reconciler's tests and benchmarks.

It behaves like a strict dataplane rather than a dict: it refuses to create
an item whose dependencies do not exist, to delete an item something still
depends on, to create what exists or touch what does not; it fills in a
field on create (as a dataplane normalises values); it can be told to fail
any operation; and it records, as violations, two related operations
running at the same time. So the real reconciler can be tested against it
without mocking anything of the reconciler itself.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from contivctl.reconcile.descriptor import Context, Descriptor
from contivctl.reconcile.item import Dependency, Metadata, Retrieved


class MemoryFault(Exception):
    """The in-memory dataplane refused an operation."""


class TransientFault(MemoryFault):
    """A failure worth retrying (the descriptor says so)."""


@attrs.frozen
class Thing:
    """A value the in-memory dataplane stores."""

    data: str = ""
    #: keys that must exist first
    needs: tuple[str, ...] = ()
    #: prefixes of which some key must exist first
    needs_any: tuple[str, ...] = ()
    #: items derived from this one: (key, value)
    derives: tuple[tuple[str, Thing], ...] = ()
    #: a change of this field cannot be applied in place (needs re-create)
    fixed: str = ""
    #: set by the dataplane itself on create; ignored when comparing
    fill: str | None = None
    #: for a derived item, its parent (set by the descriptor)
    parent: str | None = None
    #: the item (one of `needs`) whose delete takes this one with it, as a device takes its addresses
    goes_with: str | None = None

    def dependencies(self) -> list[Dependency]:
        deps = [Dependency.on(k) for k in self.needs]
        deps += [Dependency.any_under(p) for p in self.needs_any]
        if self.parent is not None:
            deps.append(Dependency.on(self.parent))
        return deps


Failer = Callable[[str, str], Exception | None]


class MemoryDataplane:
    """Items by key, with the refusals of a real dataplane."""

    def __init__(self, *, normalise: bool = False, strict: bool = True, yields: int = 1) -> None:
        self.items: dict[str, tuple[Thing, int]] = {}
        #: successful operations, in order: ("create" | "update" | "delete", key)
        self.log: list[tuple[str, str]] = []
        #: related operations that overlapped in time
        self.violations: list[str] = []
        #: the most operations ever in flight at once
        self.max_inflight = 0
        self.normalise = normalise
        self.strict = strict
        self.yields = yields
        self._index = itertools.count(1)
        self._inflight: dict[str, tuple[str, Thing]] = {}
        self._planned_failures: dict[tuple[str, str], list[Exception]] = {}
        self._gates: dict[tuple[str, str], asyncio.Event] = {}
        self.failer: Failer | None = None

    # -- test controls --------------------------------------------------------

    def fail(self, op: str, key: str, exc: Exception | None = None, times: int = 1) -> None:
        """Make the next `times` `op` ("create", "update", "delete") on `key` raise `exc`."""
        err = exc if exc is not None else MemoryFault(f"injected failure of {op} {key}")
        self._planned_failures.setdefault((op, key), []).extend([err] * times)

    def gate(self, op: str, key: str) -> asyncio.Event:
        """Make the next `op` on `key` wait until the returned event is set."""
        event = asyncio.Event()
        self._gates[(op, key)] = event
        return event

    def put_behind_back(self, key: str, value: Thing) -> None:
        """Create or change an item without going through a descriptor (drift)."""
        old = self.items.get(key)
        self.items[key] = (value, old[1] if old else next(self._index))

    def remove_behind_back(self, key: str) -> None:
        del self.items[key]

    def values(self) -> dict[str, Thing]:
        return {k: v for k, (v, _) in self.items.items()}

    # -- operations -----------------------------------------------------------

    async def create(self, key: str, value: Thing) -> int:
        await self._enter("create", key, value)
        try:
            if key in self.items:
                raise MemoryFault(f"{key} exists")
            self._check_deps(key, value)
            index = next(self._index)
            self.items[key] = (attrs.evolve(value, fill="auto") if self.normalise else value, index)
            self.log.append(("create", key))
            return index
        finally:
            self._inflight.pop(key, None)

    async def update(self, key: str, value: Thing) -> int:
        await self._enter("update", key, value)
        try:
            if key not in self.items:
                raise MemoryFault(f"{key} does not exist")
            self._check_deps(key, value)
            old, index = self.items[key]
            self.items[key] = (attrs.evolve(value, fill=old.fill) if self.normalise else value, index)
            self.log.append(("update", key))
            return index
        finally:
            self._inflight.pop(key, None)

    async def delete(self, key: str) -> None:
        value = self.items[key][0] if key in self.items else Thing()
        await self._enter("delete", key, value)
        try:
            if key not in self.items:
                raise MemoryFault(f"{key} does not exist")
            taken = self._taken_along(key)
            if self.strict:
                for other, (v, _) in self.items.items():
                    if other == key or other in taken:
                        continue
                    for d in v.dependencies():
                        if d.matches(key) and not (
                            d.prefix and any(k != key and k != other and d.matches(k) for k in self.items)
                        ):
                            raise MemoryFault(f"{other} still depends on {key}")
            del self.items[key]
            self.log.append(("delete", key))
            for other in taken:
                del self.items[other]
                self.log.append(("gone with " + key, other))
        finally:
            self._inflight.pop(key, None)

    def _taken_along(self, key: str) -> list[str]:
        """What the delete of `key` takes with it: what goes with it, and what goes with those."""
        taken: list[str] = []
        todo = [key]
        while todo:
            k = todo.pop()
            for other, (v, _) in self.items.items():
                if v.goes_with == k and other not in taken:
                    taken.append(other)
                    todo.append(other)
        return taken

    async def _enter(self, op: str, key: str, value: Thing) -> None:
        for other, (other_op, v) in self._inflight.items():
            clash = self._related(key, value, other, other_op) or self._related(other, v, key, op)
            if other == key or clash:
                self.violations.append(f"{op} {key} overlapped with {other_op} {other}")
        self._inflight[key] = (op, value)
        self.max_inflight = max(self.max_inflight, len(self._inflight))
        for _ in range(self.yields):
            await asyncio.sleep(0)
        gate = self._gates.pop((op, key), None)
        if gate is not None:
            await gate.wait()
        err: Exception | None = None
        planned = self._planned_failures.get((op, key))
        if planned:
            err = planned.pop(0)
        elif self.failer is not None:
            err = self.failer(op, key)
        if err is not None:
            self._inflight.pop(key, None)
            raise err

    def _related(self, key: str, value: Thing, other: str, other_op: str) -> bool:
        """Whether an operation on `key` must not overlap `other_op` on `other`.

        It must not when `other` is an exact dependency of the value, or when
        `other` is being deleted and was the only key meeting one of its
        prefix dependencies.
        """
        for d in value.dependencies():
            if not d.matches(other):
                continue
            if not d.prefix:
                return True
            if other_op == "delete" and not any(
                k not in (key, other) and d.matches(k) and self._inflight.get(k, ("",))[0] != "delete"
                for k in self.items
            ):
                return True
        return False

    def _check_deps(self, key: str, value: Thing) -> None:
        if not self.strict:
            return
        for d in value.dependencies():
            if d.prefix:
                if not any(k != key and d.matches(k) for k in self.items):
                    raise MemoryFault(f"{key} needs some {d.target}*")
            elif d.target not in self.items:
                raise MemoryFault(f"{key} needs {d.target}")


class MemoryDescriptor(Descriptor[Thing]):
    """Descriptor of one kind of Thing, keyed under `prefix`.

    Keys whose name (after the prefix) starts with "sys-" are not owned:
    they stand for what the dataplane has of its own.
    """

    def __init__(
        self,
        prefix: str,
        dataplane: MemoryDataplane,
        *,
        updatable: bool = True,
        retrieve_after: tuple[str, ...] = (),
    ) -> None:
        self.prefix = prefix
        self.dataplane = dataplane
        self.updatable = updatable
        self.retrieve_after = retrieve_after
        #: per created key, the metadata of its exact dependencies as read through ctx
        self.seen_metadata: dict[str, dict[str, Metadata]] = {}

    async def create(self, ctx: Context, key: str, value: Thing) -> Metadata:
        deps = [d.target for d in self.dependencies(key, value) if not d.prefix]
        self.seen_metadata[key] = {k: ctx.metadata(k) for k in deps}
        return await self.dataplane.create(key, value)

    async def update(self, ctx: Context, key: str, old: Thing, new: Thing, metadata: Metadata) -> Metadata:
        return await self.dataplane.update(key, new)

    def needs_recreate(self, old: Thing, new: Thing) -> bool:
        return not self.updatable or old.fixed != new.fixed

    async def delete(self, ctx: Context, key: str, value: Thing, metadata: Metadata) -> None:
        await self.dataplane.delete(key)

    async def retrieve(self, ctx: Context, expected: Mapping[str, Thing]) -> Iterable[Retrieved]:
        items = self.dataplane.items.items()
        return [Retrieved(k, v, md) for k, (v, md) in items if k.startswith(self.prefix)]

    def owns(self, key: str, value: Thing) -> bool:
        return not key[len(self.prefix) :].startswith("sys-")

    def equivalent(self, desired: Thing, actual: Thing) -> bool:
        return desired == actual or attrs.evolve(desired, fill=None) == attrs.evolve(actual, fill=None)

    def is_retriable(self, exc: Exception) -> bool:
        return isinstance(exc, TransientFault)

    def dependencies(self, key: str, value: Thing) -> Iterable[Dependency]:
        return value.dependencies()

    def deleted_with(self, key: str, value: Thing) -> str | None:
        return value.goes_with

    def derived(self, key: str, value: Thing) -> Iterable[tuple[str, Any]]:
        return [(k, attrs.evolve(v, parent=key)) for k, v in value.derives]
