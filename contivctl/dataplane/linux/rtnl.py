"""Reading links, addresses, routes and neighbours out of rtnetlink dumps.

A resync reads every pod namespace; decoding those dumps with a general
netlink library costs milliseconds per namespace in Python object building
alone, which for hundreds of pods is seconds. These dumps need only a few
fields, so they are parsed here with ``struct`` from the raw messages, on
the worker thread that sent the dump (``Channel.dump``).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Callable, Container, Iterable

import attrs

RTM_GETLINK = 18
RTM_GETADDR = 22
RTM_GETROUTE = 26
RTM_GETNEIGH = 30

_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_NDMSG = struct.Struct("=BxxxiHBB")
_RTATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_IFALIAS, IFLA_GROUP = 1, 3, 4, 5, 20, 27
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
NDA_DST, NDA_LLADDR = 1, 2


@attrs.frozen
class RawLink:
    index: int
    flags: int
    name: str
    alias: str
    mtu: int
    mac: str
    peer_index: int
    group: int = 0


@attrs.frozen
class RawAddress:
    index: int
    address: ipaddress.IPv4Interface | ipaddress.IPv6Interface


@attrs.frozen
class RawRoute:
    table: int
    protocol: int
    dst: ipaddress.IPv4Network | ipaddress.IPv6Network
    oif: int
    gateway: ipaddress.IPv4Address | ipaddress.IPv6Address | None


@attrs.frozen
class RawNeighbour:
    ifindex: int
    state: int
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    mac: str


def parse_attrs(data: bytes, offset: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    end = len(data)
    while offset + 4 <= end:
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return out


def _text(raw: bytes | None) -> str:
    return raw.rstrip(b"\0").decode(errors="replace") if raw else ""


def _mac(raw: bytes | None) -> str:
    return raw.hex(":") if raw else ""


def _ip(raw: bytes) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.IPv4Address(raw) if len(raw) == 4 else ipaddress.IPv6Address(raw)


#: sends a dump request (message type, body) and returns the body of every message answered
Dump = Callable[[int, bytes], Iterable[bytes]]


def links(dump: Dump) -> list[RawLink]:
    out = []
    for msg in dump(RTM_GETLINK, _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)):
        _type, index, flags, _change = _IFINFOMSG.unpack_from(msg)[1:5]
        a = parse_attrs(msg, _IFINFOMSG.size)
        out.append(
            RawLink(
                index=index,
                flags=flags,
                name=_text(a.get(IFLA_IFNAME)),
                alias=_text(a.get(IFLA_IFALIAS)),
                mtu=struct.unpack("=I", a[IFLA_MTU])[0] if IFLA_MTU in a else 0,
                mac=_mac(a.get(IFLA_ADDRESS)),
                peer_index=struct.unpack("=i", a[IFLA_LINK])[0] if IFLA_LINK in a else 0,
                group=struct.unpack("=I", a[IFLA_GROUP])[0] if IFLA_GROUP in a else 0,
            )
        )
    return out


def _interface(raw: bytes, prefixlen: int) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    # the (address, prefix length) form: no text to format and parse again
    if len(raw) == 4:
        return ipaddress.IPv4Interface((raw, prefixlen))
    return ipaddress.IPv6Interface((raw, prefixlen))


def _network(raw: bytes, prefixlen: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if len(raw) == 4:
        return ipaddress.IPv4Network((raw, prefixlen), strict=False)
    return ipaddress.IPv6Network((raw, prefixlen), strict=False)


def addresses(dump: Dump, indexes: Container[int] | None = None) -> list[RawAddress]:
    """Every address, or those on the links ``indexes``."""
    out = []
    for msg in dump(RTM_GETADDR, _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)):
        _family, prefixlen, _flags, _scope, index = _IFADDRMSG.unpack_from(msg)
        if indexes is not None and index not in indexes:
            continue
        a = parse_attrs(msg, _IFADDRMSG.size)
        raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS)
        if raw:
            out.append(RawAddress(index, _interface(raw, prefixlen)))
    return out


def routes(dump: Dump, table: int | None = None, protocol: int | None = None) -> list[RawRoute]:
    """Every route, or those of ``table`` and ``protocol``."""
    out = []
    for msg in dump(RTM_GETROUTE, _RTMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0)):
        family, dst_len, _src_len, _tos, rtm_table, rtm_protocol, _scope, _type, _flags = _RTMSG.unpack_from(msg)
        if (protocol is not None and rtm_protocol != protocol) or family not in (socket.AF_INET, socket.AF_INET6):
            continue
        a = parse_attrs(msg, _RTMSG.size)
        if RTA_TABLE in a:
            rtm_table = _U32.unpack(a[RTA_TABLE])[0]
        if table is not None and rtm_table != table:
            continue
        dst = a.get(RTA_DST, b"\0" * (4 if family == socket.AF_INET else 16))
        out.append(
            RawRoute(
                table=rtm_table,
                protocol=rtm_protocol,
                dst=_network(dst, dst_len),
                oif=_I32.unpack(a[RTA_OIF])[0] if RTA_OIF in a else 0,
                gateway=_ip(a[RTA_GATEWAY]) if RTA_GATEWAY in a else None,
            )
        )
    return out


def neighbours(
    dump: Dump, family: int = socket.AF_UNSPEC, indexes: Container[int] | None = None, state: int = 0
) -> list[RawNeighbour]:
    """Every neighbour entry of ``family``, or those on the links ``indexes`` with a bit of ``state`` set."""
    out = []
    for msg in dump(RTM_GETNEIGH, _NDMSG.pack(family, 0, 0, 0, 0)):
        _family, ifindex, ndm_state, _flags, _type = _NDMSG.unpack_from(msg)
        if (indexes is not None and ifindex not in indexes) or (state and not ndm_state & state):
            continue
        a = parse_attrs(msg, _NDMSG.size)
        if NDA_DST in a:
            out.append(RawNeighbour(ifindex, ndm_state, _ip(a[NDA_DST]), _mac(a.get(NDA_LLADDR))))
    return out
