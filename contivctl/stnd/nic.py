"""Stealing a NIC from the kernel and giving it back exactly as it was.

Stealing records the link's addresses and routes as the kernel dumps them
— the raw rtnetlink messages, every attribute kept — and removes them, then
sets the link down, so that VPP can take the device (DPDK skips a NIC that
is up in Linux). Giving it back replays those messages: addresses with their
flags, label, broadcast and lifetimes, routes with their table, protocol,
scope, metric, preferred source and metrics. That is what "exactly" takes; a
list of prefixes and next hops (all the protocol reports) would lose most of
it.

Both IPv4 and IPv6 are recorded and restored; the protocol and VPP only
ever see the IPv4 part (``NicRecord.stolen``). Routes of the ``local``
table are the kernel's own, derived from the addresses, and come back with
them. The link's index may change when a PCI device is bound to its driver
again: replayed messages name the link found by its name then.

Everything here runs as a job on the Linux driver's worker thread
(``channel.run``), in the daemon's own network namespace.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from collections.abc import Iterable
from typing import Any

import attrs

from contivctl.dataplane.linux import nlmsg
from contivctl.dataplane.linux.channel import Channel, Channels
from contivctl.dataplane.linux.netns import driver_info_here
from contivctl.dataplane.linux.rtnl import RTM_GETADDR, RTM_GETROUTE, parse_attrs
from contivctl.errors import NetlinkFailed, STNError
from contivctl.model import StolenInterface, StolenRoute

_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTNEXTHOP = struct.Struct("=HBBi")
_U32 = struct.Struct("=I")

IFF_UP, IFF_LOWER_UP = 0x1, 0x10000
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_MULTIPATH, RTA_TABLE = 1, 4, 5, 6, 9, 15
RT_TABLE_MAIN, RT_TABLE_LOCAL = 254, 255
RTN_UNICAST = 1
RTNH_F_ONLINK = 0x4

#: attributes an address is added with again: address, local, label, broadcast, lifetimes, flags,
#: route priority, protocol (the dump's others — its statistics — are the kernel's to fill in)
_ADDRESS_ATTRS = frozenset({1, 2, 3, 4, 6, 8, 9, 11})
#: attributes a route is added with again: dst, src, oif, gateway, priority, prefsrc, metrics,
#: multipath, flow, table, via, pref, encap type, encap (not its cache info or expiry)
_ROUTE_ATTRS = frozenset({1, 2, 4, 5, 6, 7, 8, 9, 11, 15, 18, 20, 21, 22})
#: identify a route for a delete: dst, oif, gateway, priority, table
_ROUTE_KEY_ATTRS = frozenset({1, 4, 5, 6, 15})


def _attrs(*pairs: tuple[int, bytes]) -> bytes:
    return b"".join(nlmsg.attr(kind, payload) for kind, payload in pairs)


def _ordered_attrs(body: bytes, offset: int) -> list[tuple[int, bytes]]:
    """The attributes of a message in their order (``parse_attrs`` keeps one per kind, unordered)."""
    out = []
    end = len(body)
    while offset + 4 <= end:
        length, kind = struct.unpack_from("=HH", body, offset)
        if length < 4:
            break
        out.append((kind, body[offset + 4 : offset + length]))
        offset += (length + 3) & ~3
    return out


@attrs.frozen
class RouteMsg:
    body: bytes

    @property
    def header(self) -> tuple[int, ...]:
        return tuple(_RTMSG.unpack_from(self.body))

    @property
    def family(self) -> int:
        return int(self.header[0])

    @property
    def attributes(self) -> dict[int, bytes]:
        return parse_attrs(self.body, _RTMSG.size)

    @property
    def table(self) -> int:
        a = self.attributes
        return _U32.unpack(a[RTA_TABLE])[0] if RTA_TABLE in a else int(self.header[4])

    def oifs(self) -> set[int]:
        a = self.attributes
        out = {_U32.unpack(a[RTA_OIF])[0]} if RTA_OIF in a else set()
        mp = a.get(RTA_MULTIPATH, b"")
        offset = 0
        while offset + _RTNEXTHOP.size <= len(mp):
            length, _flags, _hops, ifindex = _RTNEXTHOP.unpack_from(mp, offset)
            if length < _RTNEXTHOP.size:
                break
            out.add(ifindex)
            offset += (length + 3) & ~3
        return out

    def identity(self) -> tuple[Any, ...]:
        """What tells this route from another of the same table (for checking a replay that met EEXIST)."""
        a = self.attributes
        return (self.family, self.header[1], self.table, a.get(RTA_DST, b""), a.get(RTA_PRIORITY, b""))

    def _rebuilt(self, keep: frozenset[int], index: int, old_index: int) -> bytes:
        family, dst_len, src_len, tos, table, protocol, scope, rtype, flags = self.header
        header = _RTMSG.pack(family, dst_len, src_len, tos, table, protocol, scope, rtype, flags & RTNH_F_ONLINK)
        out = []
        for kind, payload in _ordered_attrs(self.body, _RTMSG.size):
            if kind not in keep:
                continue
            if kind == RTA_OIF and _U32.unpack(payload)[0] == old_index:
                payload = _U32.pack(index)
            elif kind == RTA_MULTIPATH:
                payload = _renumbered_hops(payload, old_index, index)
            out.append((kind, payload))
        return header + _attrs(*out)

    def add_request(self, index: int, old_index: int) -> nlmsg.Request:
        flags = nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_ACK | nlmsg.NLM_F_CREATE | nlmsg.NLM_F_EXCL
        return nlmsg.Request(nlmsg.RTM_NEWROUTE, flags, self._rebuilt(_ROUTE_ATTRS, index, old_index))

    def delete_request(self) -> nlmsg.Request:
        return nlmsg.Request(
            nlmsg.RTM_DELROUTE, nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_ACK, self._rebuilt(_ROUTE_KEY_ATTRS, 0, -1)
        )

    def stolen(self) -> StolenRoute | None:
        """The route as the protocol reports it: IPv4 unicast routes of the main table only (the original's)."""
        family, dst_len, _src, _tos, _table, _proto, _scope, rtype, _flags = self.header
        if family != socket.AF_INET or self.table != RT_TABLE_MAIN or rtype != RTN_UNICAST:
            return None
        a = self.attributes
        dst = None
        if dst_len:
            dst = ipaddress.IPv4Network((a.get(RTA_DST, bytes(4)), dst_len), strict=False)
        via = ipaddress.IPv4Address(a[RTA_GATEWAY]) if RTA_GATEWAY in a else None
        return StolenRoute(dst=dst, via=via)


def _renumbered_hops(payload: bytes, old: int, new: int) -> bytes:
    out = bytearray(payload)
    offset = 0
    while offset + _RTNEXTHOP.size <= len(out):
        length, flags, hops, ifindex = _RTNEXTHOP.unpack_from(out, offset)
        if length < _RTNEXTHOP.size:
            break
        if ifindex == old:
            _RTNEXTHOP.pack_into(out, offset, length, flags, hops, new)
        offset += (length + 3) & ~3
    return bytes(out)


@attrs.frozen
class AddressMsg:
    body: bytes

    @property
    def header(self) -> tuple[int, ...]:
        return tuple(_IFADDRMSG.unpack_from(self.body))

    def _rebuilt(self, keep: frozenset[int], index: int) -> bytes:
        family, prefixlen, flags, scope, _index = self.header
        pairs = [(k, p) for k, p in _ordered_attrs(self.body, _IFADDRMSG.size) if k in keep]
        return _IFADDRMSG.pack(family, prefixlen, flags, scope, index) + _attrs(*pairs)

    def add_request(self, index: int) -> nlmsg.Request:
        flags = nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_ACK | nlmsg.NLM_F_CREATE | nlmsg.NLM_F_EXCL
        return nlmsg.Request(nlmsg.RTM_NEWADDR, flags, self._rebuilt(_ADDRESS_ATTRS, index))

    def delete_request(self, index: int) -> nlmsg.Request:
        family, prefixlen, _flags, scope, _index = self.header
        pairs = [(k, p) for k, p in _ordered_attrs(self.body, _IFADDRMSG.size) if k in (IFA_ADDRESS, IFA_LOCAL)]
        body = _IFADDRMSG.pack(family, prefixlen, 0, scope, index) + _attrs(*pairs)
        return nlmsg.Request(nlmsg.RTM_DELADDR, nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_ACK, body)

    def ipv4(self) -> ipaddress.IPv4Interface | None:
        family, prefixlen, _flags, _scope, _index = self.header
        if family != socket.AF_INET:
            return None
        a = parse_attrs(self.body, _IFADDRMSG.size)
        raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS)
        return ipaddress.IPv4Interface((raw, prefixlen)) if raw else None

    def describe(self) -> str:
        prefixlen = self.header[1]
        a = parse_attrs(self.body, _IFADDRMSG.size)
        raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS) or b""
        return f"{ipaddress.ip_address(raw)}/{prefixlen}" if raw else "an address"


