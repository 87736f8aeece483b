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
    """Bridge domains and the L2 FIB, with the FIB also found by port and by bridge domain.

    A port leaving takes its MACs along and a bridge domain going takes its
    own; with a tunnel per node both happen thousands of times, so neither may
    walk the whole FIB. Only `set_fib`, `drop_fib`, `leave` and `drop_bd`
    change the FIB, so its indexes cannot drift from it.
    """

    bridge_domains: dict[int, BridgeDomain] = attrs.Factory(dict)
    fib: dict[tuple[int, bytes], FibEntry] = attrs.Factory(dict)
    _fib_of_port: dict[int, set[tuple[int, bytes]]] = attrs.field(factory=dict, init=False, repr=False)
    _fib_of_bd: dict[int, set[tuple[int, bytes]]] = attrs.field(factory=dict, init=False, repr=False)

    def bd_of(self, sw_if_index: int) -> BridgeDomain | None:
        return next((bd for bd in self.bridge_domains.values() if sw_if_index in bd.members), None)

    def free_bd_id(self) -> int:
        n = 1
        while n in self.bridge_domains:
            n += 1
        return n

    def set_fib(self, entry: FibEntry) -> None:
        key = (entry.bd_id, entry.mac)
        if key in self.fib:
            self.drop_fib(key)
        self.fib[key] = entry
        self._fib_of_port.setdefault(entry.sw_if_index, set()).add(key)
        self._fib_of_bd.setdefault(entry.bd_id, set()).add(key)

    def drop_fib(self, key: tuple[int, bytes]) -> FibEntry:
        entry = self.fib.pop(key)
        _unindex(self._fib_of_port, entry.sw_if_index, key)
        _unindex(self._fib_of_bd, entry.bd_id, key)
        return entry

    def leave(self, sw_if_index: int) -> None:
        """Take a port out of its bridge domain; its learned and static MACs go with it."""
        bd = self.bd_of(sw_if_index)
        if bd is None:
            return
        del bd.members[sw_if_index]
        for key in list(self._fib_of_port.get(sw_if_index, ())):
            self.drop_fib(key)

    def drop_bd(self, bd_id: int) -> None:
        """Delete a bridge domain and every FIB entry in it."""
        del self.bridge_domains[bd_id]
        for key in list(self._fib_of_bd.get(bd_id, ())):
            self.drop_fib(key)


def _unindex(index: dict[int, set[tuple[int, bytes]]], at: int, key: tuple[int, bytes]) -> None:
    keys = index.get(at)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[at]
