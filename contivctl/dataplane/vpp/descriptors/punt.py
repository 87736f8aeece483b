"""Proxy ARP and IP punt redirects: what the STN mode needs of VPP besides an STN rule.

Neither carries a tag. A proxy ARP range is the agent's whatever made it
(the agent owns VPP's proxy ARP config, as it owns its NAT plugin); proxy
ARP on an interface and a punt redirect are the agent's when their
interface is.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from contivctl.dataplane.vpp.descriptors.base import ALL, InterfaceNames, VppDescriptor, sw_if_index
from contivctl.dataplane.vpp.descriptors.ip import NH_IP4, NH_IP6, NO_LABELS, PATH_NORMAL
from contivctl.items.vpp import ProxyArpInterface, ProxyArpRange, PuntRedirect
from contivctl.reconcile import Context, Metadata, Retrieved

AF_IP4, AF_IP6 = 0, 1


class ProxyArpRangeDescriptor(VppDescriptor[ProxyArpRange]):
    prefix = "vpp/proxyarp/range/"

    def _req(self, v: ProxyArpRange, is_add: bool) -> dict[str, Any]:
        return {"is_add": is_add, "proxy": {"table_id": v.vrf, "low": v.low, "hi": v.high}}

    async def create(self, ctx: Context, key: str, value: ProxyArpRange) -> Metadata:
        await self.vpp.call("proxy_arp_add_del", **self._req(value, True))
        return None

    async def delete(self, ctx: Context, key: str, value: ProxyArpRange, metadata: Metadata) -> None:
        await self.vpp.call("proxy_arp_add_del", **self._req(value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, ProxyArpRange]) -> Iterable[Retrieved]:
        out = []
        for d in await self.vpp.dump("proxy_arp_dump"):
            p = d.proxy
            v = ProxyArpRange(ipaddress.IPv4Address(p.low), ipaddress.IPv4Address(p.hi), int(p.table_id))
            out.append(Retrieved(v.key, v, owned=True))
        return out

    def owns(self, key: str, value: ProxyArpRange) -> bool:
        return True


class ProxyArpInterfaceDescriptor(VppDescriptor[ProxyArpInterface]):
    prefix = "vpp/proxyarp/interface/"

    async def _set(self, ctx: Context, v: ProxyArpInterface, enable: bool) -> None:
        await self.vpp.call("proxy_arp_intfc_enable_disable", sw_if_index=sw_if_index(ctx, v.interface), enable=enable)

    async def create(self, ctx: Context, key: str, value: ProxyArpInterface) -> Metadata:
        await self._set(ctx, value, True)
        return None

    async def delete(self, ctx: Context, key: str, value: ProxyArpInterface, metadata: Metadata) -> None:
        await self._set(ctx, value, False)

    async def retrieve(self, ctx: Context, expected: Mapping[str, ProxyArpInterface]) -> Iterable[Retrieved]:
        names, enabled = await asyncio.gather(InterfaceNames.load(self.vpp), self.vpp.dump("proxy_arp_intfc_dump"))
        out = []
        for d in enabled:
            n = names.get(int(d.sw_if_index))
            if n is not None:
                v = ProxyArpInterface(n.name)
                out.append(Retrieved(v.key, v, owned=n.owned))
        return out

    def owns(self, key: str, value: ProxyArpInterface) -> bool:
        return False


class PuntRedirectDescriptor(VppDescriptor[PuntRedirect]):
    prefix = "vpp/punt/"

    def _req(self, ctx: Context, v: PuntRedirect, is_add: bool) -> dict[str, Any]:
        ipv6 = v.next_hop.version == 6
        path = {
            "sw_if_index": sw_if_index(ctx, v.interface),
            "table_id": 0,
            "weight": 1,
            "preference": 0,
            "type": PATH_NORMAL,
            "proto": NH_IP6 if ipv6 else NH_IP4,
            "nh": {"address": {"ip6" if ipv6 else "ip4": v.next_hop}},
            "label_stack": NO_LABELS,
        }
        rx = ALL if v.rx_interface is None else sw_if_index(ctx, v.rx_interface)
        punt = {"rx_sw_if_index": rx, "af": AF_IP6 if ipv6 else AF_IP4, "n_paths": 1, "paths": [path]}
        return {"is_add": is_add, "punt": punt}

    async def create(self, ctx: Context, key: str, value: PuntRedirect) -> Metadata:
        await self.vpp.call("add_del_ip_punt_redirect_v2", **self._req(ctx, value, True))
        return None

    def needs_recreate(self, old: PuntRedirect, new: PuntRedirect) -> bool:
        return False

    async def update(
        self, ctx: Context, key: str, old: PuntRedirect, new: PuntRedirect, metadata: Metadata
    ) -> Metadata:
        # an add for the same receiving interface replaces the redirect's paths
        await self.vpp.call("add_del_ip_punt_redirect_v2", **self._req(ctx, new, True))
        return None

    async def delete(self, ctx: Context, key: str, value: PuntRedirect, metadata: Metadata) -> None:
        await self.vpp.call("add_del_ip_punt_redirect_v2", **self._req(ctx, value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, PuntRedirect]) -> Iterable[Retrieved]:
        names, v4, v6 = await asyncio.gather(
            InterfaceNames.load(self.vpp),
            self.vpp.dump("ip_punt_redirect_v2_dump", sw_if_index=ALL, af=AF_IP4),
            self.vpp.dump("ip_punt_redirect_v2_dump", sw_if_index=ALL, af=AF_IP6),
        )
        out = []
        for d in [*v4, *v6]:
            p = d.punt
            paths = list(p.paths)
            if len(paths) != 1:
                continue  # the agent only makes single-path redirects
            path = paths[0]
            tx = names.get(int(path.sw_if_index))
            rx_index = int(p.rx_sw_if_index)
            rx = None if rx_index in (ALL, 0) else names.get(rx_index)
            if tx is None or (rx_index not in (ALL, 0) and rx is None):
                continue  # an interface that is gone, or was never anyone's we know
            nh = path.nh.address.ip6 if int(path.proto) == NH_IP6 else path.nh.address.ip4
            v = PuntRedirect(tx.name, nh, None if rx is None else rx.name)
            out.append(Retrieved(v.key, v, owned=tx.owned and (rx is None or rx.owned)))
        return out

    def owns(self, key: str, value: PuntRedirect) -> bool:
        return False
