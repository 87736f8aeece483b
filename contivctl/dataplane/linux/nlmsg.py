"""rtnetlink requests as bytes: the few messages the Linux driver sends, encoded with ``struct``.

Pure functions, no sockets. A general netlink library builds a tree of
Python objects for every message and walks it to encode it; that cost about
a millisecond of CPU per request, which for a pod (a dozen requests to wire
it, more to remove it) was most of what the agent spent on it. The driver
needs a handful of message shapes with a handful of attributes each, so they
are packed here directly, like the dumps are parsed in ``rtnl.py``.

A request is a ``Request``: message type, flags and body. The channel that
sends it (``channel.py``) adds the header with its own sequence number.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

import attrs

from contivctl.dataplane.linux.rtnl import (
    IFA_ADDRESS,
    IFA_LOCAL,
    IFLA_ADDRESS,
    IFLA_GROUP,
    IFLA_IFALIAS,
    IFLA_IFNAME,
    IFLA_MTU,
    NDA_DST,
    NDA_LLADDR,
    RTA_DST,
    RTA_GATEWAY,
    RTA_OIF,
    RTA_TABLE,
    parse_attrs,
)
from contivctl.iptypes import IPAddress, IPInterface, IPNetwork

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR = 20, 21
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTM_NEWNEIGH, RTM_DELNEIGH = 28, 29

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400

IFF_UP = 0x1
#: an FDB entry of the device itself, not of a bridge it is a port of
NTF_SELF = 0x2
IFLA_LINK = 5
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28
IFLA_EXT_MASK = 29
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
IFLA_VXLAN_ID, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LEARNING, IFLA_VXLAN_PORT, IFLA_VXLAN_LOCAL6 = 1, 4, 7, 15, 17
VETH_INFO_PEER = 1
#: ask the kernel to leave the statistics out of a link it reports (most of its size)
RTEXT_FILTER_SKIP_STATS = 1 << 3
RTN_UNICAST = 1
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RT_SCOPE_NOWHERE = 255
RT_TABLE_MAIN = 254

NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_NDMSG = struct.Struct("=BxxxiHBB")
_NLATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")



@attrs.frozen
class Request:
    """One rtnetlink message without its header; every request asks for an acknowledgement."""

    type: int
    flags: int
    body: bytes

    def encode(self, seq: int) -> bytes:
        return NLMSGHDR.pack(NLMSGHDR.size + len(self.body), self.type, self.flags, seq, 0) + self.body


# -- attributes -------------------------------------------------------------


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to the next four bytes (the length excludes the padding)."""
    length = _NLATTR.size + len(payload)
    return _NLATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, _U32.pack(value))


def attr_str(kind: int, value: str) -> bytes:
    """A NUL-terminated string attribute (interface names, link kinds)."""
    return attr(kind, value.encode() + b"\0")


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def _family(ip: IPAddress | IPNetwork | IPInterface) -> int:
    return socket.AF_INET if ip.version == 4 else socket.AF_INET6


# -- links ------------------------------------------------------------------


def _ifinfo(index: int = 0, up: bool | None = None) -> bytes:
    flags, change = (0, 0) if up is None else (IFF_UP if up else 0, IFF_UP)
    return _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, flags, change)


def _link_attrs(*, group: int | None = None, mtu: int = 0, mac: str | None = None, alias: str | None = None) -> bytes:
    out = b""
    if group is not None:
        out += attr_u32(IFLA_GROUP, group)
    if mtu:
        out += attr_u32(IFLA_MTU, mtu)
    if mac:
        out += attr(IFLA_ADDRESS, mac_bytes(mac))
    if alias is not None:
        out += attr(IFLA_IFALIAS, alias.encode())  # empty: the alias is removed
    return out


