"""The host stack's own IPv4 addresses, which VPP must route back over the interconnect."""

from __future__ import annotations

import ipaddress

from contivctl.dataplane.linux.netns import iproute

#: links whose addresses are not the host's (the original's list)
_SKIP_PREFIXES = ("lo", "docker", "virbr", "vpp")


async def host_ipv4_addresses(netns: str = "", skip: tuple[str, ...] = ()) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses of every link in ``netns`` except loopback, docker, virbr, vpp* and ``skip``."""
    async with iproute(netns) as ipr:
        names: dict[int, str] = {}
        async for msg in await ipr.link("dump"):
            names[msg["index"]] = msg.get("ifname") or ""
        out: list[ipaddress.IPv4Address] = []
        async for msg in await ipr.addr("dump"):
            name = names.get(msg["index"], "")
            if name.startswith(_SKIP_PREFIXES) or name in skip or msg["family"] != 2:
                continue
            ip = ipaddress.IPv4Address(msg.get("address"))
            if ip not in out:
                out.append(ip)
    return out
