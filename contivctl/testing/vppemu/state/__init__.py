"""The emulated VPP's object model. A restart replaces the whole `VppState`."""

from __future__ import annotations

import hashlib
import time

import attrs

from .interfaces import Interface, Interfaces, Kind
from .ip import IpState
from .l2 import L2State
from .nat import NatState
from .services import ServicesState

__all__ = ["Interface", "Interfaces", "Kind", "VppState"]


def nic_mac(name: str) -> bytes:
    """A stable MAC per NIC name, so two runs with the same --nic agree."""
    return bytes([0x02, 0x00]) + hashlib.sha1(name.encode()).digest()[:4]


@attrs.define
class VppState:
    interfaces: Interfaces = attrs.Factory(Interfaces)
    ip: IpState = attrs.Factory(IpState)
    l2: L2State = attrs.Factory(L2State)
    nat: NatState = attrs.Factory(NatState)
    services: ServicesState = attrs.Factory(ServicesState)
    boot_time: float = attrs.Factory(time.monotonic)
    #: every CLI command received through cli_inband, in order
    cli: list[str] = attrs.Factory(list)

    @classmethod
    def boot(cls, nics: list[str]) -> VppState:
        """A freshly started VPP: local0 at index 0, then the physical NICs, all admin down."""
        st = cls()
        st.interfaces.add("local0", Kind.LOCAL, bytes(6), link_up=False, link_mtu=0)
        for name in nics:
            st.interfaces.add(name, Kind.NIC, nic_mac(name))
        return st

    def now(self) -> float:
        """Seconds since boot: VPP's vlib time, which NAT sessions are stamped with."""
        return time.monotonic() - self.boot_time
