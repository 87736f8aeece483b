"""The Linux driver: descriptors for links, addresses, routes and neighbours in any namespace.

With the kernel dataplane (``kernel_descriptors``) also the kinds that let a
namespace play the vswitch: sysctls, a VXLAN device, FDB entries, L2 routes
and the SNAT table.
"""

from __future__ import annotations

from typing import Any

from contivctl.dataplane.linux.address import AddressDescriptor
from contivctl.dataplane.linux.fdb import FdbDescriptor
from contivctl.dataplane.linux.gwroute import GatewayRouteDescriptor
from contivctl.dataplane.linux.link import AdoptedLinkDescriptor
from contivctl.dataplane.linux.neighbour import NeighbourDescriptor
from contivctl.dataplane.linux.nftables import SnatTableDescriptor
from contivctl.dataplane.linux.route import RouteDescriptor
from contivctl.dataplane.linux.snapshot import Namespaces, SnapshotSource
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


def linux_descriptors(namespaces: Namespaces, scope: str = "") -> list[Descriptor[Any]]:
    """One descriptor per Linux item kind, sharing one snapshot per retrieve round.

    ``scope`` (the node name) tells this agent's links from another agent's
    in the same namespace (docs/linux-driver.md).
    """
    snapshots = SnapshotSource(namespaces, group=link_group(scope))
    return [kind(snapshots) for kind in _KINDS]


#: the sysctls the kernel dataplane sets in the vswitch namespace (and so reads on resync)
KERNEL_SYSCTLS = ("net.ipv4.ip_forward",)
#: the nftables tables the kernel dataplane owns in the vswitch namespace
KERNEL_NFT_TABLES = ("contiv",)


def kernel_descriptors(namespaces: Namespaces, vswitch_netns: str, scope: str = "") -> list[Descriptor[Any]]:
    """The Linux kinds plus those of the kernel dataplane, all sharing one snapshot.

    ``vswitch_netns`` ("" = the agent's own) is the namespace playing the
    vswitch; it is read on every resync even while no pod is wired.
    """
    namespaces.pin(vswitch_netns)
    group = link_group(scope)
    snapshots = SnapshotSource(namespaces, group=group)
    return [
        *(kind(snapshots) for kind in _KINDS),
        VxlanDescriptor(snapshots),
        FdbDescriptor(snapshots),
        GatewayRouteDescriptor(vswitch_netns, group),
        SysctlDescriptor(vswitch_netns, KERNEL_SYSCTLS),
        SnatTableDescriptor(vswitch_netns, KERNEL_NFT_TABLES),
    ]


__all__ = ["KERNEL_NFT_TABLES", "KERNEL_SYSCTLS", "Namespaces", "kernel_descriptors", "linux_descriptors"]
