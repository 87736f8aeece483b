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
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar, cast

import attrs

from contivctl.dataplane.vpp.connection import TAG_PREFIX, VPPConnection
from contivctl.errors import DataplaneError, NoSwIfIndex
from contivctl.iptypes import IPAddress, IPInterface
from contivctl.items.vpp import interface_key
from contivctl.reconcile import Context, Dependency, Descriptor

V = TypeVar("V")
T = TypeVar("T")

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


_READ_MAX_AGE = 1.0
_reads: weakref.WeakKeyDictionary[VPPConnection, dict[str, tuple[tuple[int, int], float, asyncio.Future[Any]]]] = (
    weakref.WeakKeyDictionary()
)


async def cached_read(vpp: VPPConnection, what: str, load: Callable[[], Awaitable[T]]) -> T:
    """One read of ``what`` shared by every descriptor of a resync.

    Most VPP descriptors need the same dumps (the interface table, the
    addresses of every interface); with a thousand interfaces, a dump per
    descriptor would be most of a resync. A read is reused while nothing was
    written to VPP since, on the same connection, and it is less than a
    second old.
    """
    stamp = (vpp.epoch, vpp.writes)
    cache = _reads.setdefault(vpp, {})
    found = cache.get(what)
    now = time.monotonic()
    if found is not None and found[0] == stamp and now - found[1] < _READ_MAX_AGE:
        return cast(T, await asyncio.shield(found[2]))
    fut: asyncio.Future[T] = asyncio.ensure_future(load())
    cache[what] = (stamp, now, fut)
    try:
        return await asyncio.shield(fut)
    except BaseException:
        cache.pop(what, None)
        raise


@attrs.frozen
class InterfaceNames:
    """sw_if_index → logical name, from one sw_interface_dump."""

    by_index: dict[int, IfName]
    details: dict[int, Any]

    @classmethod
    async def load(cls, vpp: VPPConnection) -> InterfaceNames:
        """The index → name map, from one sw_interface_dump shared per resync (see cached_read)."""
        return await cached_read(vpp, "interfaces", lambda: cls._load(vpp))

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


async def interface_addresses(vpp: VPPConnection) -> dict[int, list[Any]]:
    """sw_if_index → ip_address_details (IPv4 and IPv6) of every interface, shared per resync."""

    async def load() -> dict[int, list[Any]]:
        names = await InterfaceNames.load(vpp)
        reqs = [("ip_address_dump", {"sw_if_index": i, "is_ipv6": v6}) for i in names.by_index for v6 in (False, True)]
        out: dict[int, list[Any]] = {i: [] for i in names.by_index}
        for (_, f), details in zip(reqs, await vpp.dump_many(reqs), strict=True):
            out[f["sw_if_index"]] += details
        return out

    return await cached_read(vpp, "addresses", load)


async def dhcp_leases(vpp: VPPConnection) -> dict[int, tuple[IPInterface, IPAddress]]:
    """sw_if_index → (leased address with prefix, router) of every bound DHCP client.

    What a lease put on an interface (its address, its default route) is
    VPP's DHCP client's, not the agent's: it must never be deleted as an
    unwanted leftover.
    """
    out: dict[int, tuple[IPInterface, IPAddress]] = {}
    for d in await vpp.dump("dhcp_client_dump"):
        lease = d.lease
        host: IPAddress = lease.host_address
        if not host.is_unspecified:
            addr = ipaddress.ip_interface((host, int(lease.mask_width)))
            out[int(d.client.sw_if_index)] = (addr, lease.router_address)
    return out
