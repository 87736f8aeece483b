"""STN rules, container proxies, the session layer, application namespaces and DHCP clients.

The session layer and app namespaces cannot be dumped through VPP's API:
- whether the session layer is on is asked with a request that changes
  nothing (deleting an app namespace that cannot exist is refused with
  FEATURE_DISABLED only while the layer is off);
- app namespaces the driver made are remembered, each with the interface
  it is bound to and that interface's sw_if_index. The memory is kept in a
  file when the agent gives one, so it survives an agent restart; an entry
  counts only while that interface still exists under the same index and
  tag, which no longer holds once VPP restarted (its interfaces are gone
  when the resync reads them). So a clean agent restart re-adds nothing,
  and a VPP restart re-adds everything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.dataplane.vpp.descriptors.base import (
    ALL,
    InterfaceNames,
    VppDescriptor,
    sw_if_index,
)
from contivctl.dataplane.vpp.retvals import Retval
from contivctl.items.vpp import AppNamespace, ContainerProxy, DhcpClient, SessionLayer, StnRule
from contivctl.reconcile import Context, Metadata, Retrieved

log = logging.getLogger(__name__)

RT_DISABLE, RT_RULE_TABLE = 0, 1
_PROBE_NS = "contiv-probe-never-created"


class StnRuleDescriptor(VppDescriptor[StnRule]):
    prefix = "vpp/stn/"

    def _req(self, ctx: Context, v: StnRule, is_add: bool) -> dict[str, Any]:
        return {"ip_address": v.ip, "sw_if_index": sw_if_index(ctx, v.interface), "is_add": is_add}

    async def create(self, ctx: Context, key: str, value: StnRule) -> Metadata:
        await self.vpp.call("stn_add_del_rule", **self._req(ctx, value, True))
        return None

    async def delete(self, ctx: Context, key: str, value: StnRule, metadata: Metadata) -> None:
        await self.vpp.call("stn_add_del_rule", **self._req(ctx, value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, StnRule]) -> Iterable[Retrieved]:
        names, rules = await asyncio.gather(InterfaceNames.load(self.vpp), self.vpp.dump("stn_rules_dump"))
        out = []
        for r in rules:
            n = names.get(int(r.sw_if_index))
            if n is not None:
                v = StnRule(r.ip_address, n.name)
                out.append(Retrieved(v.key, v, owned=n.owned))
        return out

    def owns(self, key: str, value: StnRule) -> bool:
        return False


class ContainerProxyDescriptor(VppDescriptor[ContainerProxy]):
    prefix = "vpp/containerproxy/"

    def _req(self, ctx: Context, v: ContainerProxy, is_add: bool) -> dict[str, Any]:
        return {"pfx": v.prefix, "sw_if_index": sw_if_index(ctx, v.interface), "is_add": is_add}

    async def create(self, ctx: Context, key: str, value: ContainerProxy) -> Metadata:
        await self.vpp.call("ip_container_proxy_add_del", **self._req(ctx, value, True))
        return None

    async def delete(self, ctx: Context, key: str, value: ContainerProxy, metadata: Metadata) -> None:
        await self.vpp.call("ip_container_proxy_add_del", **self._req(ctx, value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, ContainerProxy]) -> Iterable[Retrieved]:
        names, proxies = await asyncio.gather(InterfaceNames.load(self.vpp), self.vpp.dump("ip_container_proxy_dump"))
        out = []
        for d in proxies:
            n = names.get(int(d.sw_if_index))
            if n is not None:
                v = ContainerProxy(n.name, d.prefix)
                out.append(Retrieved(v.key, v, owned=n.owned))
        return out

    def owns(self, key: str, value: ContainerProxy) -> bool:
        return False


async def session_enabled(vpp: VPPConnection) -> bool:
    reply = await vpp.call(
        "app_namespace_add_del_v4",
        check=False,
        secret=0,
        is_add=False,
        sw_if_index=ALL,
        ip4_fib_id=0,
        ip6_fib_id=0,
        namespace_id=_PROBE_NS,
        sock_name="",
    )
    return int(reply.retval) != Retval.FEATURE_DISABLED


class SessionLayerDescriptor(VppDescriptor[SessionLayer]):
    prefix = "vpp/session/global"

    async def create(self, ctx: Context, key: str, value: SessionLayer) -> Metadata:
        await self.vpp.call("session_enable_disable_v2", rt_engine_type=RT_RULE_TABLE)
        return None

    async def delete(self, ctx: Context, key: str, value: SessionLayer, metadata: Metadata) -> None:
        await self.vpp.call("session_enable_disable_v2", rt_engine_type=RT_DISABLE)

    async def retrieve(self, ctx: Context, expected: Mapping[str, SessionLayer]) -> Iterable[Retrieved]:
        if not await session_enabled(self.vpp):
            return []
        v = SessionLayer()
        return [Retrieved(v.key, v, owned=True)]

    def owns(self, key: str, value: SessionLayer) -> bool:
        return True


class AppNamespaceDescriptor(VppDescriptor[AppNamespace]):
    prefix = "vpp/appns/"

    def __init__(self, vpp: VPPConnection, memory: Path | None = None) -> None:
        super().__init__(vpp)
        self._memory_path = memory
        #: namespace id → (value, sw_if_index of its interface when it was made)
        self._made: dict[str, tuple[AppNamespace, int]] = self._load()

    def _load(self) -> dict[str, tuple[AppNamespace, int]]:
        if self._memory_path is None or not self._memory_path.exists():
            return {}
        try:
            raw = json.loads(self._memory_path.read_text())
            return {
                ns_id: (
                    AppNamespace(ns_id, int(e["secret"]), e["interface"], int(e["ip4_vrf"]), int(e["ip6_vrf"])),
                    int(e["sw_if_index"]),
                )
                for ns_id, e in raw.items()
            }
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("forgetting app namespaces recorded in %s: %s", self._memory_path, exc)
            return {}

    def _save(self) -> None:
        if self._memory_path is None:
            return
        data = {
            ns_id: {
                "secret": v.secret,
                "interface": v.interface,
                "ip4_vrf": v.ip4_vrf,
                "ip6_vrf": v.ip6_vrf,
                "sw_if_index": idx,
            }
            for ns_id, (v, idx) in self._made.items()
        }
        tmp = self._memory_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self._memory_path)

    def _req(self, ctx: Context | None, v: AppNamespace, is_add: bool) -> dict[str, Any]:
        return {
            "secret": v.secret,
            "is_add": is_add,
            "sw_if_index": sw_if_index(ctx, v.interface) if ctx is not None else ALL,
            "ip4_fib_id": v.ip4_vrf,
            "ip6_fib_id": v.ip6_vrf,
            "namespace_id": v.id,
            "sock_name": "",
        }

    async def create(self, ctx: Context, key: str, value: AppNamespace) -> Metadata:
        req = self._req(ctx, value, True)
        r = await self.vpp.call("app_namespace_add_del_v4", **req)
        self._made[value.id] = (value, int(req["sw_if_index"]))
        self._save()
        return int(r.appns_index)

    def needs_recreate(self, old: AppNamespace, new: AppNamespace) -> bool:
        return old.id != new.id

    async def update(
        self, ctx: Context, key: str, old: AppNamespace, new: AppNamespace, metadata: Metadata
    ) -> Metadata:
        return await self.create(ctx, key, new)  # VPP updates a namespace that exists

    async def delete(self, ctx: Context, key: str, value: AppNamespace, metadata: Metadata) -> None:
        await self.vpp.call("app_namespace_add_del_v4", **self._req(ctx, value, False))
        self._made.pop(value.id, None)
        self._save()

    async def retrieve(self, ctx: Context, expected: Mapping[str, AppNamespace]) -> Iterable[Retrieved]:
        names = await InterfaceNames.load(self.vpp)
        found = []
        for ns_id, (value, idx) in list(self._made.items()):
            bound = names.get(idx)
            if bound is not None and bound.owned and bound.name == value.interface:
                found.append(Retrieved(value.key, value, owned=True))
            else:
                del self._made[ns_id]  # its interface is gone: VPP restarted or someone removed it
        self._save()
        return found

    def owns(self, key: str, value: AppNamespace) -> bool:
        return True


class DhcpClientDescriptor(VppDescriptor[DhcpClient]):
    """Leases are reported by VPP as `dhcp_compl_event` to this connection (`add_event_listener`)."""

    prefix = "vpp/dhcp/"

    def _req(self, ctx: Context, v: DhcpClient, is_add: bool) -> dict[str, Any]:
        client = {
            "sw_if_index": sw_if_index(ctx, v.interface),
            "hostname": v.hostname,
            "want_dhcp_event": True,
            "set_broadcast_flag": True,
            "dscp": 0,
            "pid": os.getpid(),
        }
        return {"is_add": is_add, "client": client}

    async def create(self, ctx: Context, key: str, value: DhcpClient) -> Metadata:
        await self.vpp.call("dhcp_client_config", **self._req(ctx, value, True))
        return None

    async def delete(self, ctx: Context, key: str, value: DhcpClient, metadata: Metadata) -> None:
        await self.vpp.call("dhcp_client_config", **self._req(ctx, value, False))

    async def retrieve(self, ctx: Context, expected: Mapping[str, DhcpClient]) -> Iterable[Retrieved]:
        names, clients = await asyncio.gather(InterfaceNames.load(self.vpp), self.vpp.dump("dhcp_client_dump"))
        out = []
        for d in clients:
            n = names.get(int(d.client.sw_if_index))
            if n is not None:
                v = DhcpClient(n.name, str(d.client.hostname))
                out.append(Retrieved(v.key, v, owned=n.owned))
        return out

    def owns(self, key: str, value: DhcpClient) -> bool:
        return False
