"""Addresses on links the agent made."""

from __future__ import annotations

from collections.abc import Iterable

from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.common import LinkNotFound, gone, link_index, netlink_errors
from contivctl.dataplane.linux.netns import iproute
from contivctl.errors import LinuxError
from contivctl.items.linux import Address, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved


class AddressDescriptor(SnapshotDescriptor[Address]):
    prefix = "linux/address/"

    async def create(self, ctx: Context, key: str, value: Address) -> Metadata:
        self._snapshots.invalidate()
        async with iproute(value.netns) as ipr:
            index = await link_index(ipr, ctx, value.link, value.netns, value.ifname)
            with netlink_errors(f"add {value.address} to {value.ifname} in {ns_label(value.netns)}"):
                await ipr.addr(
                    "replace", index=index, address=str(value.address.ip), prefixlen=value.address.network.prefixlen
                )
        return None

    async def delete(self, ctx: Context, key: str, value: Address, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        try:
            async with iproute(value.netns) as ipr:
                index = await link_index(ipr, ctx, value.link, value.netns, value.ifname)
                with netlink_errors(f"remove {value.address} from {value.ifname}"):
                    await ipr.addr(
                        "del", index=index, address=str(value.address.ip), prefixlen=value.address.network.prefixlen
                    )
        except LinuxError as exc:
            if not (gone(exc) or isinstance(exc, LinkNotFound)):
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
