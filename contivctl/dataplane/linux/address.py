"""Addresses on links the agent made."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contivctl.dataplane.linux import nlmsg
from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.common import goes_with, known_index, on_link
from contivctl.items.linux import Address, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved


class AddressDescriptor(SnapshotDescriptor[Address]):
    prefix = "linux/address/"

    async def create(self, ctx: Context, key: str, value: Address) -> Metadata:
        self._snapshots.invalidate()
        await on_link(
            value.netns,
            known_index(ctx, value.link, value.netns),
            value.ifname,
            lambda index: nlmsg.replace_address(index, value.address),
            f"add {value.address} to {value.ifname} in {ns_label(value.netns)}",
        )
        return None

    async def delete(self, ctx: Context, key: str, value: Address, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        await on_link(
            value.netns,
            known_index(ctx, value.link, value.netns),
            value.ifname,
            lambda index: nlmsg.del_address(index, value.address),
            f"remove {value.address} from {value.ifname}",
            gone_ok=True,
        )

    def deleted_with(self, key: str, value: Address) -> str | None:
        return goes_with(value.link)

    async def retrieve(self, ctx: Context, expected: Mapping[str, Address]) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx, self.namespaces(expected))
        found = []
        for dump in snapshot.namespaces.values():
            for index, address in dump.addresses:
                link = dump.owned_link(index)
                if link is None or link.owner_key is None:
                    continue
                value = Address(netns=dump.netns, ifname=link.name, address=address, link=link.owner_key)
                found.append(Retrieved(value.key, value, owned=True))
        return found
