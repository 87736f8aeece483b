"""DHCP leases as VPP reports them (``dhcp_compl_event``), turned into typed values."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.model import DhcpLease

DHCP_EVENT = "dhcp_compl_event"


def lease_of(message: Any) -> DhcpLease:
    lease = message.lease
    address = ipaddress.IPv4Interface(f"{lease.host_address}/{int(lease.mask_width)}")
    router = ipaddress.IPv4Address(str(lease.router_address))
    return DhcpLease(int(lease.sw_if_index), address, None if int(router) == 0 else router)


def on_leases(vpp: VPPConnection, fn: Callable[[DhcpLease], None]) -> None:
    """Call ``fn`` for every lease VPP reports on this connection (the DHCP clients it configured)."""

    def listener(name: str, message: Any) -> None:
        if name == DHCP_EVENT:
            fn(lease_of(message))

    vpp.add_event_listener(listener)
