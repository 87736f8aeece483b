"""Permanent FDB entries of the agent's VXLAN devices: which node IP a peer's MAC lives behind."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping

from contivctl.dataplane.linux import channel, nlmsg, rtnl
from contivctl.dataplane.linux.base import ReplacingOnLinkDescriptor
from contivctl.dataplane.linux.channel import Channels
from contivctl.dataplane.linux.snapshot import NUD_PERMANENT, SnapshotSource
from contivctl.items.kernel import FdbEntry
from contivctl.items.linux import ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved

_NO_MAC = "00:00:00:00:00:00"


class FdbDescriptor(ReplacingOnLinkDescriptor[FdbEntry]):
    prefix = "linux/fdb/"

    def __init__(self, snapshots: SnapshotSource, device_prefix: str = "linux/vxlan/") -> None:
        super().__init__(snapshots)
        self._device_prefix = device_prefix

    def needs_recreate(self, old: FdbEntry, new: FdbEntry) -> bool:
        return (old.netns, old.ifname, old.mac) != (new.netns, new.ifname, new.mac)

    async def replace(self, ctx: Context, value: FdbEntry) -> None:
        await self.on_link(
            ctx,
            value,
            value.ifname,
            lambda index: nlmsg.replace_fdb(index, value.mac, value.dst, state=NUD_PERMANENT),
            f"fdb {value.mac} → {value.dst} on {value.ifname} in {ns_label(value.netns)}",
        )

    async def delete(self, ctx: Context, key: str, value: FdbEntry, metadata: Metadata) -> None:
        await self.on_link(
            ctx,
            value,
            value.ifname,
            lambda index: nlmsg.del_fdb(index, value.mac, value.dst),
            f"remove fdb {value.mac} on {value.ifname}",
            gone_ok=True,
        )

    async def retrieve(self, ctx: Context, expected: Mapping[str, FdbEntry]) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx, {v.netns for v in expected.values()})
        devices = [link for _key, link in snapshot.links_of(self._device_prefix)]
        namespaces = sorted({lk.netns for lk in devices})

        def job(channels: Channels) -> dict[str, list[rtnl.RawNeighbour]]:
            # the bridge family's neighbour dump is the FDB of every device of the namespace
            return {ns: rtnl.neighbours(channels(ns).dump, family=socket.AF_BRIDGE) for ns in namespaces}

        by_netns = await channel.run(job) if namespaces else {}
        found = []
        for link in devices:
            owner = link.owner_key
            assert owner is not None
            for entry in by_netns[link.netns]:
                if entry.ifindex != link.index or not (entry.state & NUD_PERMANENT) or entry.mac in ("", _NO_MAC):
                    continue
                value = FdbEntry(netns=link.netns, ifname=link.name, mac=entry.mac, dst=entry.ip, link=owner)
                found.append(Retrieved(value.key, value, owned=True))
        return found

    def equivalent(self, desired: FdbEntry, actual: FdbEntry) -> bool:
        return (desired.netns, desired.ifname, desired.mac.lower(), desired.dst) == (
            actual.netns,
            actual.ifname,
            actual.mac,
            actual.dst,
        )
