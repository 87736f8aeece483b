"""What every VPP descriptor shares: the connection, retriability, and interface names.

Dependents never store an sw_if_index: they read it from the interface
item's metadata at the moment they act (`sw_if_index`), and map indices in
dumps back to logical names with `InterfaceNames` (the agent's tag where it
has one, VPP's own name otherwise).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import weakref
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

import attrs

from contivctl.dataplane.vpp.connection import TAG_PREFIX, VPPConnection
from contivctl.errors import DataplaneError
from contivctl.items.vpp import interface_key
from contivctl.reconcile import Context, Dependency, Descriptor

V = TypeVar("V")

ALL = 0xFFFFFFFF


class VppDescriptor(Descriptor[V], Generic[V]):
    def __init__(self, vpp: VPPConnection) -> None:
        self.vpp = vpp

    def is_retriable(self, exc: Exception) -> bool:
        """Timeouts and lost connections heal; a refusal by VPP repeats itself."""
        return isinstance(exc, DataplaneError) and exc.retriable

    def dependencies(self, key: str, value: V) -> Iterable[Dependency]:
        deps: list[Dependency] = getattr(value, "deps")()  # noqa: B009 - every item type has deps()
        return deps


class NoSwIfIndex(DataplaneError):
    """An interface item exists without an sw_if_index (a bug: create always returns one)."""


def sw_if_index(ctx: Context, name: str) -> int:
    md = ctx.metadata(interface_key(name))
    if not isinstance(md, int):
        raise NoSwIfIndex(f"interface {name!r} has no sw_if_index")
    return md


def tag_name(tag: Any) -> str | None:
    """The logical name in an agent tag, None for an untagged (not agent-made) interface."""
    text = str(tag)
    return text[len(TAG_PREFIX) :] if text.startswith(TAG_PREFIX) else None


@attrs.frozen
class IfName:
    name: str
    owned: bool
    vpp_name: str


_NAMES_MAX_AGE = 1.0
_NamesEntry = tuple[tuple[int, int], float, "asyncio.Future[InterfaceNames]"]
_names_cache: weakref.WeakKeyDictionary[VPPConnection, _NamesEntry] = weakref.WeakKeyDictionary()


@attrs.frozen
class InterfaceNames:
    """sw_if_index → logical name, from one sw_interface_dump."""

    by_index: dict[int, IfName]
    details: dict[int, Any]

    @classmethod
    async def load(cls, vpp: VPPConnection) -> InterfaceNames:
        """One sw_interface_dump shared by every descriptor of a resync.

        Nearly every VPP descriptor needs the index → name map; with a
        thousand interfaces, a dump each would be most of a resync. A dump
        is reused while nothing was written to VPP since, on the same
        connection, and it is less than a second old.
        """
        stamp = (vpp.epoch, vpp.writes)
        cached = _names_cache.get(vpp)
        now = time.monotonic()
        if cached is not None and cached[0] == stamp and now - cached[1] < _NAMES_MAX_AGE:
            return await asyncio.shield(cached[2])
        fut = asyncio.ensure_future(cls._load(vpp))
        _names_cache[vpp] = (stamp, now, fut)
        try:
            return await asyncio.shield(fut)
        except BaseException:
            _names_cache.pop(vpp, None)
            raise

    @classmethod
    async def _load(cls, vpp: VPPConnection) -> InterfaceNames:
        details = await vpp.dump("sw_interface_dump")
        by_index: dict[int, IfName] = {}
        out: dict[int, Any] = {}
        for d in details:
            idx = int(d.sw_if_index)
            name = tag_name(d.tag)
            vpp_name = str(d.interface_name)
            by_index[idx] = IfName(name if name is not None else vpp_name, name is not None, vpp_name)
            out[idx] = d
        return cls(by_index, out)

    def get(self, sw_if_index: int) -> IfName | None:
        return self.by_index.get(int(sw_if_index))


def mac_str(raw: Any) -> str:
    """A MAC from papi (a MACAddress object or 6 bytes) as aa:bb:cc:dd:ee:ff."""
    if isinstance(raw, bytes | bytearray):
        return ":".join(f"{b:02x}" for b in raw)
    return str(raw).lower()


def ip_str(raw: Any) -> str:
    """An address from papi (IPv4Address, IPv6Address or an address union) as text."""
    return str(ipaddress.ip_address(str(raw)))


def address_arg(ip: str) -> dict[str, Any]:
    """A vl_api_address_t for papi."""
    a = ipaddress.ip_address(ip)
    return {"af": 1 if a.version == 6 else 0, "un": {"ip6" if a.version == 6 else "ip4": a}}


async def dhcp_leases(vpp: VPPConnection) -> dict[int, tuple[Any, Any]]:
    """sw_if_index → (leased address with prefix, router) of every bound DHCP client.

    What a lease put on an interface (its address, its default route) is
    VPP's DHCP client's, not the agent's: it must never be deleted as an
    unwanted leftover.
    """
    out: dict[int, tuple[Any, Any]] = {}
    for d in await vpp.dump("dhcp_client_dump"):
        lease = d.lease
        host = ipaddress.ip_address(str(lease.host_address))
        if not host.is_unspecified:
            addr = ipaddress.ip_interface(f"{host}/{int(lease.mask_width)}")
            out[int(d.client.sw_if_index)] = (addr, ipaddress.ip_address(str(lease.router_address)))
    return out
