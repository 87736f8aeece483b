"""Loading both file forms of the original, defaults, derivation and round trips."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from contivctl.config import load_config, parse_config
from contivctl.config.dump import to_data
from contivctl.config.model import Config

EXAMPLE = Path(__file__).parents[2] / "examples" / "contiv.yaml"
net = ipaddress.ip_network
#: Without a node range (or DHCP) no node has a node IP: every loadable config needs one.
NODE_RANGE = {"NodeInterconnectCIDR": "192.168.16.0/24"}


def test_the_original_deployment_file_loads_unchanged() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.dialect == "contiv.yaml"
    assert cfg.use_tap_interfaces is True
    assert cfg.tap_interface_version == 2
    assert cfg.tap_v2_rx_ring_size == cfg.tap_v2_tx_ring_size == 256
    assert cfg.mtu_size == 1450
    assert cfg.tcp_stack_disabled is True
    assert cfg.nat_external_traffic is True
    assert cfg.cleanup_idle_nat_sessions is True
    assert cfg.tcp_nat_session_timeout == timedelta(minutes=180)
    assert cfg.other_nat_session_timeout == timedelta(minutes=5)
    assert cfg.ip_neighbor_scan_interval == timedelta(minutes=1)
    assert cfg.ip_neighbor_stale_threshold == timedelta(minutes=4)
    assert cfg.crd_node_configuration_disabled is True
    assert cfg.ipam.pod_subnet_cidr == net("10.1.0.0/16")
    assert cfg.ipam.pod_network_prefix_len == 24
    assert cfg.ipam.pod_if_ip_cidr == net("10.2.1.0/24")
    assert cfg.ipam.vpp_host_subnet_cidr == net("172.30.0.0/16")
    assert cfg.ipam.node_interconnect_cidr == net("192.168.16.0/24")
    assert cfg.ipam.vxlan_cidr == net("192.168.30.0/24")
    assert cfg.ipam.service_cidr == net("10.96.0.0/12")
    assert cfg.use_l2_interconnect is False
    assert cfg.node_to_node_transport == "vxlan"


def test_keys_match_case_insensitively() -> None:
    cfg = parse_config(
        {
            "usetapinterfaces": True,
            "mtusize": 9000,
            "ipamconfig": {"PODSUBNETCIDR": "10.5.0.0/16", "nodeinterconnectcidr": "192.168.16.0/24"},
        }
    )
    assert cfg.use_tap_interfaces is True
    assert cfg.mtu_size == 9000
    assert cfg.ipam.pod_subnet_cidr == net("10.5.0.0/16")


CONTIV_CONF = """
nodeToNodeTransport: nooverlay
useTAPInterfaces: true
tapInterfaceVersion: 2
tapv2RxRingSize: 1024
tcpChecksumOffloadDisabled: true
STNVersion: 2
natExternalTraffic: true
mtuSize: 1450
scanIPNeighbors: true
ipNeighborScanInterval: 1
ipNeighborStaleThreshold: 4
enablePacketTrace: false
routeServiceCIDRToVPP: false
crdNodeConfigurationDisabled: true
mainVRFID: 0
podVRFID: 1
ipamConfig:
  nodeInterconnectDHCP: false
  nodeInterconnectCIDR: 192.168.16.0/24
  podSubnetCIDR: 10.1.0.0/16
  podSubnetOneNodePrefixLen: 24
  vppHostSubnetCIDR: 172.30.0.0/16
  vppHostSubnetOneNodePrefixLen: 24
  vxlanCIDR: 192.168.30.0/24
  defaultGateway: 192.168.16.100
nodeConfig:
- nodeName: k8s-worker1
  mainVPPInterface:
    interfaceName: GigabitEthernet0/9/0
    ip: 192.168.16.10/24
  gateway: 192.168.16.1