def _describe_route(r: RouteMsg) -> str:
    a = r.attributes
    family, dst_len = r.family, r.header[1]
    size = 4 if family == socket.AF_INET else 16
    dst = ipaddress.ip_network((a.get(RTA_DST, bytes(size)), dst_len), strict=False) if dst_len else "default"
    via = f" via {ipaddress.ip_address(a[RTA_GATEWAY])}" if RTA_GATEWAY in a else ""
    return f"route {dst}{via} (table {r.table})"


@attrs.frozen
class NicRecord:
    """One stolen NIC: what it was in Linux, to be given back."""

    name: str
    index: int
    #: administratively up when it was stolen
    up: bool
    #: its addresses come from a DHCP client: the release leaves them to it
    dhcp: bool
    kernel_driver: str
    #: "" for a device without a PCI address; else the driver to bind it to again
    pci_address: str
    pci_driver: str
    addresses: tuple[AddressMsg, ...]
    routes: tuple[RouteMsg, ...]

    def stolen(self) -> StolenInterface:
        return StolenInterface(
            name=self.name,
            addresses=tuple(a for m in self.addresses if (a := m.ipv4()) is not None),
            routes=tuple(r for m in self.routes if (r := m.stolen()) is not None),
            pci_address=self.pci_address,
            kernel_driver=self.kernel_driver,
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "index": self.index,
            "up": self.up,
            "dhcp": self.dhcp,
            "kernelDriver": self.kernel_driver,
            "pciAddress": self.pci_address,
            "pciDriver": self.pci_driver,
            "addresses": [m.body.hex() for m in self.addresses],
            "routes": [m.body.hex() for m in self.routes],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> NicRecord:
        return cls(
            name=str(data["name"]),
            index=int(data["index"]),
            up=bool(data["up"]),
            dhcp=bool(data["dhcp"]),
            kernel_driver=str(data.get("kernelDriver", "")),
            pci_address=str(data.get("pciAddress", "")),
            pci_driver=str(data.get("pciDriver", "")),
            addresses=tuple(AddressMsg(bytes.fromhex(h)) for h in data.get("addresses", ())),
            routes=tuple(RouteMsg(bytes.fromhex(h)) for h in data.get("routes", ())),
        )


# -- jobs (worker thread) ----------------------------------------------------------------


def link_flags(ch: Channel, name: str) -> tuple[int, int] | None:
    """Index and flags of link ``name``, None when there is no such link."""
    try:
        replies = ch.request(nlmsg.get_link(name), f"look up {name}")
    except NetlinkFailed as exc:
        if exc.code in (errno.ENODEV, errno.ENOENT):
            return None
        raise
    if not replies:
        return None
    _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(replies[0])
    return int(index), int(flags)


def _dump_addresses(ch: Channel, index: int) -> list[AddressMsg]:
    out = []
    for body in ch.dump(RTM_GETADDR, _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)):
        if _IFADDRMSG.unpack_from(body)[4] == index:
            out.append(AddressMsg(body))
    return out


