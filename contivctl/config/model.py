"""The agent's configuration as immutable values.

Field names are Python's; each field also lists the spellings it is read
from: the Go field name of the v2.0 ``contiv.yaml`` first, then the JSON tag
of the later ``contiv.conf`` where it differs. Defaults are explained per
field in docs/configuration.md.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Literal

import attrs

from contivctl.config import convert as c
from contivctl.config.schema import section, section_list, setting
from contivctl.errors import ConfigProblem
from contivctl.iptypes import IPAddress, IPInterface, IPNetwork

MINUTE = timedelta(minutes=1)

Dialect = Literal["contiv.yaml", "contiv.conf"]


@attrs.frozen
class IPAMConfig:
    """Cluster-wide address plan; per-node subnets are derived from the node ID."""

    pod_subnet_cidr: IPNetwork | None = setting(ipaddress.ip_network("10.1.0.0/16"), "PodSubnetCIDR", conv=c.cidr)
    pod_network_prefix_len: int = setting(24, "PodNetworkPrefixLen", "podSubnetOneNodePrefixLen", conv=c.uint(8))
    pod_if_ip_cidr: IPNetwork | None = setting(None, "PodIfIPCIDR", conv=c.cidr)
    vpp_host_subnet_cidr: IPNetwork | None = setting(
        ipaddress.ip_network("172.30.0.0/16"), "VPPHostSubnetCIDR", conv=c.cidr
    )
    vpp_host_network_prefix_len: int = setting(
        24, "VPPHostNetworkPrefixLen", "vppHostSubnetOneNodePrefixLen", conv=c.uint(8)
    )
    node_interconnect_cidr: IPNetwork | None = setting(None, "NodeInterconnectCIDR", conv=c.cidr)
    node_interconnect_dhcp: bool = setting(False, "NodeInterconnectDHCP", conv=c.boolean)
    vxlan_cidr: IPNetwork | None = setting(ipaddress.ip_network("192.168.30.0/24"), "VxlanCIDR", conv=c.cidr)
    service_cidr: IPNetwork | None = setting(ipaddress.ip_network("10.96.0.0/12"), "ServiceCIDR", conv=c.cidr)
    contiv_cidr: IPNetwork | None = setting(None, "ContivCIDR", conv=c.cidr)
    use_external_ipam: bool = setting(False, "useExternalIPAM", conv=c.boolean)
    default_gateway: IPAddress | None = setting(None, "defaultGateway", conv=c.address)


@attrs.frozen
class InterfaceConfig:
    """A VPP NIC named by the node config, with a static address or DHCP."""

    interface_name: str = setting("", "InterfaceName", conv=c.text)
    ip: IPInterface | None = setting(None, "IP", conv=c.interface_address)
    use_dhcp: bool = setting(False, "UseDHCP", conv=c.boolean)


@attrs.frozen
class NodeConfig:
    """Settings for one node; the CRD's ``spec`` has the same fields without the name."""

    node_name: str = setting("", "NodeName", conv=c.text)
    main_vpp_interface: InterfaceConfig = section(InterfaceConfig, "MainVPPInterface")
    other_vpp_interfaces: tuple[InterfaceConfig, ...] = section_list(InterfaceConfig, "OtherVPPInterfaces")
    steal_interface: str = setting("", "StealInterface", conv=c.text)
    gateway: IPAddress | None = setting(None, "Gateway", conv=c.address)
    nat_external_traffic: bool = setting(False, "NatExternalTraffic", conv=c.boolean)


