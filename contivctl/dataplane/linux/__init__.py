"""The Linux driver: descriptors for links, addresses, routes and neighbours in any namespace.

With the kernel dataplane (``kernel_descriptors``) also the kinds that let a
namespace play the vswitch: sysctls, a VXLAN device, FDB entries, L2 routes,
the SNAT table and the Services' tables. Which namespaces to read is learnt
from the items each descriptor is handed on retrieve (desired, or last
seen); which sysctls and tables are the agent's, from the assembly (the
renderers name them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contivctl.dataplane.linux.address import AddressDescriptor
from contivctl.dataplane.linux.fdb import FdbDescriptor
from contivctl.dataplane.linux.gwroute import GatewayRouteDescriptor
from contivctl.dataplane.linux.link import AdoptedLinkDescriptor
from contivctl.dataplane.linux.neighbour import NeighbourDescriptor
from contivctl.dataplane.linux.netns import netns_exists
from contivctl.dataplane.linux.nftables import SnatTableDescriptor
from contivctl.dataplane.linux.nftservices import ServiceRulesDescriptor, ServiceTableDescriptor
from contivctl.dataplane.linux.route import RouteDescriptor
from contivctl.dataplane.linux.snapshot import SnapshotSource
from contivctl.dataplane.linux.sysctl import SysctlDescriptor
from contivctl.dataplane.linux.tap import TapPodSideDescriptor
from contivctl.dataplane.linux.veth import VethDescriptor
from contivctl.dataplane.linux.vxlan import VxlanDescriptor
from contivctl.items.linux import link_group
from contivctl.reconcile.descriptor import Descriptor

_KINDS = (
    VethDescriptor,
    TapPodSideDescriptor,
    AddressDescriptor,
    RouteDescriptor,
    NeighbourDescriptor,
    AdoptedLinkDescriptor,
)


def linux_descriptors(scope: str = "", always: Iterable[str] = ()) -> list[Descriptor[Any]]:
    """One descriptor per Linux item kind, sharing one snapshot per retrieve round.

    ``scope`` (the node name) tells this agent's links from another agent's
    in the same namespace (docs/linux-driver.md); ``always`` are namespaces
    read on every resync besides the agent's own (the host stack's, when a
    test puts it elsewhere).
    """
    snapshots = SnapshotSource(always, group=link_group(scope))
    return [kind(snapshots) for kind in _KINDS]


def kernel_descriptors(
    vswitch_netns: str,
    *,
    sysctls: Iterable[str],
    nft_tables: Iterable[str],
    scope: str = "",
    service_tables: Iterable[str] = (),
) -> list[Descriptor[Any]]:
    """The Linux kinds plus those of the kernel dataplane, all sharing one snapshot.

    ``vswitch_netns`` ("" = the agent's own) is the namespace playing the
    vswitch; it is read on every resync even while no pod is wired.
    ``sysctls`` and ``nft_tables`` are the ones the agent sets there (and
    so reads back, and removes when no longer desired); ``service_tables``
    the nftables tables of Services (nftservices.py).
    """
    group = link_group(scope)
    snapshots = SnapshotSource((vswitch_netns,), group=group)
    return [
        *(kind(snapshots) for kind in _KINDS),
        VxlanDescriptor(snapshots),
        FdbDescriptor(snapshots),
        GatewayRouteDescriptor(vswitch_netns, group),
        SysctlDescriptor(vswitch_netns, tuple(sysctls)),
        SnatTableDescriptor(vswitch_netns, tuple(nft_tables)),
        ServiceTableDescriptor(vswitch_netns, tuple(service_tables)),
        ServiceRulesDescriptor(vswitch_netns, tuple(service_tables)),
    ]


__all__ = ["kernel_descriptors", "linux_descriptors", "netns_exists"]
