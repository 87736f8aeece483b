"""dhcp.api: the DHCP client; leases come from the test, not from a server."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import Retval
from ..state.ip import Path
from ..state.services import DHCP_BOUND, DhcpClient, DhcpLease
from .base import Context, Fields, dump, ensure, mac_bytes, reply, text

if TYPE_CHECKING:
    from ..state import VppState


@reply("dhcp_client_config")
def dhcp_client_config(ctx: Context, m: Any) -> None:
    c = m.client
    ctx.state.interfaces.get(c.sw_if_index)
    clients = ctx.state.services.dhcp_clients
    if m.is_add:
        ensure(c.sw_if_index not in clients, Retval.INVALID_VALUE, f"dhcp client on {c.sw_if_index}")
        clients[c.sw_if_index] = DhcpClient(
            sw_if_index=c.sw_if_index,
            hostname=text(c.hostname),
            client_id=bytes(c.id),
            want_dhcp_event=bool(c.want_dhcp_event),
            set_broadcast_flag=bool(c.set_broadcast_flag),
            dscp=int(c.dscp),
            pid=c.pid,
            owner=ctx.handle,
        )
    else:
        ensure(c.sw_if_index in clients, Retval.NO_SUCH_ENTRY, f"dhcp client on {c.sw_if_index}")
        del clients[c.sw_if_index]


def _client(c: DhcpClient) -> Fields:
    return {
        "sw_if_index": c.sw_if_index,
        "hostname": c.hostname,
        "id": c.client_id,
        "want_dhcp_event": c.want_dhcp_event,
        "set_broadcast_flag": c.set_broadcast_flag,
        "dscp": c.dscp,
        "pid": c.pid,
    }


def _lease(c: DhcpClient, mac: bytes) -> Fields:
    lease = c.lease
    if lease is None:
        return {
            "sw_if_index": c.sw_if_index,
            "state": c.state,
            "hostname": c.hostname,
            "host_address": ipaddress.IPv4Address(0),
            "router_address": ipaddress.IPv4Address(0),
            "host_mac": mac,
            "count": 0,
            "domain_server": [],
        }
    return {
        "sw_if_index": c.sw_if_index,
        "state": c.state,
        "is_ipv6": False,
        "hostname": lease.hostname or c.hostname,
        "mask_width": lease.host_address.network.prefixlen,
        "host_address": lease.host_address.ip,
        "router_address": lease.router_address,
        "host_mac": mac,
        "count": len(lease.domain_servers),
        "domain_server": [{"address": d} for d in lease.domain_servers],
    }


@dump("dhcp_client_dump")
def dhcp_client_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    for c in ctx.state.services.dhcp_clients.values():
        mac = ctx.state.interfaces.get(c.sw_if_index).mac
        yield {"client": _client(c), "lease": _lease(c, mac_bytes(mac))}


def deliver_lease(
    state: VppState,
    send_to: Callable[[int, str, Fields], bool],
    sw_if_index: int,
    host_address: ipaddress.IPv4Interface,
    router: ipaddress.IPv4Address,
    hostname: str,
    domain_servers: list[ipaddress.IPv4Address],
) -> None:
    """What VPP's client does on DHCPACK: address, default route, then the event."""
    client = state.services.dhcp_clients.get(sw_if_index)
    if client is None:
        raise LookupError(f"no DHCP client on sw_if_index {sw_if_index}")
    iface = state.interfaces.get(sw_if_index)
    old = client.lease
    addrs = state.ip.addresses.get(sw_if_index, [])
    if old is not None and old.host_address in addrs:
        state.ip.remove_address(sw_if_index, old.host_address)
    if host_address not in state.ip.addresses.get(sw_if_index, []):
        state.ip.add_address(sw_if_index, iface.vrf4, host_address)
    if router != ipaddress.IPv4Address(0):
        state.ip.add_route(
            False,
            iface.vrf4,
            ipaddress.IPv4Network("0.0.0.0/0"),
            [Path(sw_if_index=sw_if_index, nh=router)],
            multipath=False,
        )
    client.lease = DhcpLease(host_address, router, hostname, iface.mac, domain_servers)
    client.state = DHCP_BOUND
    if client.want_dhcp_event:
        send_to(client.owner, "dhcp_compl_event", {"pid": client.pid, "lease": _lease(client, iface.mac)})
