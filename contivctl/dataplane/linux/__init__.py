"""The Linux driver: descriptors for links, addresses, routes and neighbours in any namespace."""

from __future__ import annotations

from typing import Any

from contivctl.dataplane.linux.address import AddressDescriptor
from contivctl.dataplane.linux.link import AdoptedLinkDescriptor
from contivctl.dataplane.linux.neighbour import NeighbourDescriptor
from contivctl.dataplane.linux.route import RouteDescriptor
from contivctl.dataplane.linux.snapshot import Namespaces, SnapshotSource
from contivctl.dataplane.linux.tap import TapPodSideDescriptor
from contivctl.dataplane.linux.veth import VethDescriptor
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


__all__ = ["Namespaces", "linux_descriptors"]