def new_veth(
    name: str,
    peer_name: str,
    peer_netns_fd: int,
    *,
    group: int,
    mtu: int = 0,
    mac: str | None = None,
    peer_mac: str | None = None,
    up: bool = True,
) -> Request:
    """Create a veth pair whose peer is born in another namespace, both ends configured.

    The kernel applies MTU, MAC and device group of each end in the creating
    request itself (the peer's from its own nested ``ifinfomsg``), and the up
    flag of this end. Not the peer's: the kernel opens the peer before it
    has linked the pair, and refuses (ENOTCONN). The peer is brought up
    with its alias, in a request of its own.
    """
    peer = (
        _ifinfo()
        + attr_str(IFLA_IFNAME, peer_name)
        + attr_u32(IFLA_NET_NS_FD, peer_netns_fd)
        + _link_attrs(group=group, mtu=mtu, mac=peer_mac)
    )
    info = attr_str(IFLA_INFO_KIND, "veth") + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer))
    body = _ifinfo(up=up) + attr_str(IFLA_IFNAME, name) + _link_attrs(group=group, mtu=mtu, mac=mac)
    return Request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body + attr(IFLA_LINKINFO, info))


def new_link(name: str, kind: str, data: bytes, *, group: int, link: int = 0, mtu: int = 0) -> Request:
    """Create a link of ``kind`` with its kind-specific attributes ``data`` (already encoded)."""
    info = attr_str(IFLA_INFO_KIND, kind) + (attr(IFLA_INFO_DATA, data) if data else b"")
    body = _ifinfo() + attr_str(IFLA_IFNAME, name) + _link_attrs(group=group, mtu=mtu)
    if link:
        body += attr_u32(IFLA_LINK, link)
    return Request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body + attr(IFLA_LINKINFO, info))


def set_link(
    index: int,
    *,
    name: str | None = None,
    up: bool | None = None,
    group: int | None = None,
    mtu: int = 0,
    mac: str | None = None,
    alias: str | None = None,
    netns_fd: int | None = None,
) -> Request:
    """Change settings of link ``index``; only what is given changes.

    The kernel refuses to rename a link that is up, and applies the up flag
    last: rename a running link in two requests (down first).
    """
    body = _ifinfo(index, up)
    if name is not None:
        body += attr_str(IFLA_IFNAME, name)
    body += _link_attrs(group=group, mtu=mtu, mac=mac, alias=alias)
    if netns_fd is not None:
        body += attr_u32(IFLA_NET_NS_FD, netns_fd)
    return Request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, body)


def get_link(name: str) -> Request:
    """Ask for one link by name (the answer carries its index)."""
    body = _ifinfo() + attr_str(IFLA_IFNAME, name) + attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
    return Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, body)


def get_link_by_index(index: int) -> Request:
    return Request(
        RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, _ifinfo(index) + attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
    )


def del_link(index: int) -> Request:
    return Request(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, _ifinfo(index))


def del_group(group: int) -> Request:
    """Delete every link of device group ``group`` in one request (and one wait of the kernel)."""
    return Request(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, _ifinfo() + attr_u32(IFLA_GROUP, group))


def link_index(reply: bytes) -> int:
    """The index of the link a RTM_NEWLINK answer describes (the body, without its header)."""
    return int(_IFINFOMSG.unpack_from(reply)[2])


def link_index_group(reply: bytes) -> tuple[int, int]:
    """Index and device group of the link a RTM_NEWLINK answer describes."""
    group = parse_attrs(reply, _IFINFOMSG.size).get(IFLA_GROUP)
    return link_index(reply), _U32.unpack(group)[0] if group else 0


# -- addresses, routes, neighbours -----------------------------------------


def _address(msg_type: int, flags: int, index: int, address: IPInterface) -> Request:
    raw = address.ip.packed
    body = _IFADDRMSG.pack(_family(address), address.network.prefixlen, 0, 0, index)
    return Request(msg_type, flags, body + attr(IFA_LOCAL, raw) + attr(IFA_ADDRESS, raw))


def replace_address(index: int, address: IPInterface) -> Request:
    return _address(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, index, address)


def del_address(index: int, address: IPInterface) -> Request:
    return _address(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, index, address)


def replace_route(
    dst: IPNetwork, *, oif: int, via: IPAddress | None, protocol: int, table: int = RT_TABLE_MAIN
) -> Request:
    """A unicast route: scope link out of ``oif`` without a gateway, universe with one.

    ``oif`` 0 with a gateway lets the kernel pick the link that reaches it.
    """
    scope = RT_SCOPE_LINK if via is None else RT_SCOPE_UNIVERSE
    body = _RTMSG.pack(_family(dst), dst.prefixlen, 0, 0, min(table, 255), protocol, scope, RTN_UNICAST, 0)
    body += attr_u32(RTA_TABLE, table) + attr(RTA_DST, dst.network_address.packed)
    if oif:
        body += attr_u32(RTA_OIF, oif)
    if via is not None:
        body += attr(RTA_GATEWAY, via.packed)
    return Request(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, body)


