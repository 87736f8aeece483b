"""Every validation error names the key, the bad value and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from contivctl.config import parse_config
from contivctl.errors import ConfigError


def problems(data: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"IPAMConfig": {"PodSubnetCIDR": "10.1.0.0/33"}},
            "IPAMConfig.PodSubnetCIDR: '10.1.0.0/33' is not a valid CIDR",
        ),
        ({"IPAMConfig": {"PodSubnetCIDR": "10.1.0.0"}}, "IPAMConfig.PodSubnetCIDR: '10.1.0.0' is not a CIDR"),
        ({"IPAMConfig": {"VxlanCIDR": "10.1.2.3/16"}}, "IPAMConfig.VxlanCIDR: '10.1.2.3/16' has host bits set"),
        (
            {"IPAMConfig": {"PodSubnetCIDR": "10.1.0.0/16", "PodNetworkPrefixLen": 16}},
            "IPAMConfig.PodNetworkPrefixLen: 16 must be longer than the prefix of 10.1.0.0/16",
        ),
        (
            {"ipamConfig": {"vppHostSubnetCIDR": "172.30.0.0/16", "vppHostSubnetOneNodePrefixLen": 8}},
            "ipamConfig.vppHostSubnetOneNodePrefixLen: 8 must be longer",
        ),
        ({"IPAMConfig": {"PodNetworkPrefixLen": 31}}, "IPAMConfig.PodNetworkPrefixLen: 31 leaves too few addresses"),
        ({"TAPInterfaceVersion": 3}, "TAPInterfaceVersion: 3 is not a TAP version (allowed: 1, 2)"),
        ({"TAPv2RxRingSize": 300}, "TAPv2RxRingSize: 300 is not a power of two"),
        ({"tapv2TxRingSize": 65535}, "tapv2TxRingSize: 65535 is not a power of two"),
        ({"Vmxnet3RxRingSize": 1000}, "Vmxnet3RxRingSize: 1000 is not a power of two"),
        ({"TCPNATSessionTimeout": -5}, "TCPNATSessionTimeout: -5 is negative"),
        ({"OtherNATSessionTimeout": "-1m"}, "OtherNATSessionTimeout: '-1m' is negative"),
        ({"OtherNATSessionTimeout": "soon"}, "OtherNATSessionTimeout: 'soon' is not a duration"),
        ({"IPNeighborScanInterval": "30s"}, "IPNeighborScanInterval: 0:00:30 is not a whole number of minutes"),
        ({"UseTAPInterface": True}, "UseTAPInterface: unknown key; did you mean 'UseTAPInterfaces'?"),
        ({"ipamConfig": {"podSubnetCIDRR": "10.1.0.0/16"}}, "ipamConfig.podSubnetCIDRR: unknown key; did you mean"),
        ({"MTUSize": "big"}, "MTUSize: expected a whole number from 0 to 4294967295, got string 'big'"),
        ({"MTUSize": 20}, "MTUSize: 20 is not an MTU"),
        ({"UseTAPInterfaces": "yes please"}, "UseTAPInterfaces: expected true or false, got string 'yes please'"),
        ({"TAPv2RxRingSize": 70000}, "TAPv2RxRingSize: 70000 is out of range (0 to 65535)"),
        ({"MainVRFID": 1, "PodVRFID": 1}, "PodVRFID: 1 is also the main VRF ID"),
        ({"InterfaceRxMode": "turbo"}, "InterfaceRxMode: 'turbo' is not one of"),
        ({"nodeToNodeTransport": "srv6"}, "nodeToNodeTransport: 'srv6' is not supported"),
        (
            {"nodeToNodeTransport": "vxlan", "useL2Interconnect": True},
            "nodeToNodeTransport: 'vxlan' contradicts useL2Interconnect: true",
        ),
        ({"useSRv6ForServices": True}, "useSRv6ForServices: true is not supported"),
        ({"IPAMConfig": {"ContivCIDR": "10.128.0.0/16"}}, "IPAMConfig.ContivCIDR: 10.128.0.0/16 is too small"),
        (
            {"IPAMConfig": {"PodIfIPCIDR": "fd00::/64"}},
            "IPAMConfig.PodIfIPCIDR: fd00::/64 is not of the same IP version as the pod subnet",
        ),
        (
            {"IPAMConfig": {"VxlanCIDR": "fd00::/64"}},
            "must all be IPv4 or all IPv6",
        ),
        ({"IPAMConfig": "nope"}, "IPAMConfig: expected a mapping of keys, got string 'nope'"),
        ({"NodeConfig": {"NodeName": "x"}}, "NodeConfig: expected a list, got mapping"),
        ({"NodeConfig": [{"Gateway": "10.0.0.1"}]}, "NodeConfig[0].NodeName: is required"),
        (
            {"NodeConfig": [{"NodeName": "a"}, {"NodeName": "a"}]},
            "NodeConfig[1].NodeName: 'a' has more than one entry",
        ),
        (
            {"NodeConfig": [{"NodeName": "a", "MainVPPInterface": {"IP": "10.0.0.1"}}]},
            "NodeConfig[0].MainVPPInterface.IP: '10.0.0.1' has no prefix length",
        ),
        (
            {"NodeConfig": [{"NodeName": "a", "Gateway": "10.0.0.256"}]},
            "NodeConfig[0].Gateway: '10.0.0.256' is not a valid",
        ),
        ({"MTUSize": 1500, "mtusize": 1400}, "given twice"),
        ({1: True}, "key 1 is not a string"),
        ([1, 2], "the config must be a mapping"),
    ],
)
def test_each_error_names_key_value_and_what_is_allowed(data: Any, expected: str) -> None:
    found = problems(data)
    assert any(expected in p for p in found), found


def test_all_problems_are_reported_not_just_the_first() -> None:
    found = problems(
        {
            "UseTAPInterface": True,
            "TAPInterfaceVersion": 3,
            "MTUSize": "big",
            "IPAMConfig": {
                "PodSubnetCIDR": "banana",
                "VPPHostNetworkPrefixLen": 8,
                "NodeInterconnectCIDR": "192.168.16.0/24",
            },
        }
    )
    assert len(found) == 5, found


def test_a_rejected_value_is_not_judged_again_through_its_default() -> None:
    found = problems(
        {"IPAMConfig": {"PodSubnetCIDR": "nope/16", "PodNetworkPrefixLen": 16, "NodeInterconnectDHCP": True}}
    )
    assert len(found) == 1 and "PodSubnetCIDR" in found[0]
