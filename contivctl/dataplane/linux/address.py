"""Addresses on links the agent made."""

from __future__ import annotations

from collections.abc import Iterable

from contivctl.dataplane.linux import nlmsg
from contivctl.dataplane.linux.base import OnLinkDescriptor
from contivctl.dataplane.linux.snapshot import NamespaceDump
from contivctl.items.linux import Address, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata


class AddressDescriptor(OnLinkDescriptor[Address]):
    prefix = "linux/address/"

    async def create(self, ctx: Context, key: str, value: Address) -> Metadata:
        await self.on_link(
            ctx,
            value,
            value.ifname,
            lambda index: nlmsg.replace_address(index, value.address),
            f"add {value.address} to {value.ifname} in {ns_label(value.netns)}",
        )
        return None

    async def delete(self, ctx: Context, key: str, value: Address, metadata: Metadata) -> None:
        await self.on_link(
            ctx,
            value,
            value.ifname,
            lambda index: nlmsg.del_address(index, value.address),
            f"remove {value.address} from {value.ifname}",
            gone_ok=True,
        )

    def found(self, dump: NamespaceDump) -> Iterable[Address]:
        for link, owner, address in dump.on_owned_links(dump.addresses):
            yield Address(netns=dump.netns, ifname=link.name, address=address, link=owner)