def del_route(dst: IPNetwork, *, protocol: int, table: int = RT_TABLE_MAIN) -> Request:
    """Delete the route to ``dst`` of ``protocol`` whatever its scope and next hop."""
    body = _RTMSG.pack(_family(dst), dst.prefixlen, 0, 0, min(table, 255), protocol, RT_SCOPE_NOWHERE, 0, 0)
    body += attr_u32(RTA_TABLE, table) + attr(RTA_DST, dst.network_address.packed)
    return Request(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, body)


def replace_neighbour(index: int, ip: IPAddress, mac: str, *, state: int, family: int = 0, flags: int = 0) -> Request:
    """A neighbour entry ``ip`` → ``mac`` on link ``index`` (``family`` AF_BRIDGE for an FDB entry)."""
    body = _NDMSG.pack(family or _family(ip), index, state, flags, 0)
    body += attr(NDA_DST, ip.packed) + attr(NDA_LLADDR, mac_bytes(mac))
    return Request(RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, body)


def del_neighbour(index: int, ip: IPAddress) -> Request:
    body = _NDMSG.pack(_family(ip), index, 0, 0, 0) + attr(NDA_DST, ip.packed)
    return Request(RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK, body)


def replace_fdb(index: int, mac: str, dst: IPAddress, *, state: int) -> Request:
    """A forwarding entry of the device itself (``bridge fdb replace … self``): frames for ``mac`` go to ``dst``."""
    body = _NDMSG.pack(socket.AF_BRIDGE, index, state, NTF_SELF, 0)
    body += attr(NDA_LLADDR, mac_bytes(mac)) + attr(NDA_DST, dst.packed)
    return Request(RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, body)


def del_fdb(index: int, mac: str, dst: IPAddress) -> Request:
    body = _NDMSG.pack(socket.AF_BRIDGE, index, 0, NTF_SELF, 0)
    body += attr(NDA_LLADDR, mac_bytes(mac)) + attr(NDA_DST, dst.packed)
    return Request(RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK, body)


# -- VXLAN ------------------------------------------------------------------


def vxlan_data(vni: int, local: IPAddress, port: int, *, learning: bool = False) -> bytes:
    """The kind-specific attributes of a VXLAN device (``new_link(…, "vxlan", …)``)."""
    out = attr_u32(IFLA_VXLAN_ID, vni)
    out += attr(IFLA_VXLAN_LOCAL if local.version == 4 else IFLA_VXLAN_LOCAL6, local.packed)
    out += attr(IFLA_VXLAN_PORT, struct.pack("!H", port))  # network byte order, unlike the rest
    return out + attr(IFLA_VXLAN_LEARNING, bytes([1 if learning else 0]))


def vxlan_info(reply: bytes) -> tuple[int, IPAddress | None, int] | None:
    """VNI, local address and UDP port of the VXLAN device a RTM_NEWLINK answer describes; None if it is none."""
    linkinfo = parse_attrs(reply, _IFINFOMSG.size).get(IFLA_LINKINFO)
    if linkinfo is None:
        return None
    info = parse_attrs(linkinfo, 0)
    if info.get(IFLA_INFO_KIND, b"").rstrip(b"\0") != b"vxlan":
        return None
    data = parse_attrs(info.get(IFLA_INFO_DATA, b""), 0)
    vni = _U32.unpack(data[IFLA_VXLAN_ID])[0] if IFLA_VXLAN_ID in data else 0
    raw = data.get(IFLA_VXLAN_LOCAL) or data.get(IFLA_VXLAN_LOCAL6)
    local = ipaddress.ip_address(raw) if raw else None
    port = struct.unpack("!H", data[IFLA_VXLAN_PORT])[0] if IFLA_VXLAN_PORT in data else 0
    return vni, local, port
