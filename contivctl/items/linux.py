"""Linux network objects as keyed values: what the Linux driver can make.

Key scheme (``<ns>`` is the namespace path, or ``host`` for the agent's own
namespace; paths contain ``/``, names and addresses never do, so keys stay
unambiguous when read from the right):

- ``linux/veth/<ns>/<name>``                a veth pair, named by its vswitch-side end
- ``linux/tap/<ns>/<ifname>``               the kernel side of a VPP TAP, moved into ``<ns>``
- ``linux/address/<ns>/<ifname>/<cidr>``    an address on a link
- ``linux/route/<ns>/<dst>``                a route in the main table
- ``linux/neighbour/<ns>/<ifname>/<ip>``    a permanent neighbour (ARP/NDP) entry
- ``linux/link/<ns>/<name>``                a link another item makes (VPP's host TAP), adopted

Addresses, routes and neighbours name the key of the item that makes their
link (``link``) so they wait for it and go away before it does.
"""

from __future__ import annotations

import zlib

import attrs

from contivctl.iptypes import IPAddress, IPInterface, IPNetwork
from contivctl.reconcile.item import Dependency

#: The agent's own network namespace.
HOST_NS = ""
#: Marks links the agent made: their alias is this prefix plus the item key,
#: optionally followed by ALIAS_NOTE and a note of the maker's.
ALIAS_PREFIX = "contiv:"
ALIAS_NOTE = "#"
#: Device group of the links the agent creates. Unlike the alias, it is set in
#: the very request that creates a link, so a link whose configuration was cut
#: short (the agent killed in between) is still known to be the agent's.
#: The low 24 bits name the agent (see link_group), so two agents sharing a
#: namespace (several nodes on one machine) never take each other's links.
LINK_GROUP = 0x636E7476
_GROUP_BASE = 0x63000000


def link_group(scope: str) -> int:
    """The device group of the links made by the agent of ``scope`` (its node name)."""
    return _GROUP_BASE | (zlib.crc32(scope.encode()) & 0xFFFFFF) if scope else LINK_GROUP


def ns_label(netns: str) -> str:
    return netns or "host"


@attrs.frozen
class Veth:
    """A veth pair whose peer is created directly inside another namespace (a pod's)."""

    name: str
    peer_name: str
    peer_netns: str
    netns: str = HOST_NS
    mtu: int = 0
    #: MAC of the peer end (the pod side); None lets the kernel choose.
    peer_mac: str | None = None
    #: False turns rx/tx checksum offload off on both ends.
    checksum_offload: bool = True
    #: Both ends administratively up; a retrieved pair with an end down is not equivalent.
    up: bool = True
    #: MAC of this (vswitch-side) end; None lets the kernel choose. The kernel
    #: dataplane sets it, because the pod's permanent ARP entry names it.
    mac: str | None = None

    @property
    def key(self) -> str:
        return veth_key(self.netns, self.name)

    def deps(self) -> tuple[Dependency, ...]:
        return ()


def veth_key(netns: str, name: str) -> str:
    return f"linux/veth/{ns_label(netns)}/{name}"


@attrs.frozen
class TapPodSide:
    """The kernel end of a VPP TAP: found by the name VPP gave it, moved and renamed."""

    temp_name: str
    netns: str
    ifname: str
    #: key of the VPP TAP interface item that creates the kernel device
    vpp_tap: str
    mtu: int = 0
    mac: str | None = None
    up: bool = True
    #: False: rx/tx checksum offload off on the device (TCPChecksumOffloadDisabled)
    checksum_offload: bool = True

    @property
    def key(self) -> str:
        return tap_key(self.netns, self.ifname)

    def deps(self) -> tuple[Dependency, ...]:
        return (Dependency.on(self.vpp_tap),)


def tap_key(netns: str, ifname: str) -> str:
    return f"linux/tap/{ns_label(netns)}/{ifname}"


@attrs.frozen
class Address:
    netns: str
    ifname: str
    address: IPInterface
    link: str

    @property
    def key(self) -> str:
        return f"linux/address/{ns_label(self.netns)}/{self.ifname}/{self.address}"

    def deps(self) -> tuple[Dependency, ...]:
        return (Dependency.on(self.link),)


@attrs.frozen
class Route:
    """A main-table route out of ``dev``: scope link when ``via`` is None, else via a gateway."""

    netns: str
    dst: IPNetwork
    dev: str
    link: str
    via: IPAddress | None = None
    #: further keys that must exist first (e.g. the link route to the gateway)
    requires: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return route_key(self.netns, self.dst)

    def deps(self) -> tuple[Dependency, ...]:
        return (Dependency.on(self.link), *(Dependency.on(k) for k in self.requires))


def route_key(netns: str, dst: IPNetwork) -> str:
    return f"linux/route/{ns_label(netns)}/{dst}"


@attrs.frozen
class Neighbour:
    """A permanent neighbour entry, so the first packet needs no ARP/NDP round trip."""

    netns: str
    ifname: str
    ip: IPAddress
    mac: str
    link: str

    @property
    def key(self) -> str:
        return f"linux/neighbour/{ns_label(self.netns)}/{self.ifname}/{self.ip}"

    def deps(self) -> tuple[Dependency, ...]:
        return (Dependency.on(self.link),)


@attrs.frozen
class AdoptedLink:
    """A link someone else creates where it stays (the host end of VPP's interconnect TAP).

    Adopting it (our alias on it) is what makes the addresses and routes on
    it ours to find again after a restart; deleting it only takes the alias
    and our settings off, the maker removes the device.
    """

    netns: str
    name: str
    #: key of the item whose creation makes the device
    maker: str
    mtu: int = 0
    up: bool = True
    #: False: rx/tx checksum offload off on the device (TCPChecksumOffloadDisabled)
    checksum_offload: bool = True

    @property
    def key(self) -> str:
        return adopted_link_key(self.netns, self.name)

    def deps(self) -> tuple[Dependency, ...]:
        return (Dependency.on(self.maker),) if self.maker else ()


def adopted_link_key(netns: str, name: str) -> str:
    return f"linux/link/{ns_label(netns)}/{name}"


LinuxItem = Veth | TapPodSide | Address | Route | Neighbour | AdoptedLink
