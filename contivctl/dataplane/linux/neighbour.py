"""Permanent neighbour entries: the pod resolves its gateway without ever asking."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contivctl.dataplane.linux import nlmsg
from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.common import goes_with, known_index, on_link
from contivctl.dataplane.linux.snapshot import NUD_PERMANENT
from contivctl.items.linux import Neighbour, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved


class NeighbourDescriptor(SnapshotDescriptor[Neighbour]):
    prefix = "linux/neighbour/"

    async def create(self, ctx: Context, key: str, value: Neighbour) -> Metadata:
        self._snapshots.invalidate()
        await self._replace(ctx, value)
        return None

    async def update(self, ctx: Context, key: str, old: Neighbour, new: Neighbour, metadata: Metadata) -> Metadata:
        self._snapshots.invalidate()
        await self._replace(ctx, new)
        return None

    async def _replace(self, ctx: Context, value: Neighbour) -> None:
        await on_link(
            value.netns,
            known_index(ctx, value.link, value.netns),
            value.ifname,
            lambda index: nlmsg.replace_neighbour(index, value.ip, value.mac, state=NUD_PERMANENT),
            f"neighbour {value.ip} on {value.ifname} in {ns_label(value.netns)}",
        )

    def needs_recreate(self, old: Neighbour, new: Neighbour) -> bool:
        return (old.netns, old.ifname, old.ip) != (new.netns, new.ifname, new.ip)

    async def delete(self, ctx: Context, key: str, value: Neighbour, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        await on_link(
            value.netns,
            known_index(ctx, value.link, value.netns),
            value.ifname,
            lambda index: nlmsg.del_neighbour(index, value.ip),
            f"remove neighbour {value.ip} on {value.ifname}",
            gone_ok=True,
        )

    def deleted_with(self, key: str, value: Neighbour) -> str | None:
        return goes_with(value.link)

    async def retrieve(self, ctx: Context, expected: Mapping[str, Neighbour]) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx, self.namespaces(expected))
        found = []
        for dump in snapshot.namespaces.values():
            for entry in dump.neighbours:
                link = dump.owned_link(entry.ifindex)
                if link is None or link.owner_key is None:
                    continue
                value = Neighbour(netns=dump.netns, ifname=link.name, ip=entry.ip, mac=entry.mac, link=link.owner_key)
                found.append(Retrieved(value.key, value, owned=True))
        return found

    def equivalent(self, desired: Neighbour, actual: Neighbour) -> bool:
        return (desired.netns, desired.ifname, desired.ip, desired.mac.lower()) == (
            actual.netns,
            actual.ifname,
            actual.ip,
            actual.mac,
        )