@attrs.frozen
class Config:
    """The whole agent configuration (the original's ``Config`` plus its later keys)."""

    tcp_checksum_offload_disabled: bool = setting(True, "TCPChecksumOffloadDisabled", conv=c.boolean)
    tcp_stack_disabled: bool = setting(True, "TCPstackDisabled", "tcpStackDisabled", conv=c.boolean)
    use_l2_interconnect: bool = setting(False, "UseL2Interconnect", conv=c.boolean)
    node_to_node_transport: str = setting("", "nodeToNodeTransport", conv=c.choice("vxlan", "nooverlay", "srv6"))
    use_tap_interfaces: bool = setting(True, "UseTAPInterfaces", conv=c.boolean)
    tap_interface_version: int = setting(2, "TAPInterfaceVersion", conv=c.uint(8))
    tap_v2_rx_ring_size: int = setting(256, "TAPv2RxRingSize", "tapv2RxRingSize", conv=c.uint(16))
    tap_v2_tx_ring_size: int = setting(256, "TAPv2TxRingSize", "tapv2TxRingSize", conv=c.uint(16))
    vmxnet3_rx_ring_size: int = setting(0, "Vmxnet3RxRingSize", conv=c.uint(16))
    vmxnet3_tx_ring_size: int = setting(0, "Vmxnet3TxRingSize", conv=c.uint(16))
    interface_rx_mode: str = setting(
        "", "InterfaceRxMode", conv=c.choice("", "default", "polling", "interrupt", "adaptive")
    )
    enable_gso: bool = setting(False, "enableGSO", conv=c.boolean)
    mtu_size: int = setting(1450, "MTUSize", conv=c.uint(32))
    steal_first_nic: bool = setting(False, "StealFirstNIC", conv=c.boolean)
    steal_interface: str = setting("", "StealInterface", conv=c.text)
    stn_socket_file: str = setting("/var/run/contiv/stn.sock", "STNSocketFile", conv=c.text)
    stn_version: int = setting(0, "STNVersion", conv=c.uint(8))
    nat_external_traffic: bool = setting(True, "NatExternalTraffic", conv=c.boolean)
    cleanup_idle_nat_sessions: bool = setting(True, "CleanupIdleNATSessions", conv=c.boolean)
    tcp_nat_session_timeout: timedelta = setting(
        timedelta(minutes=180), "TCPNATSessionTimeout", conv=c.duration(MINUTE)
    )
    other_nat_session_timeout: timedelta = setting(
        timedelta(minutes=5), "OtherNATSessionTimeout", conv=c.duration(MINUTE)
    )
    scan_ip_neighbors: bool = setting(True, "ScanIPNeighbors", conv=c.boolean)
    ip_neighbor_scan_interval: timedelta = setting(
        timedelta(minutes=1), "IPNeighborScanInterval", conv=c.duration(MINUTE)
    )
    ip_neighbor_stale_threshold: timedelta = setting(
        timedelta(minutes=4), "IPNeighborStaleThreshold", conv=c.duration(MINUTE)
    )
    main_vrf_id: int = setting(0, "MainVRFID", conv=c.uint(32))
    pod_vrf_id: int = setting(1, "PodVRFID", conv=c.uint(32))
    service_local_endpoint_weight: int = setting(1, "ServiceLocalEndpointWeight", conv=c.uint(8))
    disable_nat_virtual_reassembly: bool = setting(False, "DisableNATVirtualReassembly", conv=c.boolean)
    enable_packet_trace: bool = setting(False, "EnablePacketTrace", conv=c.boolean)
    #: contivctl's own key: the VXLAN BVI MACs of Contiv-VPP v2.0, for a cluster migrated node by node
    legacy_bvi_macs: bool = setting(False, "LegacyBVIMACs", conv=c.boolean)
    route_service_cidr_to_vpp: bool = setting(False, "RouteServiceCIDRToVPP", conv=c.boolean)
    crd_node_configuration_disabled: bool = setting(True, "CRDNodeConfigurationDisabled", conv=c.boolean)
    use_srv6_for_services: bool = setting(False, "useSRv6ForServices", conv=c.boolean)
    use_srv6_for_service_function_chaining: bool = setting(False, "useSRv6ForServiceFunctionChaining", conv=c.boolean)
    use_dx6_for_srv6_node_to_node_transport: bool = setting(False, "useDX6ForSrv6NodetoNodeTransport", conv=c.boolean)
    ipam: IPAMConfig = section(IPAMConfig, "IPAMConfig")
    node_config: tuple[NodeConfig, ...] = section_list(NodeConfig, "NodeConfig")
    #: Which file form the config was read from; it decides the defaults of
    #: the few keys whose default changed between the original's versions.
    dialect: Dialect = attrs.field(default="contiv.conf")
    #: What loads but does not do what it says (docs/configuration.md, "Warnings"):
    #: ``config check`` prints these, the agent logs them at start.
    warnings: tuple[ConfigProblem, ...] = attrs.field(default=(), eq=False)

    def node_entry(self, node_name: str) -> NodeConfig | None:
        """The file's ``NodeConfig`` entry for ``node_name``, if any."""
        return next((n for n in self.node_config if n.node_name == node_name), None)
