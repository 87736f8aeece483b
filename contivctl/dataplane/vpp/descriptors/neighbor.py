"""Static IP neighbours and the neighbour table configuration (limits, ageing)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from contivctl.dataplane.vpp.descriptors.base import (
    ALL,
    InterfaceNames,
    VppDescriptor,
    mac_str,
    sw_if_index,
)
from contivctl.items.vpp import Neighbor, NeighborConfig
from contivctl.reconcile import Context, Metadata, Retrieved

FLAG_STATIC, FLAG_NO_FIB_ENTRY = 1, 2
AF_IP4, AF_IP6 = 0, 1


class NeighborDescriptor(VppDescriptor[Neighbor]):
    """Only static entries are the agent's; learnt ones are VPP's and are not reported."""

    prefix = "vpp/neighbor/"

    def _req(self, ctx: Context, v: Neighbor, is_add: bool) -> dict[str, Any]:
        flags = FLAG_STATIC | (FLAG_NO_FIB_ENTRY if v.no_fib_entry else 0)
        nb = {
            "sw_if_index": sw_if_index(ctx, v.interface),
            "flags": flags,
            "mac_address": v.mac,
            "ip_address": v.ip,
        }
        return {"is_add": is_add, "neighbor": nb}

    async def create(self, ctx: Context, key: str, value: Neighbor) -> Metadata:
        await self.vpp.call("ip_neighbor_add_del", **self._req(ctx, value, True))
        return None

    def needs_recreate(self, old: Neighbor, new: Neighbor) -> bool:
        return old.no_fib_entry != new.no_fib_entry

    async def update(self, ctx: Context, key: str, old: Neighbor, new: Neighbor, metadata: Metadata) -> Metadata:
        # re-adding a neighbour updates its MAC in place
        await self.vpp.call("ip_neighbor_add_del", **self._req(ctx, new, True))
        return None

    async def delete(self, ctx: Context, key: str, value: Neighbor, metadata: Metadata) -> None:
        await self.vpp.call("ip_neighbor_add_del", **self._req(ctx, value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, Neighbor]) -> Iterable[Retrieved]:
        names, v4, v6 = await asyncio.gather(
            InterfaceNames.load(self.vpp),
            self.vpp.dump("ip_neighbor_dump", sw_if_index=ALL, af=AF_IP4),
            self.vpp.dump("ip_neighbor_dump", sw_if_index=ALL, af=AF_IP6),
        )
        out = []
        for d in [*v4, *v6]:
            nb = d.neighbor
            flags = int(nb.flags)
            n = names.get(int(nb.sw_if_index))
            if not flags & FLAG_STATIC or n is None:
                continue
            v = Neighbor(n.name, nb.ip_address, mac_str(nb.mac_address), bool(flags & FLAG_NO_FIB_ENTRY))
            out.append(Retrieved(v.key, v, owned=n.owned))
        return out

    def owns(self, key: str, value: Neighbor) -> bool:
        return False


#: what VPP starts with; a config equal to it is not reported as an item
_DEFAULT = (50000, 0, False)


class NeighborConfigDescriptor(VppDescriptor[NeighborConfig]):
    """`delete` puts VPP's defaults back."""

    prefix = "vpp/ipneigh/"

    async def _set(self, ipv6: bool, max_number: int, max_age: int, recycle: bool) -> None:
        af = AF_IP6 if ipv6 else AF_IP4
        await self.vpp.call("ip_neighbor_config", af=af, max_number=max_number, max_age=max_age, recycle=recycle)

    async def create(self, ctx: Context, key: str, value: NeighborConfig) -> Metadata:
        await self._set(value.ipv6, value.max_number, value.max_age, value.recycle)
        return None

    def needs_recreate(self, old: NeighborConfig, new: NeighborConfig) -> bool:
        return False

    async def update(
        self, ctx: Context, key: str, old: NeighborConfig, new: NeighborConfig, metadata: Metadata
    ) -> Metadata:
        return await self.create(ctx, key, new)

    async def delete(self, ctx: Context, key: str, value: NeighborConfig, metadata: Metadata) -> None:
        await self._set(value.ipv6, *_DEFAULT)

    async def retrieve(self, ctx: Context, expected: Mapping[str, NeighborConfig]) -> Iterable[Retrieved]:
        r4, r6 = await self.vpp.call_many(
            [("ip_neighbor_config_get", {"af": AF_IP4}), ("ip_neighbor_config_get", {"af": AF_IP6})]
        )
        out = []
        for ipv6, r in ((False, r4), (True, r6)):
            cfg = (int(r.max_number), int(r.max_age), bool(r.recycle))
            if cfg != _DEFAULT:
                v = NeighborConfig(ipv6, *cfg)
                out.append(Retrieved(v.key, v, owned=True))
        return out

    def owns(self, key: str, value: NeighborConfig) -> bool:
        return True