"""


def test_the_later_contiv_conf_form_loads() -> None:
    cfg = parse_config(yaml.safe_load(CONTIV_CONF))
    assert cfg.dialect == "contiv.conf"
    assert cfg.use_l2_interconnect is True
    assert cfg.tap_v2_rx_ring_size == 1024
    assert cfg.stn_version == 2
    assert cfg.ipam.pod_network_prefix_len == 24
    assert cfg.ipam.default_gateway == ipaddress.ip_address("192.168.16.100")
    node = cfg.node_entry("k8s-worker1")
    assert node is not None
    assert node.main_vpp_interface.interface_name == "GigabitEthernet0/9/0"
    assert node.main_vpp_interface.ip == ipaddress.ip_interface("192.168.16.10/24")
    assert node.gateway == ipaddress.ip_address("192.168.16.1")


def test_defaults_follow_the_form_the_file_is_written_in() -> None:
    v20 = parse_config({"IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24"}})
    later = parse_config({"ipamConfig": {"nodeInterconnectCIDR": "192.168.16.0/24"}})
    assert v20.dialect == "contiv.yaml"
    assert later.dialect == "contiv.conf"
    assert (v20.use_tap_interfaces, later.use_tap_interfaces) == (False, True)
    assert (v20.tcp_checksum_offload_disabled, later.tcp_checksum_offload_disabled) == (False, True)
    assert (v20.nat_external_traffic, later.nat_external_traffic) == (False, True)
    assert (v20.tcp_stack_disabled, later.tcp_stack_disabled) == (False, True)


def test_v2_only_ipam_keys_mark_a_v2_file_even_in_camel_case() -> None:
    cfg = parse_config({"ipamConfig": {"podNetworkPrefixLen": 25, "nodeInterconnectCIDR": "192.168.16.0/24"}})
    assert cfg.dialect == "contiv.yaml"
    assert cfg.ipam.pod_network_prefix_len == 25


def test_zero_means_default_as_in_the_original() -> None:
    cfg = parse_config(
        {
            "TAPInterfaceVersion": 0,
            "PodVRFID": 0,
            "ServiceLocalEndpointWeight": 0,
            "TCPNATSessionTimeout": 0,
            "OtherNATSessionTimeout": 0,
            "STNSocketFile": "",
            "IPAMConfig": NODE_RANGE,
        }
    )
    assert cfg.tap_interface_version == 2
    assert cfg.pod_vrf_id == 1
    assert cfg.service_local_endpoint_weight == 1
    assert cfg.tcp_nat_session_timeout == timedelta(hours=3)
    assert cfg.other_nat_session_timeout == timedelta(minutes=5)
    assert cfg.stn_socket_file == "/var/run/contiv/stn.sock"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        (7, timedelta(minutes=7)),
        (2.5, timedelta(seconds=150)),
    ],
)
def test_durations_take_units_and_bare_minutes(raw: Any, expected: timedelta) -> None:
    assert parse_config({"TCPNATSessionTimeout": raw, "IPAMConfig": NODE_RANGE}).tcp_nat_session_timeout == expected


def test_contiv_cidr_carves_every_range_v2_rule() -> None:
    cfg = parse_config({"IPAMConfig": {"ContivCIDR": "10.128.0.0/14", "ServiceCIDR": "10.200.0.0/16"}})
    ipam = cfg.ipam
    assert ipam.pod_subnet_cidr == net("10.128.0.0/16")
    assert ipam.vpp_host_subnet_cidr == net("10.129.0.0/16")
    assert ipam.node_interconnect_cidr == net("10.130.0.0/23")
    assert ipam.vxlan_cidr == net("10.130.2.0/23")
    assert ipam.pod_if_ip_cidr == net("10.130.4.0/25")
    assert ipam.pod_network_prefix_len == ipam.vpp_host_network_prefix_len == 25
    assert ipam.service_cidr == net("10.200.0.0/16")


def test_contiv_cidr_keeps_a_user_node_range_and_leaves_it_empty_with_dhcp() -> None:
    given = parse_config({"IPAMConfig": {"ContivCIDR": "10.128.0.0/14", "NodeInterconnectCIDR": "192.168.1.0/24"}})
    assert given.ipam.node_interconnect_cidr == net("192.168.1.0/24")
    dhcp = parse_config({"IPAMConfig": {"ContivCIDR": "10.128.0.0/14", "NodeInterconnectDHCP": True}})
    assert dhcp.ipam.node_interconnect_cidr is None


def test_contiv_cidr_ipv6() -> None:
    ipam = parse_config({"ipamConfig": {"contivCIDR": "fe10::/64", "serviceCIDR": ""}}).ipam
    assert ipam.pod_subnet_cidr == net("fe10::/112")
    assert ipam.vpp_host_subnet_cidr == net("fe10::1:0/112")
    assert ipam.node_interconnect_cidr == net("fe10::2:0/119")
    assert ipam.vxlan_cidr == net("fe10::2:200/119")
    assert ipam.pod_network_prefix_len == 121


@pytest.mark.parametrize("text", [EXAMPLE.read_text(), CONTIV_CONF])
def test_round_trip_through_the_dump(text: str) -> None:
    cfg = parse_config(yaml.safe_load(text))
    again = parse_config(yaml.safe_load(yaml.safe_dump(to_data(cfg, cfg.dialect))))
    assert again == cfg


def test_every_loadable_field_has_a_key_and_survives_the_dump() -> None:
    cfg = parse_config({"IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24"}})
    data = to_data(cfg, cfg.dialect)
    assert "IPAMConfig" in data and "NodeConfig" in data
    assert isinstance(cfg, Config)
