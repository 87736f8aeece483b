"""Permanent neighbour entries: the pod resolves its gateway without ever asking."""

from __future__ import annotations

from collections.abc import Iterable

from contivctl.dataplane.linux import nlmsg
from contivctl.dataplane.linux.base import ReplacingOnLinkDescriptor
from contivctl.dataplane.linux.snapshot import NUD_PERMANENT, NamespaceDump
from contivctl.items.linux import Neighbour, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata


class NeighbourDescriptor(ReplacingOnLinkDescriptor[Neighbour]):
    prefix = "linux/neighbour/"

    async def replace(self, ctx: Context, value: Neighbour) -> None:
        await self.on_link(
            ctx,
            value,
            value.ifname,
            lambda index: nlmsg.replace_neighbour(index, value.ip, value.mac, state=NUD_PERMANENT),
            f"neighbour {value.ip} on {value.ifname} in {ns_label(value.netns)}",
        )

    def needs_recreate(self, old: Neighbour, new: Neighbour) -> bool:
        return (old.netns, old.ifname, old.ip) != (new.netns, new.ifname, new.ip)

    async def delete(self, ctx: Context, key: str, value: Neighbour, metadata: Metadata) -> None:
        await self.on_link(
            ctx,
            value,
            value.ifname,
            lambda index: nlmsg.del_neighbour(index, value.ip),
            f"remove neighbour {value.ip} on {value.ifname}",
            gone_ok=True,
        )

    def found(self, dump: NamespaceDump) -> Iterable[Neighbour]:
        for link, owner, entry in dump.on_owned_links((n.ifindex, n) for n in dump.neighbours):
            yield Neighbour(netns=dump.netns, ifname=link.name, ip=entry.ip, mac=entry.mac, link=owner)

    def equivalent(self, desired: Neighbour, actual: Neighbour) -> bool:
        return (desired.netns, desired.ifname, desired.ip, desired.mac.lower()) == (
            actual.netns,
            actual.ifname,
            actual.ip,
            actual.mac,
        )
