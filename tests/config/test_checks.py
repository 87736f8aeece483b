"""The checks config check and the agent share: ranges apart, a node IP for every node, each key once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contivctl.config import load_config, parse_config
from contivctl.errors import ConfigError

NODE_RANGE = {"NodeInterconnectCIDR": "192.168.16.0/24"}


def problems(data: Any, **kw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, **kw)
    return [str(p) for p in info.value.problems]


#: Every range inside 10.1.0.0/16, as a new user might write it: before, the pod gateway of
#: node 1 was the VPP-host link's VPP end (10.1.1.1).
CROWDED = {
    "IPAMConfig": {
        "PodSubnetCIDR": "10.1.0.0/16",
        "VPPHostSubnetCIDR": "10.1.0.0/17",
        "ServiceCIDR": "10.1.200.0/24",
        "NodeInterconnectCIDR": "10.1.201.0/24",
        "VxlanCIDR": "10.1.202.0/24",
        "PodIfIPCIDR": "10.1.203.0/24",
    }
}


def test_overlapping_ranges_are_refused_naming_both_keys() -> None:
    found = problems(CROWDED)
    assert (
        "IPAMConfig.VPPHostSubnetCIDR: 10.1.0.0/17 overlaps IPAMConfig.PodSubnetCIDR 10.1.0.0/16; "
        "the ranges must not share addresses"
    ) in found
    for key in ("ServiceCIDR", "NodeInterconnectCIDR", "VxlanCIDR", "PodIfIPCIDR"):
        assert any(p.startswith(f"IPAMConfig.{key}: ") and "IPAMConfig.PodSubnetCIDR 10.1.0.0/16" in p for p in found)
    assert len(found) == 5, found  # the four small ranges lie apart from each other and from the VPP-host /17


@pytest.mark.parametrize(
    ("ipam", "expected"),
    [
        (
            {"VxlanCIDR": "10.1.250.0/24", **NODE_RANGE},
            "IPAMConfig.VxlanCIDR: 10.1.250.0/24 overlaps IPAMConfig.PodSubnetCIDR 10.1.0.0/16 (the default)",
        ),
        (
            {"PodSubnetCIDR": "10.0.0.0/8", **NODE_RANGE},
            "IPAMConfig.ServiceCIDR: 10.96.0.0/12 (the default) overlaps IPAMConfig.PodSubnetCIDR 10.0.0.0/8",
        ),
        (
            {"ContivCIDR": "10.96.0.0/14"},
            "IPAMConfig.ServiceCIDR: 10.96.0.0/12 (the default) overlaps "
            "IPAMConfig.PodSubnetCIDR 10.96.0.0/16 (from IPAMConfig.ContivCIDR)",
        ),
        (
            {"NodeInterconnectCIDR": "192.168.30.0/23"},
            "IPAMConfig.VxlanCIDR: 192.168.30.0/24 (the default) overlaps IPAMConfig.NodeInterconnectCIDR",
        ),
        (
            {"PodIfIPCIDR": "10.1.7.0/24", **NODE_RANGE},
            "IPAMConfig.PodIfIPCIDR: 10.1.7.0/24 overlaps IPAMConfig.PodSubnetCIDR",
        ),
    ],
)
def test_where_an_overlapping_range_came_from_is_said(ipam: dict[str, Any], expected: str) -> None:
    found = problems({"IPAMConfig": ipam})
    assert any(expected in p for p in found), found


def test_ranges_apart_and_of_other_families_pass() -> None:
    parse_config(
        {
            "IPAMConfig": {
                "PodSubnetCIDR": "10.1.0.0/16",
                "VPPHostSubnetCIDR": "10.2.0.0/16",
                "ServiceCIDR": "10.3.0.0/16",
                "NodeInterconnectCIDR": "10.4.0.0/24",
                "VxlanCIDR": "10.4.1.0/24",
                "PodIfIPCIDR": "10.4.2.0/24",
            }
        }
    )
    parse_config({"ipamConfig": {"contivCIDR": "fe10::/64", "serviceCIDR": "fd96::/112"}})


def test_without_a_node_range_or_dhcp_no_node_has_an_ip() -> None:
    found = problems({"IPAMConfig": {}})
    assert found == [
        "IPAMConfig.NodeInterconnectCIDR: is required unless IPAMConfig.NodeInterconnectDHCP is true or a node "
        "entry sets MainVPPInterface.IP or MainVPPInterface.UseDHCP: no node would get a node IP"
    ]
    later = problems({"ipamConfig": {}})
    assert later[0].startswith("ipamConfig.nodeInterconnectCIDR: is required unless ipamConfig.nodeInterconnectDHCP")
    parse_config({"IPAMConfig": {"NodeInterconnectDHCP": True}})
    parse_config({"IPAMConfig": {"ContivCIDR": "10.128.0.0/14"}})  # carves one


PARTIAL: dict[str, Any] = {
    "IPAMConfig": {},
    "NodeConfig": [
        {"NodeName": "n1", "MainVPPInterface": {"InterfaceName": "GigabitEthernet0/8/0", "IP": "10.9.0.1/24"}},
        {"NodeName": "n2", "MainVPPInterface": {"UseDHCP": True}},
        {"NodeName": "n3", "Gateway": "10.9.0.254"},
    ],
}


def test_without_a_node_range_the_nodes_with_an_ip_of_their_own_still_load() -> None:
    cfg = parse_config(PARTIAL)
    assert [str(w) for w in cfg.warnings] == [
        "IPAMConfig.NodeInterconnectCIDR: is not set and IPAMConfig.NodeInterconnectDHCP is false: only the nodes "
        "whose entry gives them an IP ('n1', 'n2') have a node IP; the agent refuses to start on any other node"
    ]
    for node in ("n1", "n2"):
        assert parse_config(PARTIAL, node=node).warnings == ()


@pytest.mark.parametrize(
    ("node", "why"),
    [
        ("n3", "the entry of node 'n3' sets neither MainVPPInterface.IP nor MainVPPInterface.UseDHCP"),
        ("n4", "node 'n4' has no entry in NodeConfig"),
        ("", "no node entry applies (no node name given)"),
    ],
)
def test_for_one_node_the_problem_names_that_node(node: str, why: str) -> None:
    assert problems(PARTIAL, node=node) == [
        f"IPAMConfig.NodeInterconnectCIDR: is required: IPAMConfig.NodeInterconnectDHCP is false and {why}, "
        "so the node would have no node IP"
    ]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "contiv.yaml"
    path.write_text(text)
    return path


def test_a_key_written_twice_is_an_error_whatever_its_spelling(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "MTUSize: 1500\n"
        "MTUSize: 1400\n"
        "mtusize: 1300\n"
        "IPAMConfig:\n"
        "  NodeInterconnectCIDR: 192.168.16.0/24\n"
        "  VxlanCIDR: 192.168.30.0/24\n"
        "  VxlanCIDR: 192.168.31.0/24\n"
        "NodeConfig:\n"
        "  - NodeName: n1\n"
        "    Gateway: 192.168.16.1\n"
        "    Gateway: 192.168.16.2\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [str(p) for p in info.value.problems] == [
        "MTUSize: given twice (at lines 1 and 2); write it once",
        "IPAMConfig.VxlanCIDR: given twice (at lines 6 and 7); write it once",
        "NodeConfig[0].Gateway: given twice (at lines 10 and 11); write it once",
        "mtusize: given twice (also as 'MTUSize')",
    ]


def test_yaml_merge_keys_are_not_taken_for_repeated_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "IPAMConfig: {NodeInterconnectCIDR: 192.168.16.0/24}\n"
        "NodeConfig:\n"
        "  - &n1 {NodeName: n1, Gateway: 192.168.16.1}\n"
        "  - <<: *n1\n"
        "    NodeName: n2\n",
    )
    entry = load_config(path).node_entry("n2")
    assert entry is not None and str(entry.gateway) == "192.168.16.1"
