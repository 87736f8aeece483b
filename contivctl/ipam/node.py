"""This node's effective configuration and address plan, derived in one place.

The agent derives them at start, the controller again whenever the node's
NodeConfig or the main NIC's DHCP lease changes, and ``contivctl ipam plan``
offline: all through ``node_setup``, so that the rules (a static IP wins
over DHCP, a lease replaces the computed node IP, the file's gateways are
skipped when node IPs are computed) cannot drift apart.
"""

from __future__ import annotations

import attrs

from contivctl.config.model import Config, NodeConfig
from contivctl.config.node import EffectiveConfig, effective_config, node_ip_exclusions
from contivctl.ipam.plan import NodeAddressPlan, node_plan
from contivctl.iptypes import IPAddress
from contivctl.model import DhcpLease


@attrs.frozen
class NodeSetup:
    eff: EffectiveConfig
    #: the address plan; ``node_ip`` is the current node IP (static, computed or leased)
    plan: NodeAddressPlan
    #: the router of the main NIC's DHCP lease, while the node IP comes from one
    dhcp_gateway: IPAddress | None = None


def node_setup(
    cfg: Config, node_name: str, node_id: int, *, crd: NodeConfig | None = None, lease: DhcpLease | None = None
) -> NodeSetup:
    """The effective config and address plan of node ``node_name`` (raises IPAMError when no node IP fits)."""
    eff = effective_config(cfg, node_name, crd)
    plan = node_plan(
        cfg.ipam, node_id, excluded=node_ip_exclusions(cfg), dhcp=eff.use_dhcp, static_ip=eff.main_interface.ip
    )
    if eff.use_dhcp and lease is not None:
        return NodeSetup(eff, attrs.evolve(plan, node_ip=lease.address), lease.router)
    return NodeSetup(eff, plan)
