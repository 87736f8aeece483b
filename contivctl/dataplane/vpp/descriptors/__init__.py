"""One descriptor per VPP item kind (see contivctl.items.vpp for the keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.dataplane.vpp.descriptors.interfaces import AfPacketOwner, InterfaceDescriptor
from contivctl.dataplane.vpp.descriptors.ip import AddressDescriptor, RouteDescriptor, VrfDescriptor
from contivctl.dataplane.vpp.descriptors.l2 import (
    BridgeDomainDescriptor,
    BridgeDomainMemberDescriptor,
    L2FibDescriptor,
)
from contivctl.dataplane.vpp.descriptors.lb import Nat44LbStaticMappingDescriptor
from contivctl.dataplane.vpp.descriptors.nat import (
    Nat44AddressDescriptor,
    Nat44GlobalDescriptor,
    Nat44IdentityMappingDescriptor,
    Nat44InterfaceDescriptor,
    Nat44StaticMappingDescriptor,
)
from contivctl.dataplane.vpp.descriptors.neighbor import NeighborConfigDescriptor, NeighborDescriptor
from contivctl.dataplane.vpp.descriptors.punt import (
    ProxyArpInterfaceDescriptor,
    ProxyArpRangeDescriptor,
    PuntRedirectDescriptor,
)
from contivctl.dataplane.vpp.descriptors.services import (
    AppNamespaceDescriptor,
    ContainerProxyDescriptor,
    DhcpClientDescriptor,
    SessionLayerDescriptor,
    StnRuleDescriptor,
)
from contivctl.reconcile import Descriptor

ALL_KINDS = (
    InterfaceDescriptor,
    VrfDescriptor,
    AddressDescriptor,
    RouteDescriptor,
    NeighborDescriptor,
    NeighborConfigDescriptor,
    BridgeDomainDescriptor,
    BridgeDomainMemberDescriptor,
    L2FibDescriptor,
    Nat44GlobalDescriptor,
    Nat44InterfaceDescriptor,
    Nat44AddressDescriptor,
    Nat44StaticMappingDescriptor,
    Nat44IdentityMappingDescriptor,
    Nat44LbStaticMappingDescriptor,
    StnRuleDescriptor,
    ContainerProxyDescriptor,
    SessionLayerDescriptor,
    AppNamespaceDescriptor,
    DhcpClientDescriptor,
    ProxyArpRangeDescriptor,
    ProxyArpInterfaceDescriptor,
    PuntRedirectDescriptor,
)


def vpp_descriptors(
    vpp: VPPConnection, state_dir: Path | None = None, af_packet_owner: AfPacketOwner | None = None
) -> list[Descriptor[Any]]:
    """Every VPP descriptor, bound to one connection: what the reconciler is built with.

    ``state_dir`` keeps what VPP cannot be asked about (app namespaces) across
    agent restarts; without it such items are re-added after a restart.
    ``af_packet_owner`` names the agent's interface for an AF_PACKET by the
    host link it is bound to (see ``InterfaceDescriptor``).
    """
    memory = None if state_dir is None else state_dir / "vpp-appns.json"

    def make(kind: type[Descriptor[Any]]) -> Descriptor[Any]:
        if kind is AppNamespaceDescriptor:
            return AppNamespaceDescriptor(vpp, memory)
        if kind is InterfaceDescriptor:
            return InterfaceDescriptor(vpp, af_packet_owner)
        return kind(vpp)  # type: ignore[call-arg]

    return [make(kind) for kind in ALL_KINDS]


__all__ = [
    "ALL_KINDS",
    "AddressDescriptor",
    "AppNamespaceDescriptor",
    "BridgeDomainDescriptor",
    "BridgeDomainMemberDescriptor",
    "ContainerProxyDescriptor",
    "DhcpClientDescriptor",
    "InterfaceDescriptor",
    "L2FibDescriptor",
    "Nat44AddressDescriptor",
    "Nat44GlobalDescriptor",
    "Nat44IdentityMappingDescriptor",
    "Nat44InterfaceDescriptor",
    "Nat44LbStaticMappingDescriptor",
    "Nat44StaticMappingDescriptor",
    "NeighborConfigDescriptor",
    "NeighborDescriptor",
    "ProxyArpInterfaceDescriptor",
    "ProxyArpRangeDescriptor",
    "PuntRedirectDescriptor",
    "RouteDescriptor",
    "SessionLayerDescriptor",
    "StnRuleDescriptor",
    "VrfDescriptor",
    "vpp_descriptors",
]
