"""One read of every namespace the driver cares about, shared by all Linux descriptors.

A resync asks each descriptor to ``retrieve``; the Linux ones would each
walk the same namespaces. Instead the first of them dumps links, addresses,
routes and neighbours of every namespace once, and the others of the same
round take that snapshot. Only objects on links the agent made (their alias
starts with ``contiv:``) are kept: nothing else is ours to judge.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import attrs

from contivctl.dataplane.linux import channel, rtnl
from contivctl.dataplane.linux.channel import Channel, Channels
from contivctl.dataplane.linux.netns import netns_exists
from contivctl.dataplane.linux.reaper import Reaper
from contivctl.errors import NetnsNotFound
from contivctl.iptypes import IPAddress, IPInterface, IPNetwork
from contivctl.items.linux import ALIAS_NOTE, ALIAS_PREFIX, HOST_NS, LINK_GROUP

T = TypeVar("T")

#: Routes the agent adds carry this protocol number, so they are told apart from
#: routes the kernel, DHCP or an administrator added.
RTPROT_CONTIV = 199
RT_TABLE_MAIN = 254
NUD_PERMANENT = 0x80
IFF_UP = 0x1
#: namespaces read per job: other netlink work gets its turn in between
READ_CHUNK = 32


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
    group: int = 0

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

    _by_index: dict[int, Link] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # Every address, route and neighbour of a namespace looks up its link:
        # by index, not a scan of hundreds of links each time.
        object.__setattr__(self, "_by_index", {lk.index: lk for lk in self.links})

    def link(self, index: int) -> Link | None:
        return self._by_index.get(index)

    def owned_link(self, index: int) -> Link | None:
        """The link with ``index`` if the agent made it (what sits on it is then the agent's too)."""
        link = self._by_index.get(index)
        return link if link is not None and link.owner_key is not None else None

    def on_owned_links(self, entries: Iterable[tuple[int, T]]) -> Iterator[tuple[Link, str, T]]:
        """The entries (by ifindex) that sit on links the agent made: each with its link and that link's item key."""
        for index, entry in entries:
            link = self._by_index.get(index)
            if link is not None and link.owner_key is not None:
                yield link, link.owner_key, entry


@attrs.frozen
class Snapshot:
    namespaces: dict[str, NamespaceDump]

    def owned_links(self) -> Iterable[Link]:
        for dump in self.namespaces.values():
            yield from (lk for lk in dump.links if lk.owner_key is not None)

    def links_of(self, prefix: str) -> Iterator[tuple[str, Link]]:
        """The agent's links made by items under ``prefix``, with the key of the item that made each."""
        for link in self.owned_links():
            key = link.owner_key
            if key is not None and key.startswith(prefix):
                yield key, link


def _read_namespace(here: Channel, group: int) -> NamespaceDump:
    """Dump one namespace (a job's part).

    Only links in this agent's device ``group`` keep their alias: a link
    another agent marked is foreign here, and so is all that sits on it.
    """
    netns, dump = here.netns, here.dump
    links = [
        Link(
            netns=netns,
            index=raw.index,
            name=raw.name,
            alias=raw.alias if raw.group == group else "",
            mtu=raw.mtu,
            mac=raw.mac,
            up=bool(raw.flags & IFF_UP),
            peer_index=raw.peer_index,
            group=raw.group,
        )
        for raw in rtnl.links(dump)
    ]
    ours = {lk.index for lk in links if lk.owner_key is not None}
    if not ours:
        return NamespaceDump(netns, tuple(links), (), (), ())
    addresses = tuple(
        (a.index, a.address)
        for a in rtnl.addresses(dump, indexes=ours)
        # the kernel gives every IPv6-capable link an fe80:: address of its own
        if not (a.address.version == 6 and a.address.is_link_local)
    )
    routes = tuple(
        RouteEntry(netns=netns, dst=r.dst, oif=r.oif, via=r.gateway)
        for r in rtnl.routes(dump, table=RT_TABLE_MAIN, protocol=RTPROT_CONTIV)
    )
    neighbours = tuple(
        NeighbourEntry(netns=netns, ifindex=n.ifindex, ip=n.ip, mac=n.mac)
        for n in rtnl.neighbours(dump, indexes=ours, state=NUD_PERMANENT)
    )
    return NamespaceDump(netns, tuple(links), addresses, routes, neighbours)


class SnapshotSource:
    """Takes one snapshot per retrieve round and lets every Linux descriptor read it.

    A retrieve round is named by the context the reconciler hands to every
    descriptor's ``retrieve`` in it: descriptors of the same round share
    what was read, and a new round (the next resync, a CHECK's verify)
    always reads the kernel afresh, however soon it follows. Without a
    round, a snapshot is reused only while it is fresh (``max_age``
    seconds). Any write by a Linux descriptor invalidates it.

    The driver cannot list pod namespaces by itself (they are files
    anywhere, or ``/proc/PID/ns/net``): each descriptor names the
    namespaces its expected items are in (desired, or last seen), and a
    namespace not yet read in
    the round is read then. The agent's own namespace and ``always`` (the
    host stack's or the vswitch's namespace, when not the agent's own) are
    read in every round, so what is left there is found even when nothing
    there is desired any more.
    """

    def __init__(self, always: Iterable[str] = (), max_age: float = 1.0, group: int = LINK_GROUP) -> None:
        self._always = frozenset({HOST_NS, *always})
        #: device group this agent gives the links it makes or adopts
        self.group = group
        #: deletes the links the agent retires, in batches
        self.reaper = Reaper(group)
        self._max_age = max_age
        self._reads: list[asyncio.Future[list[NamespaceDump]]] = []
        self._covered: set[str] = set()
        self._taken_at = 0.0
        self._round: object | None = None

    def invalidate(self) -> None:
        self._reads = []
        self._covered = set()

    def let_go(self, netns: str) -> None:
        """Close the sockets kept open into ``netns`` soon (without holding up the caller).

        An open netlink socket keeps a deleted namespace alive in the
        kernel: a pod's namespace must not outlive the pod because of us.
        A later request there simply opens a new one.
        """
        if not netns or netns in self._always:
            return
        channel.release(netns)

    async def get(self, context: object | None = None, netns: Iterable[str] = ()) -> Snapshot:
        """What the namespaces ``netns`` (and the always-read ones) hold, read in this round."""
        now = time.monotonic()
        if not self._reads or now - self._taken_at > self._max_age or context is not self._round:
            self.invalidate()
            self._taken_at = now
            self._round = context
        missing = (self._always | {p for p in netns if p}) - self._covered
        if missing:
            self._covered |= missing
            self._reads.append(asyncio.ensure_future(self._take(sorted(missing))))
        found: dict[str, NamespaceDump] = {}
        for dumps in await asyncio.gather(*(asyncio.shield(r) for r in self._reads)):
            found.update((dump.netns, dump) for dump in dumps)
        return Snapshot(found)

    async def _take(self, netns: list[str]) -> list[NamespaceDump]:
        paths = [p for p in netns if netns_exists(p)]
        chunks = [paths[i : i + READ_CHUNK] for i in range(0, len(paths), READ_CHUNK)]
        group = self.group

        def read(chunk: list[str]) -> Callable[[Channels], list[NamespaceDump]]:
            def job(channels: Channels) -> list[NamespaceDump]:
                out = []
                for path in chunk:
                    try:
                        out.append(_read_namespace(channels(path), group))
                    except NetnsNotFound:
                        continue  # removed while we were reading it: nothing of ours is left there
                return out

            return job

        out: list[NamespaceDump] = []
        for dumps in await asyncio.gather(*(channel.run(read(chunk)) for chunk in chunks)):
            out.extend(dumps)
        return out
