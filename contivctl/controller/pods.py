"""The controller's view of the pods on this node: attachments, their items, their addresses.

Kept apart from the node view: pod events change only this part. Lookups a
pod event needs (is this attachment known, does this pod already have an
interface of that name) are indexed, so a burst of pods costs each pod the
same whatever the number already wired.

Only the controller task mutates a ``PodView``; readers (the API, REST) see
a consistent value because each change is complete before the task yields.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from contivctl.ipam import PodIPAllocator
from contivctl.items import Items
from contivctl.model import Attachment, AttachmentKey, PodRef

Slot = tuple[PodRef, str]
K = TypeVar("K")


class PodView:
    def __init__(self, allocator: PodIPAllocator) -> None:
        self.allocator = allocator
        self.attachments: dict[AttachmentKey, Attachment] = {}
        #: the items each attachment was wired with (what its DEL removes)
        self.items: dict[AttachmentKey, Items] = {}
        #: attachments by (pod, interface name), for pods that have a name
        self._slots: dict[Slot, dict[AttachmentKey, Attachment]] = {}
        #: attachments by pod
        self._pods: dict[PodRef, dict[AttachmentKey, Attachment]] = {}

    def __contains__(self, key: object) -> bool:
        return key in self.attachments

    def __iter__(self) -> Iterator[Attachment]:
        return iter(list(self.attachments.values()))

    def __len__(self) -> int:
        return len(self.attachments)

    def get(self, key: AttachmentKey) -> Attachment | None:
        return self.attachments.get(key)

    def in_slot(self, pod: PodRef, ifname: str) -> list[Attachment]:
        """The attachments of pod ``pod`` with interface ``ifname`` (a new sandbox of it replaces them)."""
        return list(self._slots.get((pod, ifname), {}).values())

    def attachment_of(self, pod: PodRef) -> Attachment | None:
        found = self._pods.get(pod)
        return next(iter(found.values())) if found else None

    def desired(self) -> Items:
        out: Items = {}
        for items in self.items.values():
            out.update(items)
        return out

    def add(self, att: Attachment, items: Items) -> None:
        self.attachments[att.key] = att
        self.items[att.key] = items
        if att.pod.name:
            self._slots.setdefault((att.pod, att.ifname), {})[att.key] = att
        self._pods.setdefault(att.pod, {})[att.key] = att

    def remove(self, key: AttachmentKey) -> tuple[Attachment, Items] | None:
        """Take an attachment out of the view (its address stays allocated until ``release``)."""
        att = self.attachments.pop(key, None)
        if att is None:
            return None
        items = self.items.pop(key, {})
        _drop(self._slots, (att.pod, att.ifname), key)
        _drop(self._pods, att.pod, key)
        return att, items

    def release(self, key: AttachmentKey) -> None:
        self.allocator.release(str(key))


def _drop(index: dict[K, dict[AttachmentKey, Attachment]], group: K, key: AttachmentKey) -> None:
    found = index.get(group)
    if found is not None:
        found.pop(key, None)
        if not found:
            del index[group]
