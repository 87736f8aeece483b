"""The worked examples of the original's IPAM, value for value."""

from __future__ import annotations

import ipaddress

import pytest

from contivctl.config import parse_config
from contivctl.config.model import IPAMConfig
from contivctl.errors import IPAMError, NodeIDOutOfRange
from contivctl.ipam import node_plan, subnets

ip = ipaddress.ip_address
net = ipaddress.ip_network
iface = ipaddress.ip_interface

DEPLOYMENT = IPAMConfig(
    pod_if_ip_cidr=net("10.2.1.0/24"),
    node_interconnect_cidr=net("192.168.16.0/24"),
)


def test_node_5_gets_the_documented_addresses() -> None:
    plan = node_plan(DEPLOYMENT, 5)
    assert plan.pod_subnet_this_node == net("10.1.5.0/24")
    assert plan.pod_gateway == ip("10.1.5.1")
    assert plan.pod_ip_first == ip("10.1.5.2")
    assert plan.pod_ip_last == ip("10.1.5.253")
    assert plan.nat_loopback_ip == ip("10.1.5.254")
    assert plan.vpp_host_network == net("172.30.5.0/24")
    assert plan.vpp_host_vpp_ip == iface("172.30.5.1/24")
    assert plan.vpp_host_host_ip == iface("172.30.5.2/24")
    assert plan.node_ip == iface("192.168.16.5/24")
    assert plan.vxlan_ip == iface("192.168.30.5/24")


def test_last_id_wraps_onto_the_first_block_and_the_next_fails() -> None:
    assert subnets.node_subnet(net("10.1.0.0/16"), 24, 256) == net("10.1.0.0/24")
    assert subnets.node_subnet(net("172.30.0.0/16"), 24, 256) == net("172.30.0.0/24")
    with pytest.raises(NodeIDOutOfRange, match="257"):
        node_plan(DEPLOYMENT, 257)


def test_node_id_zero_and_negative_are_rejected() -> None:
    for bad in (0, -1):
        with pytest.raises(NodeIDOutOfRange, match="start at 1"):
            node_plan(DEPLOYMENT, bad)


def test_node_ip_of_the_wrapping_id_has_no_address() -> None:
    # 256 fits the pod subnet (wraps to block 0) but not the /24 node range.
    with pytest.raises(NodeIDOutOfRange, match="no free address"):
        node_plan(DEPLOYMENT, 256)


def test_node_ip_beyond_the_last_host_is_refused() -> None:
    with pytest.raises(NodeIDOutOfRange, match="no free address"):
        subnets.indexed_address(net("192.168.16.0/24"), 255)
    assert subnets.indexed_address(net("192.168.16.0/24"), 254) == iface("192.168.16.254/24")


def test_gateways_push_node_ips_up() -> None:
    cidr = net("192.168.16.0/24")
    gws = [ip("192.168.16.3"), ip("192.168.16.1")]
    assert subnets.indexed_address(cidr, 1, gws) == iface("192.168.16.2/24")
    assert subnets.indexed_address(cidr, 2, gws) == iface("192.168.16.4/24")
    assert subnets.indexed_address(cidr, 3, gws) == iface("192.168.16.5/24")


def test_gateway_exclusions_come_from_every_file_node_entry() -> None:
    cfg = parse_config(
        {
            "IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24"},
            "NodeConfig": [
                {"NodeName": "a", "Gateway": "192.168.16.1"},
                {"NodeName": "b", "Gateway": "192.168.16.1"},
                {"NodeName": "c", "Gateway": "192.168.16.2"},
            ],
        }
    )
    from contivctl.config import node_ip_exclusions

    assert node_ip_exclusions(cfg) == (ip("192.168.16.1"), ip("192.168.16.2"))
    plan = node_plan(cfg.ipam, 1, excluded=node_ip_exclusions(cfg))
    assert plan.node_ip == iface("192.168.16.3/24")


def test_dhcp_leaves_the_node_ip_open_and_a_static_ip_wins() -> None:
    assert node_plan(DEPLOYMENT, 5, dhcp=True).node_ip is None
    static = iface("10.9.9.9/16")
    assert node_plan(DEPLOYMENT, 5, dhcp=True, static_ip=static).node_ip == static


def test_missing_node_range_without_dhcp_is_a_clear_error() -> None:
    with pytest.raises(IPAMError, match="NodeInterconnectCIDR"):
        node_plan(IPAMConfig(), 5)


def test_other_nodes_use_the_same_formulas() -> None:
    plan = node_plan(DEPLOYMENT, 17)
    assert plan.pod_subnet_this_node == net("10.1.17.0/24")
    assert plan.vxlan_ip == iface("192.168.30.17/24")


def test_node_id_from_pod_ip() -> None:
    cluster = net("10.1.0.0/16")
    assert subnets.node_id_from_pod_ip(ip("10.1.5.7"), cluster, 24) == 5
    assert subnets.node_id_from_pod_ip(ip("10.1.0.9"), cluster, 24) == 0
    with pytest.raises(IPAMError):
        subnets.node_id_from_pod_ip(ip("10.2.0.1"), cluster, 24)


def test_vpp_side_pod_interface_address() -> None:
    assert subnets.pod_if_address(net("10.2.1.0/24"), ip("10.1.5.7"), 24) == iface("10.2.1.7/32")


def test_ipv6_plan() -> None:
    ipam = IPAMConfig(
        pod_subnet_cidr=net("fd00:1::/64"),
        pod_network_prefix_len=112,
        vpp_host_subnet_cidr=net("fd00:2::/64"),
        vpp_host_network_prefix_len=112,
        node_interconnect_cidr=net("fd00:3::/112"),
        vxlan_cidr=net("fd00:4::/112"),
        service_cidr=None,
    )
    plan = node_plan(ipam, 5)
    assert plan.pod_subnet_this_node == net("fd00:1::5:0/112")
    assert plan.pod_gateway == ip("fd00:1::5:1")
    assert plan.nat_loopback_ip == ip("fd00:1::5:fffe")
    assert plan.pod_ip_last == ip("fd00:1::5:fffd")
    assert plan.vpp_host_vpp_ip == iface("fd00:2::5:1/112")
    assert plan.node_ip == iface("fd00:3::5/112")
    assert plan.vxlan_ip == iface("fd00:4::5/112")


def test_plan_json_has_exactly_the_documented_keys() -> None:
    data = node_plan(DEPLOYMENT, 5).to_json(DEPLOYMENT)
    assert list(data) == [
        "nodeId",
        "podSubnetCIDR",
        "podSubnetThisNode",
        "podGateway",
        "podIPFirst",
        "podIPLast",
        "natLoopbackIP",
        "vppHostNetwork",
        "vppHostVppIP",
        "vppHostHostIP",
        "nodeIP",
        "vxlanIP",
        "podIfIPCIDR",
        "config",
    ]
    assert node_plan(DEPLOYMENT, 5, dhcp=True).to_json(DEPLOYMENT)["nodeIP"] is None
