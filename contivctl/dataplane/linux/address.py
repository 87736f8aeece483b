"""Addresses on links the agent made."""

from __future__ import annotations

from collections.abc import Iterable

from contivctl.dataplane.linux import channel, nlmsg
from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.channel import Channels
from contivctl.dataplane.linux.common import gone, known_index, link_index
from contivctl.errors import LinuxError
from contivctl.items.linux import Address, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved


class AddressDescriptor(SnapshotDescriptor[Address]):
    prefix = "linux/address/"

    async def create(self, ctx: Context, key: str, value: Address) -> Metadata:
        self._snapshots.invalidate()
        known = known_index(ctx, value.link, value.netns)

        def job(channels: Channels) -> None:
            here = channels(value.netns)
            index = link_index(here, known, value.ifname)
            here.request(
                nlmsg.replace_address(index, value.address),
                f"add {value.address} to {value.ifname} in {ns_label(value.netns)}",
            )

        await channel.run(job)
        return None

    async def delete(self, ctx: Context, key: str, value: Address, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        known = known_index(ctx, value.link, value.netns)

        def job(channels: Channels) -> None:
            here = channels(value.netns)
            index = link_index(here, known, value.ifname)
            here.request(nlmsg.del_address(index, value.address), f"remove {value.address} from {value.ifname}")

        try:
            await channel.run(job)
        except LinuxError as exc:
            if not gone(exc):
                raise

    async def retrieve(self, ctx: Context) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx)
        found = []
        for dump in snapshot.namespaces.values():
            for index, address in dump.addresses:
                link = dump.owned_link(index)
                if link is None or link.owner_key is None:
                    continue
                value = Address(netns=dump.netns, ifname=link.name, address=address, link=link.owner_key)
                found.append(Retrieved(value.key, value, owned=True))
        return found
