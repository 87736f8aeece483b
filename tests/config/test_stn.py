"""STN in the config: what works loads (no NodeInterconnectCIDR needed), what does not is refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from contivctl.config import parse_config
from contivctl.errors import ConfigError


def problems(data: Any, **kw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, **kw)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    "data",
    [
        {"StealFirstNIC": True},
        {"StealInterface": "eth1", "STNVersion": 2},
        {"NodeConfig": [{"NodeName": "a", "StealInterface": "eth1"}]},
    ],
    ids=["first-nic", "interface", "node-entry"],
)
def test_stn_needs_no_node_interconnect_range(data: dict[str, Any]) -> None:
    """The stolen NIC's address is the node IP: nothing else has to give one."""
    cfg = parse_config(data, node="a")
    assert cfg.warnings == ()


def test_dhcp_on_a_stolen_nic_is_refused() -> None:
    """Refused for the node an agent runs on; for the file as a whole (config check), a warning naming the node."""
    every = {"StealFirstNIC": True, "IPAMConfig": {"NodeInterconnectDHCP": True}}
    assert problems(every, node="") == [
        "IPAMConfig.NodeInterconnectDHCP: true, and a node without an entry steals its NIC (STN): DHCP on a stolen "
        "NIC is not supported; give the NIC a static address in Linux before it is stolen"
    ]
    assert [str(w) for w in parse_config(every).warnings] == [
        "IPAMConfig.NodeInterconnectDHCP: true, and a node without an entry steals its NIC (STN): DHCP on a stolen "
        "NIC is not supported; give the NIC a static address in Linux before it is stolen; the agent of a node "
        "without an entry refuses to start"
    ]
    entry = {"NodeName": "a", "StealInterface": "eth1", "MainVPPInterface": {"UseDHCP": True}}
    found = problems({"NodeConfig": [entry], "IPAMConfig": {"NodeInterconnectCIDR": "10.9.0.0/24"}}, node="a")
    assert found == [
        "NodeConfig[0].MainVPPInterface.UseDHCP: true, and node 'a' steals its NIC (STN): DHCP on a stolen NIC "
        "is not supported; give the NIC a static address in Linux before it is stolen"
    ]
    # a node that steals nothing may use DHCP
    parse_config({"NodeConfig": [entry], "IPAMConfig": {"NodeInterconnectCIDR": "10.9.0.0/24"}}, node="b")


def test_unknown_stn_version_and_ipv6_ranges_are_refused() -> None:
    assert problems({"StealInterface": "eth1", "STNVersion": 3}) == [
        "STNVersion: 3 is not an STN version (allowed: 0 (an STN rule), 1 (an STN rule), 2 (an IP punt redirect))"
    ]
    v6 = {
        "PodSubnetCIDR": "fd00::/48",
        "PodNetworkPrefixLen": 64,
        "VPPHostSubnetCIDR": "fd01::/48",
        "VPPHostNetworkPrefixLen": 64,
        "VxlanCIDR": "fd02::/64",
    }
    assert problems({"StealInterface": "eth1", "IPAMConfig": v6}) == [
        "IPAMConfig.PodSubnetCIDR: fd00::/48 is IPv6; STN steals IPv4 addresses only (as the original): "
        "STN mode needs IPv4 ranges"
    ]


def test_an_address_or_gateway_of_a_stealing_node_is_ignored_with_a_warning() -> None:
    entry = {
        "NodeName": "a",
        "StealInterface": "eth1",
        "Gateway": "10.9.0.1",
        "MainVPPInterface": {"IP": "10.9.0.5/24"},
    }
    cfg = parse_config({"NodeConfig": [entry]}, node="a")
    assert [str(w) for w in cfg.warnings] == [
        "NodeConfig[0].MainVPPInterface.IP: 10.9.0.5/24 is ignored: node 'a' steals its NIC (STN), whose first "
        "address is the node IP",
        "NodeConfig[0].Gateway: 10.9.0.1 is ignored: node 'a' steals its NIC (STN), whose default route gives "
        "the gateway",
    ]