def _dump_routes(ch: Channel, index: int | None = None) -> list[RouteMsg]:
    """Routes out of link ``index`` (every route with None), the ``local`` table left out."""
    out = []
    for body in ch.dump(RTM_GETROUTE, _RTMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0)):
        r = RouteMsg(body)
        if r.family not in (socket.AF_INET, socket.AF_INET6) or r.table == RT_TABLE_LOCAL:
            continue
        if index is None or index in r.oifs():
            out.append(r)
    return out


def _ignoring(ch: Channel, req: nlmsg.Request, what: str, *codes: int) -> bool:
    """Send ``req``; False when the kernel answered one of ``codes`` (already done)."""
    try:
        ch.request(req, what)
    except NetlinkFailed as exc:
        if exc.code in codes:
            return False
        raise
    return True


def steal(channels: Channels, name: str, dhcp: bool) -> NicRecord | None:
    """Record ``name``'s state and take it away from the kernel's IP stack; None when there is no such link.

    Raises STNError when the kernel refuses a step (what was done is undone first).
    """
    ch = channels("")
    found = link_flags(ch, name)
    if found is None:
        return None
    index, flags = found
    driver, bus = driver_info_here(name)
    record = NicRecord(
        name=name,
        index=index,
        up=bool(flags & IFF_UP),
        dhcp=dhcp,
        kernel_driver=driver,
        pci_address="",
        pci_driver="",
        addresses=tuple(_dump_addresses(ch, index)),
        routes=tuple(_dump_routes(ch, index)),
    )
    record = attrs.evolve(record, pci_address=bus)  # the caller checks and completes the PCI part
    try:
        for r in record.routes:
            _ignoring(ch, r.delete_request(), f"remove {_describe_route(r)} of {name}", errno.ESRCH)
        for a in record.addresses:
            _ignoring(ch, a.delete_request(index), f"remove {a.describe()} from {name}", errno.EADDRNOTAVAIL)
        ch.request(nlmsg.set_link(index, up=False), f"set {name} down")
    except NetlinkFailed as exc:
        problems = restore(channels, record, index)
        undone = "undone" if not problems else "not all undone: " + "; ".join(problems)
        raise STNError(f"cannot steal {name}: {exc} (what was done is {undone})") from None
    return record


