"""The VPP API definitions the driver packs with, and the check that VPP speaks them.

VPP identifies a message by name *and* CRC of its layout; a request packed
from one layout and read by VPP with another is silently misread. So the
driver pins the CRC of every message it uses (`REQUIRED`, taken from VPP
v26.06; identical back to v25.06), loads the `*.api.json` files installed
with VPP using vpp_papi's own loader, and at connect compares both with
VPP's message table. Any difference is one `VPPIncompatible` naming every
missing or changed message, raised before anything is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from vpp_papi.vpp_papi_async import VPPApiJSONFiles

from contivctl.errors import VPPIncompatible

DEFAULT_API_DIR = "/usr/share/vpp/api"

#: message name -> CRC (8 hex digits) of every message the driver sends or receives
REQUIRED: Mapping[str, str] = {
    "cli_inband": "f8377302",
    "cli_inband_reply": "05879051",
    "sockclnt_create": "455fb9c4",
    "sockclnt_create_reply": "35166268",
    "sockclnt_delete": "8ac76db6",
    "sockclnt_delete_reply": "8f38b1ee",
    "control_ping": "51077d14",
    "control_ping_reply": "f6b0b8ca",
    "show_version": "51077d14",
    "show_version_reply": "c919bde1",
    "sw_interface_dump": "aa610c27",
    "sw_interface_details": "6c221fc7",
    "sw_interface_set_flags": "f5aec1b8",
    "sw_interface_set_flags_reply": "e8d4e804",
    "sw_interface_set_mtu": "5cbe85e5",
    "sw_interface_set_mtu_reply": "e8d4e804",
    "sw_interface_set_mac_address": "c536e7eb",
    "sw_interface_set_mac_address_reply": "e8d4e804",
    "sw_interface_set_rx_mode": "b04d1cfe",
    "sw_interface_set_rx_mode_reply": "e8d4e804",
    "sw_interface_rx_placement_dump": "f9e6675e",
    "sw_interface_rx_placement_details": "9e44a7ce",
    "sw_interface_tag_add_del": "426f8bc1",
    "sw_interface_tag_add_del_reply": "e8d4e804",
    "sw_interface_set_unnumbered": "154a6439",
    "sw_interface_set_unnumbered_reply": "e8d4e804",
    "sw_interface_set_table": "df42a577",
    "sw_interface_set_table_reply": "e8d4e804",
    "sw_interface_get_table": "2d033de4",
    "sw_interface_get_table_reply": "a6eb0109",
    "create_loopback": "42bb5d22",
    "create_loopback_reply": "5383d31f",
    "delete_loopback": "f9e6675e",
    "delete_loopback_reply": "e8d4e804",
    "ip_table_add_del": "0ffdaec0",
    "ip_table_add_del_reply": "e8d4e804",
    "ip_table_dump": "51077d14",
    "ip_table_details": "c79fca0f",
    "sw_interface_add_del_address": "5463d73b",
    "sw_interface_add_del_address_reply": "e8d4e804",
    "ip_address_dump": "2d033de4",
    "ip_address_details": "ee29b797",
    "ip_unnumbered_dump": "f9e6675e",
    "ip_unnumbered_details": "cc59bd42",
    "ip_route_add_del": "b8ecfe0d",
    "ip_route_add_del_reply": "1992deab",
    "ip_route_dump": "b9d2e09e",
    "ip_route_details": "bda8f315",
    "ip_neighbor_add_del": "0607c257",
    "ip_neighbor_add_del_reply": "1992deab",
    "ip_neighbor_dump": "d817a484",
    "ip_neighbor_details": "e29d79f0",
    "ip_neighbor_config": "f4a5cf44",
    "ip_neighbor_config_reply": "e8d4e804",
    "ip_neighbor_config_get": "a5db7bf7",
    "ip_neighbor_config_get_reply": "798e6fdd",
    "bridge_domain_add_del_v2": "600b7170",
    "bridge_domain_add_del_v2_reply": "fcb1e980",
    "bridge_domain_dump": "74396a43",
    "bridge_domain_details": "0fa506fd",
    "sw_interface_set_l2_bridge": "d0678b13",
    "sw_interface_set_l2_bridge_reply": "e8d4e804",
    "l2fib_add_del": "eddda487",
    "l2fib_add_del_reply": "e8d4e804",
    "l2_fib_table_dump": "c25fdce6",
    "l2_fib_table_details": "a44ef6b8",
    "bvi_create": "f5398559",
    "bvi_create_reply": "5383d31f",
    "bvi_delete": "f9e6675e",
    "bvi_delete_reply": "e8d4e804",
    "vxlan_add_del_tunnel_v3": "0072b037",
    "vxlan_add_del_tunnel_v3_reply": "5383d31f",
    "vxlan_tunnel_v2_dump": "f9e6675e",
    "vxlan_tunnel_v2_details": "d3bdd4d9",
    "tap_create_v3": "3f3fd1df",
    "tap_create_v3_reply": "5383d31f",
    "tap_delete_v2": "f9e6675e",
    "tap_delete_v2_reply": "e8d4e804",
    "sw_interface_tap_v2_dump": "f9e6675e",
    "sw_interface_tap_v2_details": "1e2b2a47",
    "af_packet_create_v3": "b3a809d4",
    "af_packet_create_v3_reply": "5383d31f",
    "af_packet_delete": "863fa648",
    "af_packet_delete_reply": "e8d4e804",
    "af_packet_dump": "51077d14",
    "af_packet_details": "58c7c042",
    "nat44_ed_plugin_enable_disable": "be17f8dd",
    "nat44_ed_plugin_enable_disable_reply": "e8d4e804",
    "nat44_interface_add_del_feature": "f3699b83",
    "nat44_interface_add_del_feature_reply": "e8d4e804",
    "nat44_interface_dump": "51077d14",
    "nat44_interface_details": "5d286289",
    "nat44_ed_add_del_output_interface": "47d6e753",
    "nat44_ed_add_del_output_interface_reply": "e8d4e804",
    "nat44_ed_output_interface_get": "f75ba505",
    "nat44_ed_output_interface_get_reply": "53b48f5d",
    "nat44_ed_output_interface_details": "0b45011c",
    "nat44_add_del_address_range": "6f2b8055",
    "nat44_add_del_address_range_reply": "e8d4e804",
    "nat44_address_dump": "51077d14",
    "nat44_address_details": "0d1beac1",
    "nat44_add_del_static_mapping_v2": "5e205f1a",
    "nat44_add_del_static_mapping_v2_reply": "e8d4e804",
    "nat44_static_mapping_dump": "51077d14",
    "nat44_static_mapping_details": "06cb40b2",
    "nat44_add_del_identity_mapping": "02faaa22",
    "nat44_add_del_identity_mapping_reply": "e8d4e804",
    "nat44_identity_mapping_dump": "51077d14",
    "nat44_identity_mapping_details": "2a52a030",
    "nat44_del_session": "15a5bf8c",
    "nat44_del_session_reply": "e8d4e804",
    "stn_add_del_rule": "224c6edd",
    "stn_add_del_rule_reply": "e8d4e804",
    "stn_rules_dump": "51077d14",
    "stn_rules_details": "a51935a6",
    "proxy_arp_add_del": "1823c3e7",
    "proxy_arp_add_del_reply": "e8d4e804",
    "proxy_arp_dump": "51077d14",
    "proxy_arp_details": "5b948673",
    "proxy_arp_intfc_enable_disable": "ae6cfcfb",
    "proxy_arp_intfc_enable_disable_reply": "e8d4e804",
    "proxy_arp_intfc_dump": "51077d14",
    "proxy_arp_intfc_details": "f6458e5f",
    "add_del_ip_punt_redirect_v2": "9e804227",
    "add_del_ip_punt_redirect_v2_reply": "e8d4e804",
    "ip_punt_redirect_v2_dump": "d817a484",
    "ip_punt_redirect_v2_details": "7ba42e1d",
    "session_enable_disable_v2": "f09fbf32",
    "session_enable_disable_v2_reply": "e8d4e804",
    "app_namespace_add_del_v4": "42c1d824",
    "app_namespace_add_del_v4_reply": "85137120",
    "dhcp_client_config": "1af013ea",
    "dhcp_client_config_reply": "e8d4e804",
    "dhcp_client_dump": "51077d14",
    "dhcp_client_details": "8897b2d8",
    "dhcp_compl_event": "e18124b7",
}


@attrs.frozen
class ApiDefinitions:
    """Messages and services loaded from one API directory (vpp_papi objects, opaque here)."""

    directory: str
    messages: Mapping[str, Any]
    services: Mapping[str, Any]

    def crc(self, name: str) -> str | None:
        msg = self.messages.get(name)
        return None if msg is None else str(msg.crc)[2:].lower()


def load(directory: str | Path = DEFAULT_API_DIR) -> ApiDefinitions:
    """Load every `*.api.json` under `directory` (VPP installs them in `core/` and `plugins/`).

    vpp_papi keeps types in a process-wide registry, so loading is done once
    per connection object and reused across reconnects.
    """
    root = Path(directory)
    files = sorted(root.rglob("*.api.json"))
    if not files:
        raise VPPIncompatible("unknown", missing=[f"*.api.json files in {root}"], where="the API directory")
    messages: dict[str, Any] = {}
    services: dict[str, Any] = {}
    for f in files:
        m, s = VPPApiJSONFiles.process_json_str(f.read_text())
        messages.update(m)
        services.update(s)
    return ApiDefinitions(str(root), messages, services)


def check_definitions(defs: ApiDefinitions) -> None:
    """The installed definitions must be the ones the driver was written against."""
    missing, changed = [], []
    for name, crc in REQUIRED.items():
        have = defs.crc(name)
        if have is None:
            missing.append(name)
        elif have != crc:
            changed.append((name, crc, have))
    if missing or changed:
        raise VPPIncompatible("unknown", missing, changed, where=f"the API definitions in {defs.directory}")


def check_message_table(table: Mapping[str, int], version: str) -> None:
    """Every required `name_crc` must be in VPP's message table (sockclnt_create reply)."""
    by_name: dict[str, str] = {}
    for entry in table:
        name, _, crc = entry.rpartition("_")
        by_name[name] = crc
    missing, changed = [], []
    for name, crc in REQUIRED.items():
        if f"{name}_{crc}" in table:
            continue
        have = by_name.get(name)
        if have is None:
            missing.append(name)
        else:
            changed.append((name, crc, have))
    if missing or changed:
        raise VPPIncompatible(version, missing, changed)
