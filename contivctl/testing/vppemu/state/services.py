"""Smaller features: STN rules, the session layer, app namespaces, DHCP clients."""

from __future__ import annotations

import ipaddress

import attrs

from .ip import IPAddress

# dhcp_client_state
DHCP_DISCOVER, DHCP_REQUEST, DHCP_BOUND = 0, 1, 2
# rt_backend_engine
RT_DISABLE, RT_RULE_TABLE, RT_NONE, RT_SDL = 0, 1, 2, 3


@attrs.define
class AppNamespace:
    index: int
    namespace_id: str
    secret: int
    sw_if_index: int
    ip4_fib_id: int
    ip6_fib_id: int
    sock_name: str
    netns: str = ""


@attrs.define
class DhcpLease:
    host_address: ipaddress.IPv4Interface
    router_address: ipaddress.IPv4Address
    hostname: str = ""
    host_mac: bytes = bytes(6)
    domain_servers: list[ipaddress.IPv4Address] = attrs.Factory(list)


@attrs.define
class DhcpClient:
    sw_if_index: int
    hostname: str
    client_id: bytes
    want_dhcp_event: bool
    set_broadcast_flag: bool
    dscp: int
    pid: int
    owner: int  # client handle that configured it: VPP sends lease events there
    state: int = DHCP_DISCOVER
    lease: DhcpLease | None = None


@attrs.define
class ServicesState:
    stn_rules: dict[IPAddress, int] = attrs.Factory(dict)
    session_enabled: bool = False
    rt_engine: int = RT_DISABLE
    app_namespaces: dict[str, AppNamespace] = attrs.Factory(
        lambda: {"default": AppNamespace(0, "default", 0, 0xFFFFFFFF, 0, 0, "")}
    )
    next_appns_index: int = 1
    dhcp_clients: dict[int, DhcpClient] = attrs.Factory(dict)
