"""Bridge domains, their members and static L2 FIB entries.

A bridge domain is the agent's when its `bd_tag` carries the agent's tag
(with the logical name); its members and static FIB entries follow it.
Bridge domain 0 is VPP's and never reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from contivctl.dataplane.vpp.connection import TAG_PREFIX
from contivctl.dataplane.vpp.descriptors.base import ALL, InterfaceNames, VppDescriptor, mac_str, sw_if_index
from contivctl.errors import DataplaneError
from contivctl.items.vpp import BridgeDomain, BridgeDomainMember, L2FibEntry, bd_key
from contivctl.reconcile import Context, Metadata, Retrieved

PORT_NORMAL, PORT_BVI = 0, 1


def _bd_id(ctx: Context, name: str) -> int:
    md = ctx.metadata(bd_key(name))
    if not isinstance(md, int):
        raise DataplaneError(f"bridge domain {name!r} has no id")
    return md


async def _bridge_domains(vpp: Any) -> list[tuple[str, bool, Any]]:
    """(logical name, owned, details) of every bridge domain but 0."""
    out = []
    for d in await vpp.dump("bridge_domain_dump", bd_id=ALL, sw_if_index=ALL):
        if int(d.bd_id) == 0:
            continue
        tag = str(d.bd_tag)
        owned = tag.startswith(TAG_PREFIX)
        out.append((tag[len(TAG_PREFIX) :] if owned else f"bd{int(d.bd_id)}", owned, d))
    return out


class BridgeDomainDescriptor(VppDescriptor[BridgeDomain]):
    prefix = "vpp/bd/"

    def _req(self, v: BridgeDomain, is_add: bool) -> dict[str, Any]:
        return {
            "bd_id": v.bd_id,
            "flood": v.flood,
            "uu_flood": v.uu_flood,
            "forward": v.forward,
            "learn": v.learn,
            "arp_term": v.arp_term,
            "arp_ufwd": False,
            "mac_age": v.mac_age,
            "bd_tag": TAG_PREFIX + v.name,
            "is_add": is_add,
        }

    async def create(self, ctx: Context, key: str, value: BridgeDomain) -> Metadata:
        await self.vpp.call("bridge_domain_add_del_v2", **self._req(value, True))
        return value.bd_id

    async def delete(self, ctx: Context, key: str, value: BridgeDomain, metadata: Metadata) -> None:
        await self.vpp.call("bridge_domain_add_del_v2", **self._req(value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, BridgeDomain]) -> Iterable[Retrieved]:
        out = []
        for name, owned, d in await _bridge_domains(self.vpp):
            v = BridgeDomain(
                name,
                int(d.bd_id),
                flood=bool(d.flood),
                uu_flood=bool(d.uu_flood),
                forward=bool(d.forward),
                learn=bool(d.learn),
                arp_term=bool(d.arp_term),
                mac_age=int(d.mac_age),
            )
            out.append(Retrieved(v.key, v, int(d.bd_id), owned=owned))
        return out

    def owns(self, key: str, value: BridgeDomain) -> bool:
        return False


class BridgeDomainMemberDescriptor(VppDescriptor[BridgeDomainMember]):
    prefix = "vpp/bdmember/"

    def _req(self, ctx: Context, v: BridgeDomainMember, enable: bool) -> dict[str, Any]:
        return {
            "rx_sw_if_index": sw_if_index(ctx, v.interface),
            "bd_id": _bd_id(ctx, v.bd),
            "port_type": PORT_BVI if v.bvi else PORT_NORMAL,
            "shg": v.shg,
            "enable": enable,
        }

    async def create(self, ctx: Context, key: str, value: BridgeDomainMember) -> Metadata:
        await self.vpp.call("sw_interface_set_l2_bridge", **self._req(ctx, value, True))
        return None

    async def delete(self, ctx: Context, key: str, value: BridgeDomainMember, metadata: Metadata) -> None:
        await self.vpp.call("sw_interface_set_l2_bridge", **self._req(ctx, value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, BridgeDomainMember]) -> Iterable[Retrieved]:
        names, bds = await asyncio.gather(InterfaceNames.load(self.vpp), _bridge_domains(self.vpp))
        out = []
        for bd_name, owned, d in bds:
            bvi = int(d.bvi_sw_if_index)
            for m in d.sw_if_details:
                n = names.get(int(m.sw_if_index))
                if n is None:
                    continue
                v = BridgeDomainMember(bd_name, n.name, bvi=int(m.sw_if_index) == bvi, shg=int(m.shg))
                out.append(Retrieved(v.key, v, owned=owned))
        return out

    def owns(self, key: str, value: BridgeDomainMember) -> bool:
        return False


class L2FibDescriptor(VppDescriptor[L2FibEntry]):
    """Static entries only: learnt MACs belong to the data plane."""

    prefix = "vpp/l2fib/"

    def _req(self, ctx: Context, v: L2FibEntry, is_add: bool) -> dict[str, Any]:
        return {
            "mac": v.mac,
            "bd_id": _bd_id(ctx, v.bd),
            "sw_if_index": sw_if_index(ctx, v.interface),
            "is_add": is_add,
            "static_mac": True,
            "filter_mac": False,
            "bvi_mac": v.bvi,
        }

    async def create(self, ctx: Context, key: str, value: L2FibEntry) -> Metadata:
        await self.vpp.call("l2fib_add_del", **self._req(ctx, value, True))
        return None

    async def delete(self, ctx: Context, key: str, value: L2FibEntry, metadata: Metadata) -> None:
        await self.vpp.call("l2fib_add_del", **self._req(ctx, value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, L2FibEntry]) -> Iterable[Retrieved]:
        names, bds = await asyncio.gather(InterfaceNames.load(self.vpp), _bridge_domains(self.vpp))
        by_id = {int(d.bd_id): (name, owned) for name, owned, d in bds}
        out = []
        for f in await self.vpp.dump("l2_fib_table_dump", bd_id=ALL):
            bd = by_id.get(int(f.bd_id))
            n = names.get(int(f.sw_if_index))
            if bd is None or n is None or not f.static_mac:
                continue
            v = L2FibEntry(bd[0], mac_str(f.mac), n.name, bvi=bool(f.bvi_mac))
            out.append(Retrieved(v.key, v, owned=bd[1]))
        return out

    def owns(self, key: str, value: L2FibEntry) -> bool:
        return False
