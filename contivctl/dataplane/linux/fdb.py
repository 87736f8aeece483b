"""Permanent FDB entries of the agent's VXLAN devices: which node IP a peer's MAC lives behind."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from contivctl.dataplane.linux.common import LinkNotFound, gone, link_index, netlink_errors
from contivctl.dataplane.linux.common import is_retriable as _retriable
from contivctl.dataplane.linux.netns import iproute
from contivctl.dataplane.linux.snapshot import NUD_PERMANENT, SnapshotSource
from contivctl.errors import LinuxError
from contivctl.items.kernel import FdbEntry
from contivctl.items.linux import ns_label
from contivctl.reconcile.descriptor import Context, Descriptor
from contivctl.reconcile.item import Dependency, Metadata, Retrieved

#: the entry belongs to the device itself (``bridge fdb … self``), not to a bridge it is in
NTF_SELF = 0x2
_NO_MAC = "00:00:00:00:00:00"


class FdbDescriptor(Descriptor[FdbEntry]):
    prefix = "linux/fdb/"

    def __init__(self, snapshots: SnapshotSource, device_prefix: str = "linux/vxlan/") -> None:
        self._snapshots = snapshots
        self._device_prefix = device_prefix

    async def create(self, ctx: Context, key: str, value: FdbEntry) -> Metadata:
        await self._replace(ctx, value)
        return None

    async def update(self, ctx: Context, key: str, old: FdbEntry, new: FdbEntry, metadata: Metadata) -> Metadata:
        await self._replace(ctx, new)
        return None

    def needs_recreate(self, old: FdbEntry, new: FdbEntry) -> bool:
        return (old.netns, old.ifname, old.mac) != (new.netns, new.ifname, new.mac)

    async def _replace(self, ctx: Context, value: FdbEntry) -> None:
        async with iproute(value.netns) as ipr:
            index = await link_index(ipr, ctx, value.link, value.netns, value.ifname)
            with netlink_errors(f"fdb {value.mac} → {value.dst} on {value.ifname} in {ns_label(value.netns)}"):
                await ipr.fdb(
                    "replace", ifindex=index, lladdr=value.mac, dst=str(value.dst), state=NUD_PERMANENT, flags=NTF_SELF
                )

    async def delete(self, ctx: Context, key: str, value: FdbEntry, metadata: Metadata) -> None:
        try:
            async with iproute(value.netns) as ipr:
                index = await link_index(ipr, ctx, value.link, value.netns, value.ifname)
                with netlink_errors(f"remove fdb {value.mac} on {value.ifname}"):
                    await ipr.fdb("del", ifindex=index, lladdr=value.mac, dst=str(value.dst), flags=NTF_SELF)
        except LinuxError as exc:
            if not (gone(exc) or isinstance(exc, LinkNotFound)):
                raise

    async def retrieve(self, ctx: Context) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx)
        found = []
        for link in snapshot.owned_links():
            owner = link.owner_key
            if owner is None or not owner.startswith(self._device_prefix):
                continue
            async with iproute(link.netns) as ipr:
                with netlink_errors(f"read fdb of {link.name} in {ns_label(link.netns)}"):
                    entries: list[Any] = [m async for m in await ipr.fdb("dump", ifindex=link.index)]
            for msg in entries:
                mac, dst = msg.get_attr("NDA_LLADDR"), msg.get_attr("NDA_DST")
                if msg["family"] != socket.AF_BRIDGE or msg["ifindex"] != link.index:
                    continue
                if not (msg["state"] & NUD_PERMANENT) or not dst or not mac or mac == _NO_MAC:
                    continue
                value = FdbEntry(netns=link.netns, ifname=link.name, mac=mac, dst=ipaddress.ip_address(dst), link=owner)
                found.append(Retrieved(value.key, value, owned=True))
        return found

    def owns(self, key: str, value: FdbEntry) -> bool:
        return True

    def equivalent(self, desired: FdbEntry, actual: FdbEntry) -> bool:
        return (desired.netns, desired.ifname, desired.mac.lower(), desired.dst) == (
            actual.netns,
            actual.ifname,
            actual.mac,
            actual.dst,
        )

    def is_retriable(self, exc: Exception) -> bool:
        return _retriable(exc)

    def dependencies(self, key: str, value: FdbEntry) -> Iterable[Dependency]:
        return value.deps()
