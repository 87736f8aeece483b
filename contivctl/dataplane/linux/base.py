"""What the Linux descriptors that read the shared namespace snapshot have in common."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, TypeVar

from contivctl.dataplane.linux import nlmsg
from contivctl.dataplane.linux.common import goes_with, is_retriable, known_index, on_link
from contivctl.dataplane.linux.snapshot import NamespaceDump, SnapshotSource
from contivctl.reconcile.descriptor import Context, Descriptor
from contivctl.reconcile.item import Dependency, Metadata, Retrieved


class _InNamespace(Protocol):
    @property
    def netns(self) -> str: ...

    def deps(self) -> Iterable[Dependency]: ...


V = TypeVar("V", bound=_InNamespace)


class SnapshotDescriptor(Descriptor[V]):
    """A descriptor whose ``retrieve`` reads the shared snapshot and reports only the agent's objects.

    Ownership is decided while reading (the agent's alias and device group),
    so everything such a descriptor reports is owned; its dependencies are
    what the item value names; a busy kernel is worth another try.
    """

    def __init__(self, snapshots: SnapshotSource) -> None:
        self._snapshots = snapshots

    def owns(self, key: str, value: V) -> bool:
        return True

    def is_retriable(self, exc: Exception) -> bool:
        return is_retriable(exc)

    def dependencies(self, key: str, value: V) -> Iterable[Dependency]:
        return value.deps()

    def namespaces(self, expected: Mapping[str, V]) -> set[str]:
        """The namespaces the expected items of this kind are in: what a retrieve must read."""
        return {v.netns for v in expected.values()}


class _OnLink(_InNamespace, Protocol):
    @property
    def link(self) -> str: ...

    @property
    def key(self) -> str: ...


L = TypeVar("L", bound=_OnLink)


class OnLinkDescriptor(SnapshotDescriptor[L]):
    """Items that sit on one of the agent's links: addresses, routes, neighbours, FDB entries.

    Each names the item that makes its link (``link``), whose recorded
    ifindex saves a lookup; each goes away with its link when that is
    deleted in the same transaction; and what a resync finds of them is
    what sits on links the agent made (``found``).
    """

    def deleted_with(self, key: str, value: L) -> str | None:
        return goes_with(value.link)

    async def on_link(
        self,
        ctx: Context,
        value: L,
        dev: str,
        make: Callable[[int], nlmsg.Request],
        what: str,
        *,
        gone_ok: bool = False,
    ) -> None:
        """Send ``make(ifindex)`` about link ``dev`` of the item's namespace (gone is done with ``gone_ok``)."""
        self._snapshots.invalidate()
        await on_link(value.netns, known_index(ctx, value.link, value.netns), dev, make, what, gone_ok=gone_ok)

    def found(self, dump: NamespaceDump) -> Iterable[L]:
        """The items of this kind in one namespace's dump."""
        raise NotImplementedError

    async def retrieve(self, ctx: Context, expected: Mapping[str, L]) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx, self.namespaces(expected))
        return [Retrieved(v.key, v, owned=True) for dump in snapshot.namespaces.values() for v in self.found(dump)]


class ReplacingOnLinkDescriptor(OnLinkDescriptor[L]):
    """On-link items whose create and update are one request that replaces what is there (routes, neighbours, FDB)."""

    async def replace(self, ctx: Context, value: L) -> None:
        raise NotImplementedError

    async def create(self, ctx: Context, key: str, value: L) -> Metadata:
        await self.replace(ctx, value)
        return None

    async def update(self, ctx: Context, key: str, old: L, new: L, metadata: Metadata) -> Metadata:
        await self.replace(ctx, new)
        return None
