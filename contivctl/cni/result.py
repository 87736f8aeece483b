"""The agent's reply as a CNI result, in the shape of the version the runtime asked for.

0.3.x and 0.4.0 results carry ``"version": "4"|"6"`` on each address; 1.x
results dropped it. Everything else the agent sends (one interface inside
the pod, its address with the gateway, the default route) is the same in
every version. ``interface`` indexes ``interfaces`` so that chained plugins
(portmap) recognise the pod's own address.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contivctl.cni.generated.cni import CniReply

_HAS_IP_VERSION = frozenset({"0.3.0", "0.3.1", "0.4.0"})


def cni_result(reply: CniReply, version: str) -> dict[str, Any]:
    interfaces: list[dict[str, Any]] = []
    ips: list[dict[str, Any]] = []
    for index, iface in enumerate(reply.interfaces):
        entry = {"name": iface.name}
        if iface.mac:
            entry["mac"] = iface.mac
        if iface.sandbox:
            entry["sandbox"] = iface.sandbox
        interfaces.append(entry)
        for ip in iface.ip_addresses:
            out: dict[str, Any] = {}
            if version in _HAS_IP_VERSION:
                out["version"] = "6" if ip.version == 1 else "4"
            out["interface"] = index
            out["address"] = ip.address
            if ip.gateway:
                out["gateway"] = ip.gateway
            ips.append(out)
    routes = []
    for r in reply.routes:
        route = {"dst": r.dst}
        if r.gw:
            route["gw"] = r.gw
        routes.append(route)
    dns: dict[str, Any] = {}
    for d in reply.dns[-1:]:  # as the original plugin: the last entry wins
        if d.nameservers:
            dns["nameservers"] = list(d.nameservers)
        if d.domain:
            dns["domain"] = d.domain
        if d.search:
            dns["search"] = list(d.search)
        if d.options:
            dns["options"] = list(d.options)
    return {"cniVersion": version, "interfaces": interfaces, "ips": ips, "routes": routes, "dns": dns}


def prev_result_problems(prev: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What in a CHECK's ``prevResult`` no longer matches the attachment (its interface, its addresses)."""
    problems = []
    ifaces = prev.get("interfaces")
    if isinstance(ifaces, list):
        have = {(i.get("name"), i.get("sandbox")) for i in ifaces if isinstance(i, dict)}
        for iface in current["interfaces"]:
            if (iface["name"], iface.get("sandbox")) not in have:
                problems.append(f"prevResult has no interface {iface['name']} in {iface.get('sandbox')}")
    ips = prev.get("ips")
    addresses = {i.get("address") for i in ips if isinstance(i, dict)} if isinstance(ips, list) else set()
    for ip in current["ips"]:
        if ip["address"] not in addresses:
            problems.append(f"prevResult lacks the address {ip['address']}")
    return problems
