"""NAT44 endpoint-dependent: the plugin, interface roles, the address pool, static and identity mappings.

VPP's API cannot say whether the plugin is enabled. The driver asks with a
request that changes nothing: deleting a session that cannot exist answers
nat44-ed's bare 1 while the plugin is disabled and NO_SUCH_ENTRY while it is
enabled. The plugin's settings (sessions, VRFs) are not readable either, so
an enabled plugin is taken as equivalent to any desired setting; changing
them in the desired state re-creates the plugin (and with it every NAT item).

Mappings carry the agent's tag; pool addresses and interface roles have no
tag and are the agent's when NAT is (the agent owns NAT44 on its node).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from contivctl.dataplane.vpp.connection import TAG_PREFIX
from contivctl.dataplane.vpp.descriptors.base import ALL, InterfaceNames, VppDescriptor, sw_if_index
from contivctl.dataplane.vpp.retvals import Retval
from contivctl.errors import VPPApiError
from contivctl.items.vpp import (
    Nat44Address,
    Nat44Global,
    Nat44IdentityMapping,
    Nat44Interface,
    Nat44StaticMapping,
    NatProtocol,
)
from contivctl.reconcile import Context, Metadata, Retrieved

# nat_config_flags
TWICE_NAT, SELF_TWICE_NAT, OUT2IN_ONLY, ADDR_ONLY, OUTSIDE, INSIDE = 1, 2, 4, 8, 16, 32
ENDPOINT_DEPENDENT = 1
MAPPING_TAG = TAG_PREFIX + "nat"
#: the tag of service frontends (descriptors/lb.py), some of which are plain static mappings
SERVICE_TAG = TAG_PREFIX + "svc"


async def nat_enabled(vpp: Any) -> bool:
    reply = await vpp.call(
        "nat44_del_session",
        check=False,
        address="0.0.0.0",
        protocol=0,
        port=0,
        vrf_id=ALL,
        flags=0,
        ext_host_address="0.0.0.0",
        ext_host_port=0,
    )
    return int(reply.retval) != Retval.NAT_PLUGIN_STATE


class Nat44GlobalDescriptor(VppDescriptor[Nat44Global]):
    prefix = "vpp/nat44/global"

    async def _switch(self, v: Nat44Global, enable: bool) -> None:
        try:
            await self.vpp.call(
                "nat44_ed_plugin_enable_disable",
                enable=enable,
                inside_vrf=v.inside_vrf,
                outside_vrf=v.outside_vrf,
                sessions=v.sessions,
                session_memory=0,
                flags=ENDPOINT_DEPENDENT,
            )
        except VPPApiError as exc:
            # nat44-ed answers 1 for "already enabled" / "already disabled": the state is as wanted
            if exc.retval != Retval.NAT_PLUGIN_STATE:
                raise

    async def create(self, ctx: Context, key: str, value: Nat44Global) -> Metadata:
        await self._switch(value, True)
        return None

    async def delete(self, ctx: Context, key: str, value: Nat44Global, metadata: Metadata) -> None:
        await self._switch(value, False)

    async def retrieve(self, ctx: Context, expected: Mapping[str, Nat44Global]) -> Iterable[Retrieved]:
        if not await nat_enabled(self.vpp):
            return []
        v = Nat44Global()
        return [Retrieved(v.key, v, owned=True)]

    def owns(self, key: str, value: Nat44Global) -> bool:
        return True

    def equivalent(self, desired: Nat44Global, actual: Nat44Global) -> bool:
        return True  # the settings cannot be read back (see the module docstring)


class Nat44InterfaceDescriptor(VppDescriptor[Nat44Interface]):
    prefix = "vpp/nat44/interface/"

    def _reqs(self, ctx: Context, v: Nat44Interface, is_add: bool) -> list[tuple[str, dict[str, Any]]]:
        idx = sw_if_index(ctx, v.interface)
        if v.output:
            return [("nat44_ed_add_del_output_interface", {"sw_if_index": idx, "is_add": is_add})]
        roles = [f for f, on in ((INSIDE, v.inside), (OUTSIDE, v.outside)) if on]
        return [("nat44_interface_add_del_feature", {"sw_if_index": idx, "is_add": is_add, "flags": f}) for f in roles]

    async def create(self, ctx: Context, key: str, value: Nat44Interface) -> Metadata:
        await self.vpp.call_many(self._reqs(ctx, value, True))
        return None

    async def delete(self, ctx: Context, key: str, value: Nat44Interface, metadata: Metadata) -> None:
        await self.vpp.call_many(self._reqs(ctx, value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, Nat44Interface]) -> Iterable[Retrieved]:
        names, feats, outs = await asyncio.gather(
            InterfaceNames.load(self.vpp),
            self.vpp.dump("nat44_interface_dump"),
            self.vpp.stream("nat44_ed_output_interface_get"),
        )
        out = []
        for d in feats:
            n = names.get(int(d.sw_if_index))
            if n is not None:
                flags = int(d.flags)
                v = Nat44Interface(n.name, inside=bool(flags & INSIDE), outside=bool(flags & OUTSIDE))
                out.append(Retrieved(v.key, v, owned=True))
        for d in outs:
            n = names.get(int(d.sw_if_index))
            if n is not None:
                v = Nat44Interface(n.name, output=True)
                out.append(Retrieved(v.key, v, owned=True))
        return out

    def owns(self, key: str, value: Nat44Interface) -> bool:
        return True


class Nat44AddressDescriptor(VppDescriptor[Nat44Address]):
    prefix = "vpp/nat44/address/"

    def _req(self, v: Nat44Address, is_add: bool) -> dict[str, Any]:
        return {
            "first_ip_address": v.ip,
            "last_ip_address": v.ip,
            "vrf_id": v.vrf,
            "is_add": is_add,
            "flags": TWICE_NAT if v.twice_nat else 0,
        }

    async def create(self, ctx: Context, key: str, value: Nat44Address) -> Metadata:
        await self.vpp.call("nat44_add_del_address_range", **self._req(value, True))
        return None

    async def delete(self, ctx: Context, key: str, value: Nat44Address, metadata: Metadata) -> None:
        await self.vpp.call("nat44_add_del_address_range", **self._req(value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, Nat44Address]) -> Iterable[Retrieved]:
        out = []
        for d in await self.vpp.dump("nat44_address_dump"):
            v = Nat44Address(d.ip_address, int(d.vrf_id), bool(int(d.flags) & TWICE_NAT))
            out.append(Retrieved(v.key, v, owned=True))
        return out

    def owns(self, key: str, value: Nat44Address) -> bool:
        return True


class Nat44StaticMappingDescriptor(VppDescriptor[Nat44StaticMapping]):
    prefix = "vpp/nat44/static/"

    def _req(self, v: Nat44StaticMapping, is_add: bool) -> dict[str, Any]:
        flags = (
            (ADDR_ONLY if v.addr_only else 0)
            | (TWICE_NAT if v.twice_nat else 0)
            | (SELF_TWICE_NAT if v.self_twice_nat else 0)
            | (OUT2IN_ONLY if v.out2in_only else 0)
        )
        return {
            "is_add": is_add,
            "match_pool": False,
            "flags": flags,
            "pool_ip_address": "0.0.0.0",
            "local_ip_address": v.local_ip,
            "external_ip_address": v.external_ip,
            "protocol": int(v.protocol),
            "local_port": v.local_port,
            "external_port": v.external_port,
            "external_sw_if_index": ALL,
            "vrf_id": v.vrf,
            "tag": MAPPING_TAG,
        }

    async def create(self, ctx: Context, key: str, value: Nat44StaticMapping) -> Metadata:
        await self.vpp.call("nat44_add_del_static_mapping_v2", **self._req(value, True))
        return None

    async def delete(self, ctx: Context, key: str, value: Nat44StaticMapping, metadata: Metadata) -> None:
        await self.vpp.call("nat44_add_del_static_mapping_v2", **self._req(value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, Nat44StaticMapping]) -> Iterable[Retrieved]:
        out = []
        for d in await self.vpp.dump("nat44_static_mapping_dump"):
            if str(d.tag) == SERVICE_TAG:
                continue  # a service frontend with one endpoint: Nat44LbStaticMappingDescriptor's
            flags = int(d.flags)
            addr_only = bool(flags & ADDR_ONLY)
            v = Nat44StaticMapping(
                local_ip=d.local_ip_address,
                external_ip=d.external_ip_address,
                protocol=NatProtocol.ANY if addr_only else NatProtocol(int(d.protocol)),
                local_port=int(d.local_port),
                external_port=int(d.external_port),
                vrf=int(d.vrf_id),
                twice_nat=bool(flags & TWICE_NAT),
                self_twice_nat=bool(flags & SELF_TWICE_NAT),
                out2in_only=bool(flags & OUT2IN_ONLY),
            )
            out.append(Retrieved(v.key, v, owned=str(d.tag).startswith(TAG_PREFIX)))
        return out

    def owns(self, key: str, value: Nat44StaticMapping) -> bool:
        return False


class Nat44IdentityMappingDescriptor(VppDescriptor[Nat44IdentityMapping]):
    prefix = "vpp/nat44/identity/"

    def _req(self, v: Nat44IdentityMapping, is_add: bool) -> dict[str, Any]:
        return {
            "is_add": is_add,
            "flags": ADDR_ONLY if v.addr_only else 0,
            "ip_address": v.ip,
            "protocol": int(v.protocol),
            "port": v.port,
            "sw_if_index": ALL,
            "vrf_id": v.vrf,
            "tag": MAPPING_TAG,
        }

    async def create(self, ctx: Context, key: str, value: Nat44IdentityMapping) -> Metadata:
        await self.vpp.call("nat44_add_del_identity_mapping", **self._req(value, True))
        return None

    async def delete(self, ctx: Context, key: str, value: Nat44IdentityMapping, metadata: Metadata) -> None:
        await self.vpp.call("nat44_add_del_identity_mapping", **self._req(value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, Nat44IdentityMapping]) -> Iterable[Retrieved]:
        out = []
        for d in await self.vpp.dump("nat44_identity_mapping_dump"):
            addr_only = bool(int(d.flags) & ADDR_ONLY)
            v = Nat44IdentityMapping(
                ip=d.ip_address,
                protocol=NatProtocol.ANY if addr_only else NatProtocol(int(d.protocol)),
                port=int(d.port),
                vrf=int(d.vrf_id),
            )
            out.append(Retrieved(v.key, v, owned=str(d.tag).startswith(TAG_PREFIX)))
        return out

    def owns(self, key: str, value: Nat44IdentityMapping) -> bool:
        return False
