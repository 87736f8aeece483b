"""Links made by someone else (VPP's host-interconnect TAP) that the agent adopts and configures.

VPP creates the kernel end of its TAP itself and removes it with the TAP.
The agent still has to own it in the Linux sense — the alias is how its
addresses and routes are recognised as the agent's after a restart — so
"create" marks and configures the device and "delete" only unmarks it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.common import (
    LinkNotFound,
    alias_for,
    find_link,
    gone,
    is_retriable,
    netlink_errors,
    require_link,
)
from contivctl.dataplane.linux.netns import iproute
from contivctl.errors import LinuxError
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
        async with iproute(value.netns) as ipr:
            index = await require_link(ipr, value.netns, value.name)
            attrs: dict[str, Any] = {"ifalias": alias_for(key), "group": self._snapshots.group}
            if value.mtu:
                attrs["mtu"] = value.mtu
            with netlink_errors(f"configure {value.name} in {ns_label(value.netns)}"):
                await ipr.link("set", index=index, **attrs)
                await ipr.link("set", index=index, state="up" if value.up else "down")
            return index

    async def delete(self, ctx: Context, key: str, value: AdoptedLink, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        try:
            async with iproute(value.netns) as ipr:
                index = await find_link(ipr, value.name)
                if index is None:
                    return  # its maker has removed it already
                with netlink_errors(f"release {value.name} in {ns_label(value.netns)}"):
                    await ipr.link("set", index=index, ifalias="", group=0)
        except LinuxError as exc:
            if not gone(exc):
                raise

    async def retrieve(self, ctx: Context) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx)
        found = []
        for link in snapshot.owned_links():
            key = link.owner_key
            if key is None or not key.startswith(self.prefix):
                continue
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
