"""What the Linux descriptors that read the shared namespace snapshot have in common."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

from contivctl.dataplane.linux.common import is_retriable
from contivctl.dataplane.linux.snapshot import SnapshotSource
from contivctl.reconcile.descriptor import Descriptor
from contivctl.reconcile.item import Dependency


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