def restore(channels: Channels, record: NicRecord, index: int) -> list[str]:
    """Put link state, addresses and routes back on link ``index``; what could not be, as problems."""
    ch = channels("")
    problems: list[str] = []
    name = record.name
    if record.up:
        try:
            ch.request(nlmsg.set_link(index, up=True), f"set {name} up")
        except NetlinkFailed as exc:
            problems.append(str(exc))
    if record.dhcp:
        return problems  # the DHCP client brings its lease back
    for a in record.addresses:
        try:
            _ignoring(ch, a.add_request(index), f"add {a.describe()} to {name}", errno.EEXIST)
        except NetlinkFailed as exc:
            problems.append(str(exc))
    problems += _restore_routes(ch, record.routes, index, record.index, name)
    return problems


def _restore_routes(ch: Channel, routes: Iterable[RouteMsg], index: int, old_index: int, name: str) -> list[str]:
    # A route's gateway must be reachable when it is added, possibly through
    # another restored route: add in rounds until a round adds nothing.
    pending = list(routes)
    failed: dict[RouteMsg, str] = {}
    while pending:
        left = []
        for r in pending:
            try:
                what = f"add {_describe_route(r)} to {name}"
                added = _ignoring(ch, r.add_request(index, old_index), what, errno.EEXIST)
            except NetlinkFailed as exc:
                failed[r] = str(exc)
                left.append(r)
                continue
            failed.pop(r, None)
            if not added and not _present(ch, r, index):
                failed[r] = f"{_describe_route(r)} of {name}: another route to the same destination is in the way"
        if len(left) == len(pending):
            break
        pending = left
    return list(failed.values())


def _present(ch: Channel, r: RouteMsg, index: int) -> bool:
    want = r.identity()
    return any(other.identity() == want for other in _dump_routes(ch, index))
