"""One read of every namespace the driver cares about, shared by all Linux descriptors.

A resync asks each descriptor to ``retrieve``; the Linux ones would each
walk the same namespaces. Instead the first of them dumps links, addresses,
routes and neighbours of every namespace once, and the others of the same
round take that snapshot. Only objects on links the agent made (their alias
starts with ``contiv:``) are kept: nothing else is ours to judge.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable
from typing import Any

import attrs

from contivctl.dataplane.linux.netns import iproute, netns_exists
from contivctl.errors import NetnsNotFound
from contivctl.items.linux import ALIAS_NOTE, ALIAS_PREFIX, HOST_NS, IPAddress, IPInterface, IPNetwork

#: Routes the agent adds carry this protocol number, so they are told apart from
#: routes the kernel, DHCP or an administrator added.
RTPROT_CONTIV = 199
RT_TABLE_MAIN = 254
NUD_PERMANENT = 0x80
IFF_UP = 0x1


@attrs.frozen
class Link:
    netns: str
    index: int
    name: str
    alias: str
    mtu: int
    mac: str
    up: bool
    #: ifindex of the peer for veth (in the peer's namespace)
    peer_index: int

    @property
    def owner_key(self) -> str | None:
        """The key of the item that made this link, if the agent made it."""
        if not self.alias.startswith(ALIAS_PREFIX):
            return None
        return self.alias[len(ALIAS_PREFIX) :].split(ALIAS_NOTE, 1)[0]

    @property
    def note(self) -> str:
        """What the maker wrote down beside its key (e.g. a name to restore on delete)."""
        rest = self.alias[len(ALIAS_PREFIX) :]
        return rest.split(ALIAS_NOTE, 1)[1] if ALIAS_NOTE in rest else ""


@attrs.frozen
class RouteEntry:
    netns: str
    dst: IPNetwork
    oif: int
    via: IPAddress | None


@attrs.frozen
class NeighbourEntry:
    netns: str
    ifindex: int
    ip: IPAddress
    mac: str


@attrs.frozen
class NamespaceDump:
    netns: str
    links: tuple[Link, ...]
    addresses: tuple[tuple[int, IPInterface], ...]
    routes: tuple[RouteEntry, ...]
    neighbours: tuple[NeighbourEntry, ...]

    def link(self, index: int) -> Link | None:
        return next((lk for lk in self.links if lk.index == index), None)


@attrs.frozen
class Snapshot:
    namespaces: dict[str, NamespaceDump]

    def owned_links(self) -> Iterable[Link]:
        for dump in self.namespaces.values():
            yield from (lk for lk in dump.links if lk.owner_key is not None)


async def dump_namespace(netns: str) -> NamespaceDump:
    async with iproute(netns) as ipr:
        links = []
        async for msg in await ipr.link("dump"):
            alias = msg.get("ifalias") or ""
            links.append(
                Link(
                    netns=netns,
                    index=msg["index"],
                    name=msg.get("ifname") or "",
                    alias=alias,
                    mtu=msg.get("mtu") or 0,
                    mac=(msg.get("address") or "").lower(),
                    up=bool(msg["flags"] & IFF_UP),
                    peer_index=msg.get("link") or 0,
                )
            )
        ours = {lk.index for lk in links if lk.owner_key is not None}
        addresses: list[tuple[int, IPInterface]] = []
        routes: list[RouteEntry] = []
        neighbours: list[NeighbourEntry] = []
        if ours:
            async for msg in await ipr.addr("dump"):
                if msg["index"] not in ours:
                    continue
                address = ipaddress.ip_interface(f"{msg.get('address')}/{msg['prefixlen']}")
                # The kernel gives every IPv6-capable link an fe80:: address of its own.
                if not (address.version == 6 and address.is_link_local):
                    addresses.append((msg["index"], address))
            for family in (socket.AF_INET, socket.AF_INET6):
                async for msg in await ipr.route("dump", family=family, table=RT_TABLE_MAIN):
                    if msg["proto"] != RTPROT_CONTIV:
                        continue
                    dst = msg.get("dst") or ("0.0.0.0" if family == socket.AF_INET else "::")
                    gw = msg.get("gateway")
                    routes.append(
                        RouteEntry(
                            netns=netns,
                            dst=ipaddress.ip_network(f"{dst}/{msg['dst_len']}"),
                            oif=msg.get("oif") or 0,
                            via=ipaddress.ip_address(gw) if gw else None,
                        )
                    )
            async for msg in await ipr.neigh("dump"):
                if msg["ifindex"] in ours and msg["state"] & NUD_PERMANENT and msg.get("dst"):
                    neighbours.append(
                        NeighbourEntry(
                            netns=netns,
                            ifindex=msg["ifindex"],
                            ip=ipaddress.ip_address(msg.get("dst")),
                            mac=(msg.get("lladdr") or "").lower(),
                        )
                    )
    return NamespaceDump(netns, tuple(links), tuple(addresses), tuple(routes), tuple(neighbours))


class Namespaces:
    """The namespaces the driver reads on retrieve, besides its own.

    The driver cannot list pod namespaces by itself (they are files anywhere,
    or ``/proc/PID/ns/net``); the agent tells it which ones its desired state
    names before each resync.
    """

    def __init__(self) -> None:
        self._paths: set[str] = set()

    def set(self, paths: Iterable[str]) -> None:
        self._paths = {p for p in paths if p}

    def add(self, path: str) -> None:
        if path:
            self._paths.add(path)

    def discard(self, path: str) -> None:
        self._paths.discard(path)

    def __iter__(self) -> Any:
        return iter(sorted(self._paths))


class SnapshotSource:
    """Takes one snapshot per retrieve round and lets every Linux descriptor read it.

    A retrieve round is named by the context the reconciler hands to every
    descriptor's ``retrieve`` in it: descriptors of the same round share one
    snapshot, and a new round (the next resync, a CHECK's verify) always
    reads the kernel afresh, however soon it follows. Without a round, a
    snapshot is reused only while it is fresh (``max_age`` seconds). Any
    write by a Linux descriptor invalidates it.
    """

    def __init__(self, namespaces: Namespaces, max_age: float = 1.0) -> None:
        self.namespaces = namespaces
        self._max_age = max_age
        self._pending: asyncio.Future[Snapshot] | None = None
        self._taken_at = 0.0
        self._round: object | None = None

    def invalidate(self) -> None:
        self._pending = None

    async def get(self, context: object | None = None) -> Snapshot:
        now = time.monotonic()
        stale = self._pending is None or now - self._taken_at > self._max_age
        if stale or context is not self._round:
            self._pending = asyncio.ensure_future(self._take())
            self._taken_at = now
            self._round = context
        assert self._pending is not None
        return await asyncio.shield(self._pending)

    async def _take(self) -> Snapshot:
        paths = [HOST_NS, *(p for p in self.namespaces if netns_exists(p))]
        results = await asyncio.gather(*(dump_namespace(p) for p in paths), return_exceptions=True)
        found: dict[str, NamespaceDump] = {}
        for path, result in zip(paths, results, strict=True):
            if isinstance(result, NetnsNotFound):
                continue  # removed while we were reading it: nothing of ours is left there
            if isinstance(result, BaseException):
                raise result
            found[path] = result
        return Snapshot(found)
