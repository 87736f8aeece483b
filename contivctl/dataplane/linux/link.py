"""Links made by someone else (VPP's host-interconnect TAP) that the agent adopts and configures.

VPP creates the kernel end of its TAP itself and removes it with the TAP.
The agent still has to own it in the Linux sense — the alias is how its
addresses and routes are recognised as the agent's after a restart — so
"create" marks and configures the device and "delete" only unmarks it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contivctl.dataplane.linux import channel, nlmsg
from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.channel import Channels
from contivctl.dataplane.linux.common import alias_for, is_retriable, run_unless_gone
from contivctl.dataplane.linux.netns import in_netns, set_checksum_offload_here
from contivctl.errors import LinkNotFound
from contivctl.items.linux import AdoptedLink, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved


class AdoptedLinkDescriptor(SnapshotDescriptor[AdoptedLink]):
    prefix = "linux/link/"

    async def create(self, ctx: Context, key: str, value: AdoptedLink) -> Metadata:
        return await self._configure(key, value)

    async def update(self, ctx: Context, key: str, old: AdoptedLink, new: AdoptedLink, metadata: Metadata) -> Metadata:
        return await self._configure(key, new)

    def needs_recreate(self, old: AdoptedLink, new: AdoptedLink) -> bool:
        return (old.netns, old.name) != (new.netns, new.name)

    async def _configure(self, key: str, value: AdoptedLink) -> int:
        self._snapshots.invalidate()
        alias, group = alias_for(key), self._snapshots.group

        def job(channels: Channels) -> int:
            here = channels(value.netns)
            index = here.require_link(value.name)
            here.request(
                nlmsg.set_link(index, alias=alias, group=group, mtu=value.mtu, up=value.up),
                f"configure {value.name} in {ns_label(value.netns)}",
            )
            if not value.checksum_offload:
                in_netns(value.netns, lambda: set_checksum_offload_here(value.name, False))
            return index

        return await channel.run(job)

    async def delete(self, ctx: Context, key: str, value: AdoptedLink, metadata: Metadata) -> None:
        self._snapshots.invalidate()

        def job(channels: Channels) -> None:
            here = channels(value.netns)
            index = here.find_link(value.name)
            if index is not None:  # else its maker has removed it already
                here.request(
                    nlmsg.set_link(index, alias="", group=0), f"release {value.name} in {ns_label(value.netns)}"
                )

        await run_unless_gone(job)

    async def retrieve(self, ctx: Context, expected: Mapping[str, AdoptedLink]) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx, self.namespaces(expected))
        found = []
        for key, link in snapshot.links_of(self.prefix):
            value = AdoptedLink(netns=link.netns, name=link.name, maker="", mtu=link.mtu, up=link.up)
            found.append(Retrieved(key, value, metadata=link.index, owned=True))
        return found

    def equivalent(self, desired: AdoptedLink, actual: AdoptedLink) -> bool:
        return (desired.netns, desired.name, desired.up) == (actual.netns, actual.name, actual.up) and (
            not desired.mtu or desired.mtu == actual.mtu
        )

    def is_retriable(self, exc: Exception) -> bool:
        # The maker may be re-creating the device (a VPP restart): try again.
        return is_retriable(exc) or isinstance(exc, LinkNotFound)
