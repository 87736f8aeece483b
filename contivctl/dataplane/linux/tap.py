"""The kernel side of a VPP TAP: VPP creates it in our namespace, we hand it to the pod.

VPP names the kernel device (a temporary name); this descriptor finds it
there, moves it into the pod's namespace, renames it to the name the
runtime asked for and marks it as ours. Deleting it hands it back under the
temporary name, so that VPP (which owns the device) can remove it.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from typing import Any

from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.common import (
    NetlinkFailed,
    alias_for,
    find_link,
    gone,
    netlink_errors,
    require_link,
)
from contivctl.dataplane.linux.netns import iproute, netns_fd
from contivctl.errors import LinuxError
from contivctl.items.linux import HOST_NS, TapPodSide, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved


class TapPodSideDescriptor(SnapshotDescriptor[TapPodSide]):
    prefix = "linux/tap/"

    async def create(self, ctx: Context, key: str, value: TapPodSide) -> Metadata:
        self._snapshots.invalidate()
        async with iproute(value.netns) as ipr:
            if await find_link(ipr, value.ifname) is not None:
                raise LinuxError(f"interface {value.ifname} already exists in {ns_label(value.netns)} and is not ours")
        async with iproute(HOST_NS) as ipr:
            index = await require_link(ipr, HOST_NS, value.temp_name)
            with netns_fd(value.netns) as fd, netlink_errors(f"move {value.temp_name} into {ns_label(value.netns)}"):
                await ipr.link("set", index=index, state="down")
                await ipr.link("set", index=index, net_ns_fd=fd)
        try:
            return {value.netns: await self._configure(key, value, rename_from=value.temp_name)}
        except BaseException:
            await self._hand_back(value, value.temp_name)
            raise

    async def _configure(self, key: str, value: TapPodSide, rename_from: str) -> int:
        async with iproute(value.netns) as ipr:
            index = await require_link(ipr, value.netns, rename_from)
            # The temporary name goes into the alias: a restarted agent must
            # still know what to rename the device back to on delete.
            attrs: dict[str, Any] = {"ifalias": alias_for(key, note=value.temp_name), "group": self._snapshots.group}
            if rename_from != value.ifname:
                attrs["ifname"] = value.ifname
            if value.mtu:
                attrs["mtu"] = value.mtu
            if value.mac:
                attrs["address"] = value.mac
            with netlink_errors(f"configure {value.ifname} in {ns_label(value.netns)}"):
                await ipr.link("set", index=index, state="up" if value.up else "down", **attrs)
            return index

    async def update(self, ctx: Context, key: str, old: TapPodSide, new: TapPodSide, metadata: Metadata) -> Metadata:
        self._snapshots.invalidate()
        return {new.netns: await self._configure(key, new, rename_from=new.ifname)}

    def needs_recreate(self, old: TapPodSide, new: TapPodSide) -> bool:
        return (old.netns, old.ifname, old.temp_name) != (new.netns, new.ifname, new.temp_name)

    async def delete(self, ctx: Context, key: str, value: TapPodSide, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        await self._hand_back(value, value.ifname)

    async def _hand_back(self, value: TapPodSide, current_name: str) -> None:
        try:
            async with iproute(value.netns) as ipr:
                index = await find_link(ipr, current_name)
                if index is None:
                    return
                with netns_fd(HOST_NS) as home, netlink_errors(f"hand {current_name} back to the vswitch"):
                    await ipr.link("set", index=index, state="down")
                    await ipr.link("set", index=index, ifname=value.temp_name, ifalias="", group=0)
                    await ipr.link("set", index=index, net_ns_fd=home)
        except NetlinkFailed as exc:
            if exc.code == errno.EEXIST:
                return  # the name is taken back home: VPP's removal of the device still works
            raise
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
            value = TapPodSide(
                temp_name=link.note,
                netns=link.netns,
                ifname=link.name,
                vpp_tap="",
                mtu=link.mtu,
                mac=link.mac,
                up=link.up,
            )
            found.append(Retrieved(key, value, metadata={link.netns: link.index}, owned=True))
        return found

    def equivalent(self, desired: TapPodSide, actual: TapPodSide) -> bool:
        return (
            (desired.netns, desired.ifname, desired.up) == (actual.netns, actual.ifname, actual.up)
            and (not desired.mtu or desired.mtu == actual.mtu)
            and (not desired.mac or desired.mac.lower() == (actual.mac or ""))
        )
