"""Service frontends: NAT44-ED load-balanced static mappings (a plain static mapping for one endpoint).

VPP refuses a load-balanced mapping with fewer than two locals, so a
frontend with one endpoint is a plain static mapping of the same external
address and port; both carry the services tag, which is how ``retrieve``
tells them from the other static mappings (and the static-mapping
descriptor leaves them alone).

An endpoint joining or leaving is one ``nat44_lb_static_mapping_add_del_local``
call: new locals are added before old ones are removed, since VPP refuses
to remove a local from a mapping of two. Whatever cannot be done that way
(a change of flags or affinity, a mapping going between one and more
endpoints, the last two locals replaced) deletes the mapping and makes it
again, which VPP does with its sessions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from contivctl.dataplane.vpp.descriptors.base import ALL, VppDescriptor
from contivctl.dataplane.vpp.descriptors.nat import SERVICE_TAG
from contivctl.items.vpp import Nat44LbLocal, Nat44LbStaticMapping, NatProtocol
from contivctl.reconcile import Context, Metadata, Retrieved

# nat_config_flags
TWICE_NAT, SELF_TWICE_NAT, OUT2IN_ONLY, ADDR_ONLY = 1, 2, 4, 8
#: VPP refuses to remove a local from a load-balanced mapping with fewer than this many
_MIN_LOCALS_TO_REMOVE = 3

LocalKey = tuple[Any, int, int]


def _flags(v: Nat44LbStaticMapping) -> int:
    return (
        (TWICE_NAT if v.twice_nat else 0)
        | (SELF_TWICE_NAT if v.self_twice_nat else 0)
        | (OUT2IN_ONLY if v.out2in_only else 0)
    )


def _local(lo: Nat44LbLocal) -> dict[str, Any]:
    return {"addr": lo.ip, "port": lo.port, "probability": lo.probability, "vrf_id": lo.vrf}


def _lkey(lo: Nat44LbLocal) -> LocalKey:
    return (lo.ip, lo.port, lo.vrf)


class Nat44LbStaticMappingDescriptor(VppDescriptor[Nat44LbStaticMapping]):
    prefix = "vpp/nat44/lb/"

    def _requests(self, v: Nat44LbStaticMapping, is_add: bool) -> tuple[str, dict[str, Any]]:
        if v.load_balanced:
            locals_ = [_local(lo) for lo in v.locals] if is_add else []
            return (
                "nat44_add_del_lb_static_mapping",
                {
                    "is_add": is_add,
                    "flags": _flags(v),
                    "external_addr": v.external_ip,
                    "external_port": v.external_port,
                    "protocol": int(v.protocol),
                    "affinity": v.affinity,
                    "tag": SERVICE_TAG,
                    "local_num": len(locals_),
                    "locals": locals_,
                },
            )
        (lo,) = v.locals
        return (
            "nat44_add_del_static_mapping_v2",
            {
                "is_add": is_add,
                "match_pool": False,
                "flags": _flags(v),
                "pool_ip_address": "0.0.0.0",
                "local_ip_address": lo.ip,
                "external_ip_address": v.external_ip,
                "protocol": int(v.protocol),
                "local_port": lo.port,
                "external_port": v.external_port,
                "external_sw_if_index": ALL,
                "vrf_id": lo.vrf,
                "tag": SERVICE_TAG,
            },
        )

    async def create(self, ctx: Context, key: str, value: Nat44LbStaticMapping) -> Metadata:
        name, fields = self._requests(value, True)
        await self.vpp.call(name, **fields)
        return None

    async def delete(self, ctx: Context, key: str, value: Nat44LbStaticMapping, metadata: Metadata) -> None:
        name, fields = self._requests(value, False)
        await self.vpp.call(name, **fields)

    def needs_recreate(self, old: Nat44LbStaticMapping, new: Nat44LbStaticMapping) -> bool:
        return self._local_steps(old, new) is None

    async def update(
        self, ctx: Context, key: str, old: Nat44LbStaticMapping, new: Nat44LbStaticMapping, metadata: Metadata
    ) -> Metadata:
        steps = self._local_steps(old, new)
        assert steps is not None  # needs_recreate said so otherwise
        for is_add, lo in steps:
            await self.vpp.call(
                "nat44_lb_static_mapping_add_del_local",
                is_add=is_add,
                external_addr=new.external_ip,
                external_port=new.external_port,
                protocol=int(new.protocol),
                local=_local(lo),
            )
        return metadata

    @staticmethod
    def _local_steps(old: Nat44LbStaticMapping, new: Nat44LbStaticMapping) -> list[tuple[bool, Nat44LbLocal]] | None:
        """The local additions and removals that turn ``old`` into ``new`` in place; None if there are none."""
        if not (old.load_balanced and new.load_balanced):
            return None
        if _flags(old) != _flags(new) or old.affinity != new.affinity:
            return None
        before = {_lkey(lo): lo for lo in old.locals}
        after = {_lkey(lo): lo for lo in new.locals}
        added = [lo for k, lo in after.items() if k not in before]
        removed = [lo for k, lo in before.items() if k not in after]
        changed = [(before[k], lo) for k, lo in after.items() if k in before and before[k] != lo]
        steps: list[tuple[bool, Nat44LbLocal]] = [(True, lo) for lo in added]
        count = len(before) + len(added)
        for was, now in changed:  # a new probability: out, then in again
            if count < _MIN_LOCALS_TO_REMOVE:
                return None
            steps += [(False, was), (True, now)]
        for lo in removed:
            if count < _MIN_LOCALS_TO_REMOVE:
                return None
            steps.append((False, lo))
            count -= 1
        return steps

    async def retrieve(self, ctx: Context, expected: Mapping[str, Nat44LbStaticMapping]) -> Iterable[Retrieved]:
        lbs, statics = await asyncio.gather(
            self.vpp.dump("nat44_lb_static_mapping_dump"), self.vpp.dump("nat44_static_mapping_dump")
        )
        out: list[Retrieved] = []
        for d in lbs:
            flags = int(d.flags)
            v = Nat44LbStaticMapping(
                external_ip=d.external_addr,
                external_port=int(d.external_port),
                protocol=NatProtocol(int(d.protocol)),
                locals=tuple(
                    Nat44LbLocal(ip=lo.addr, port=int(lo.port), probability=int(lo.probability), vrf=int(lo.vrf_id))
                    for lo in d.locals
                ),
                twice_nat=bool(flags & TWICE_NAT),
                self_twice_nat=bool(flags & SELF_TWICE_NAT) and not flags & TWICE_NAT,
                out2in_only=bool(flags & OUT2IN_ONLY),
                affinity=int(d.affinity),
            )
            out.append(Retrieved(v.key, v, owned=str(d.tag) == SERVICE_TAG))
        for d in statics:
            flags = int(d.flags)
            if str(d.tag) != SERVICE_TAG or flags & ADDR_ONLY:
                continue
            v = Nat44LbStaticMapping(
                external_ip=d.external_ip_address,
                external_port=int(d.external_port),
                protocol=NatProtocol(int(d.protocol)),
                locals=(Nat44LbLocal(ip=d.local_ip_address, port=int(d.local_port), probability=0, vrf=int(d.vrf_id)),),
                twice_nat=bool(flags & TWICE_NAT),
                self_twice_nat=bool(flags & SELF_TWICE_NAT) and not flags & TWICE_NAT,
                out2in_only=bool(flags & OUT2IN_ONLY),
            )
            out.append(Retrieved(v.key, v, owned=True))
        return out

    def owns(self, key: str, value: Nat44LbStaticMapping) -> bool:
        return False

    def equivalent(self, desired: Nat44LbStaticMapping, actual: Nat44LbStaticMapping) -> bool:
        if desired.load_balanced:
            return desired == actual
        # a plain static mapping has no probability or affinity to read back
        (lo,) = desired.locals
        plain = Nat44LbLocal(ip=lo.ip, port=lo.port, probability=0, vrf=lo.vrf)
        return actual == Nat44LbStaticMapping(
            external_ip=desired.external_ip,
            external_port=desired.external_port,
            protocol=desired.protocol,
            locals=(plain,),
            twice_nat=desired.twice_nat,
            self_twice_nat=desired.self_twice_nat,
            out2in_only=desired.out2in_only,
        )
