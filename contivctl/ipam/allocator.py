"""Handing out pod addresses from one node's pod subnet.

Round robin from a cursor, as the original did: a released address is only
reused once the pool has wrapped, so a pod that just went away cannot have
its address taken over by the next pod while stale connections or ARP
entries still point at it. Allocations are keyed by pod identity so that a
repeated ADD for the same pod gets the same address back.

The allocator keeps no files: its state serialises to plain data, which
the store persists before an ADD is answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contivctl.errors import IPAMError, PoolExhausted
from contivctl.ipam.plan import FIRST_POD_SEQ, GATEWAY_SEQ
from contivctl.ipam.subnets import address_in
from contivctl.iptypes import IPAddress, IPNetwork


class PodIPAllocator:
    """Pod addresses of one node subnet: sequence numbers 2 … 2^h-3.

    0 is the network, 1 the pod gateway, 2^h-2 the NAT loopback and 2^h-1
    the broadcast address; none of them is ever handed out.
    """

    def __init__(self, subnet: IPNetwork) -> None:
        self.subnet = subnet
        size = 1 << (subnet.max_prefixlen - subnet.prefixlen)
        self._last_seq = size - 3
        if self._last_seq < FIRST_POD_SEQ:
            raise IPAMError(f"{subnet} is too small to hold any pod address")
        self._base = int(subnet.network_address)
        self._by_key: dict[str, int] = {}
        self._used: set[int] = set()
        #: The original's ``lastAssigned``: where the next search starts.
        self.cursor = GATEWAY_SEQ
        #: Entries a restore could not take (outside this subnet or reserved).
        self.dropped: dict[str, str] = {}

    @property
    def capacity(self) -> int:
        return self._last_seq - FIRST_POD_SEQ + 1

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: str) -> IPAddress | None:
        seq = self._by_key.get(key)
        return None if seq is None else self._addr(seq)

    def allocations(self) -> dict[str, IPAddress]:
        return {key: self._addr(seq) for key, seq in self._by_key.items()}

    def allocate(self, key: str) -> IPAddress:
        """The address of ``key``: its existing one, else the next free one after the cursor."""
        if not key:
            raise IPAMError("cannot allocate a pod address for an empty pod key")
        existing = self._by_key.get(key)
        if existing is not None:
            return self._addr(existing)
        seq = self._next_free()
        self._by_key[key] = seq
        self._used.add(seq)
        self.cursor = seq
        return self._addr(seq)

    def release(self, key: str) -> IPAddress | None:
        """Free ``key``'s address; an unknown or empty key is a no-op (DEL may repeat)."""
        seq = self._by_key.pop(key, None)
        if seq is None:
            return None
        self._used.discard(seq)
        return self._addr(seq)

    def _next_free(self) -> int:
        # Each step lands on a used or a free sequence number, so a search
        # takes at most len(used) + 1 steps per segment even in an IPv6 /64.
        for start, stop in ((self.cursor + 1, self._last_seq), (FIRST_POD_SEQ, self.cursor)):
            seq = max(start, FIRST_POD_SEQ)
            while seq <= stop:
                if seq not in self._used:
                    return seq
                seq += 1
        raise PoolExhausted(f"no pod address is free in {self.subnet}: all {self.capacity} addresses are in use")

    def _addr(self, seq: int) -> IPAddress:
        return address_in(self.subnet, self._base + seq)

    def to_state(self) -> dict[str, Any]:
        return {
            "subnet": str(self.subnet),
            "allocations": {key: str(self._addr(seq)) for key, seq in sorted(self._by_key.items())},
        }

    @classmethod
    def from_state(cls, subnet: IPNetwork, state: Mapping[str, Any]) -> PodIPAllocator:
        """Rebuild from :meth:`to_state`; the cursor is the highest address in use, as in the original.

        Entries that do not fit ``subnet`` (the node's subnet changed) are
        not taken and are listed in ``dropped`` for the caller to report.
        """
        alloc = cls(subnet)
        for key, text in dict(state.get("allocations", {})).items():
            try:
                seq = int(type(subnet.network_address)(text)) - alloc._base
            except ValueError:
                alloc.dropped[key] = str(text)
                continue
            if not key or not FIRST_POD_SEQ <= seq <= alloc._last_seq or seq in alloc._used:
                alloc.dropped[key] = str(text)
                continue
            alloc._by_key[key] = seq
            alloc._used.add(seq)
        if alloc._used:
            alloc.cursor = max(alloc._used)
        return alloc
