"""L2: bridge domains, their member ports and the L2 FIB."""

from __future__ import annotations

import attrs

PORT_NORMAL, PORT_BVI, PORT_UU_FWD = 0, 1, 2
BD_ID_MAX = (1 << 24) - 1
ALL = 0xFFFFFFFF


@attrs.define
class Member:
    sw_if_index: int
    shg: int
    port_type: int


@attrs.define
class BridgeDomain:
    bd_id: int
    flood: bool = True
    uu_flood: bool = True
    forward: bool = True
    learn: bool = True
    arp_term: bool = False
    arp_ufwd: bool = False
    mac_age: int = 0
    tag: str = ""
    members: dict[int, Member] = attrs.Factory(dict)

    @property
    def bvi(self) -> int:
        return next((m.sw_if_index for m in self.members.values() if m.port_type == PORT_BVI), ALL)

    @property
    def uu_fwd(self) -> int:
        return next((m.sw_if_index for m in self.members.values() if m.port_type == PORT_UU_FWD), ALL)


@attrs.define
class FibEntry:
    bd_id: int
    mac: bytes
    sw_if_index: int
    static_mac: bool
    filter_mac: bool
    bvi_mac: bool


@attrs.define
class L2State:
    bridge_domains: dict[int, BridgeDomain] = attrs.Factory(dict)
    fib: dict[tuple[int, bytes], FibEntry] = attrs.Factory(dict)

    def bd_of(self, sw_if_index: int) -> BridgeDomain | None:
        return next((bd for bd in self.bridge_domains.values() if sw_if_index in bd.members), None)

    def free_bd_id(self) -> int:
        n = 1
        while n in self.bridge_domains:
            n += 1
        return n

    def leave(self, sw_if_index: int) -> None:
        """Take a port out of its bridge domain; its learned and static MACs go with it."""
        bd = self.bd_of(sw_if_index)
        if bd is None:
            return
        del bd.members[sw_if_index]
        for key in [k for k, e in self.fib.items() if e.sw_if_index == sw_if_index]:
            del self.fib[key]
