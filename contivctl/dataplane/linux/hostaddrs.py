"""The host stack's own IPv4 addresses, which VPP must route back over the interconnect."""

from __future__ import annotations

import ipaddress

from contivctl.dataplane.linux import channel, rtnl
from contivctl.dataplane.linux.channel import Channels

#: links whose addresses are not the host's (the original's list)
_SKIP_PREFIXES = ("lo", "docker", "virbr", "vpp")


async def host_ipv4_addresses(netns: str = "", skip: tuple[str, ...] = ()) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses of every link in ``netns`` except loopback, docker, virbr, vpp* and ``skip``."""

    def job(channels: Channels) -> list[ipaddress.IPv4Address]:
        here = channels(netns)
        names = {link.index: link.name for link in rtnl.links(here.dump)}
        out: list[ipaddress.IPv4Address] = []
        for entry in rtnl.addresses(here.dump):
            name = names.get(entry.index, "")
            if name.startswith(_SKIP_PREFIXES) or name in skip or entry.address.version != 4:
                continue
            ip = ipaddress.IPv4Address(entry.address.ip)
            if ip not in out:
                out.append(ip)
        return out

    return await channel.run(job)
