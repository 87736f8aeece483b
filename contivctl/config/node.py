"""The configuration that applies to one node.

A node's own entry (from the NodeConfig CRD, else from the file's list)
replaces the file entry whole; the two are never merged field by field, as
in the original. Only NatExternalTraffic combines global and node values (OR)
and StealInterface prefers the node's value over the global one.
"""

from __future__ import annotations

from typing import Literal

import attrs

from contivctl.config.model import Config, InterfaceConfig, NodeConfig
from contivctl.iptypes import IPAddress

NodeConfigSource = Literal["crd", "file", "none"]


@attrs.frozen
class EffectiveConfig:
    """Global config plus the node entry that applies, with the combined values worked out."""

    node_name: str
    config: Config
    node: NodeConfig
    source: NodeConfigSource
    nat_external_traffic: bool
    steal_interface: str

    @property
    def main_interface(self) -> InterfaceConfig:
        return self.node.main_vpp_interface

    @property
    def gateway(self) -> IPAddress | None:
        return self.node.gateway or self.config.ipam.default_gateway

    @property
    def use_dhcp(self) -> bool:
        """DHCP on the main NIC, unless a static IP is configured (a static IP always wins)."""
        main = self.node.main_vpp_interface
        if main.ip is not None:
            return False
        return main.use_dhcp or self.config.ipam.node_interconnect_dhcp

    @property
    def stn_mode(self) -> bool:
        return self.config.steal_first_nic or bool(self.steal_interface)


def effective_config(cfg: Config, node_name: str, crd: NodeConfig | None = None) -> EffectiveConfig:
    """The config for ``node_name``: its CRD entry if given, else its file entry, else none."""
    if crd is not None:
        node, source = attrs.evolve(crd, node_name=node_name), "crd"
    elif (entry := cfg.node_entry(node_name)) is not None:
        node, source = entry, "file"
    else:
        node, source = NodeConfig(node_name=node_name), "none"
    return EffectiveConfig(
        node_name=node_name,
        config=cfg,
        node=node,
        source=source,  # type: ignore[arg-type]
        nat_external_traffic=cfg.nat_external_traffic or node.nat_external_traffic,
        steal_interface=node.steal_interface or cfg.steal_interface,
    )


def node_ip_exclusions(cfg: Config) -> tuple[IPAddress, ...]:
    """Addresses the computed node IPs skip: every gateway of the file's node entries (v2.0 rule).

    Keeping the v2.0 rule keeps node IPs stable for clusters upgraded from
    it; CRD gateways are not included, exactly as before.
    """
    gateways = {n.gateway for n in cfg.node_config if n.gateway is not None}
    return tuple(sorted(gateways, key=lambda a: (a.version, int(a))))
