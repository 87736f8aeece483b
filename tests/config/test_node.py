"""Which node entry applies, and how it combines with the global config."""

from __future__ import annotations

import ipaddress

from contivctl.config import NodeConfig, effective_config, parse_config
from contivctl.config.model import InterfaceConfig

CFG = parse_config(
    {
        "NatExternalTraffic": False,
        "StealInterface": "eth9",
        "IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24"},
        "NodeConfig": [
            {
                "NodeName": "n1",
                "MainVPPInterface": {"InterfaceName": "GigabitEthernet0/8/0", "IP": "192.168.16.10/24"},
                "Gateway": "192.168.16.1",
                "NatExternalTraffic": True,
                "StealInterface": "eth1",
                "OtherVPPInterfaces": [{"InterfaceName": "GigabitEthernet0/9/0", "IP": "10.9.0.1/24"}],
            },
            {"NodeName": "n2", "MainVPPInterface": {"UseDHCP": True}},
        ],
    }
)


def test_the_file_entry_of_the_node_applies() -> None:
    eff = effective_config(CFG, "n1")
    assert eff.source == "file"
    assert eff.main_interface.interface_name == "GigabitEthernet0/8/0"
    assert eff.gateway == ipaddress.ip_address("192.168.16.1")
    assert eff.nat_external_traffic is True  # OR of global False and node True
    assert eff.steal_interface == "eth1"  # node wins over global
    assert eff.stn_mode
    assert eff.use_dhcp is False


def test_a_crd_entry_replaces_the_file_entry_whole() -> None:
    crd = NodeConfig(main_vpp_interface=InterfaceConfig(interface_name="GigabitEthernet0/a/0"))
    eff = effective_config(CFG, "n1", crd=crd)
    assert eff.source == "crd"
    assert eff.node.node_name == "n1"
    assert eff.main_interface.interface_name == "GigabitEthernet0/a/0"
    assert eff.main_interface.ip is None
    assert eff.gateway is None  # not merged from the file entry
    assert eff.node.other_vpp_interfaces == ()
    assert eff.nat_external_traffic is False
    assert eff.steal_interface == "eth9"  # global applies when the node has none


def test_a_node_without_an_entry_gets_the_global_config() -> None:
    eff = effective_config(CFG, "n3")
    assert eff.source == "none"
    assert eff.main_interface.interface_name == ""
    assert eff.steal_interface == "eth9"


def test_dhcp_per_node_and_static_ip_wins() -> None:
    assert effective_config(CFG, "n2").use_dhcp is True
    dhcp_cfg = parse_config(
        {
            "IPAMConfig": {"NodeInterconnectDHCP": True},
            "NodeConfig": [{"NodeName": "s", "MainVPPInterface": {"IP": "10.0.0.5/24", "UseDHCP": True}}],
        }
    )
    assert effective_config(dhcp_cfg, "s").use_dhcp is False
    assert effective_config(dhcp_cfg, "other").use_dhcp is True
