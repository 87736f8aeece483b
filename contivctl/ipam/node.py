"""This node's effective configuration and address plan, derived in one place.

The agent derives them at start, the controller again whenever the node's
NodeConfig or the main NIC's DHCP lease changes, and ``contivctl ipam plan``
offline: all through ``node_setup``, so that the rules (a static IP wins
over DHCP, a lease replaces the computed node IP, the file's gateways are
skipped when node IPs are computed, in STN mode the stolen NIC's first
address is the node IP) cannot drift apart.
"""

from __future__ import annotations

import attrs

from contivctl.config.model import Config, NodeConfig
from contivctl.config.node import EffectiveConfig, effective_config, node_ip_exclusions
from contivctl.ipam.plan import NodeAddressPlan, node_plan
from contivctl.iptypes import IPAddress
from contivctl.model import DhcpLease, StolenInterface


@attrs.frozen
class NodeSetup:
    eff: EffectiveConfig
    #: the address plan; ``node_ip`` is the current node IP (static, computed or leased)
    plan: NodeAddressPlan
    #: the router of the main NIC's DHCP lease, while the node IP comes from one
    dhcp_gateway: IPAddress | None = None
    #: in STN mode, what the NIC had before the STN daemon took it (None until the daemon told)
    stolen: StolenInterface | None = None


def node_setup(
    cfg: Config,
    node_name: str,
    node_id: int,
    *,
    crd: NodeConfig | None = None,
    lease: DhcpLease | None = None,
    stolen: StolenInterface | None = None,
) -> NodeSetup:
    """The effective config and address plan of node ``node_name`` (raises IPAMError when no node IP fits).

    In STN mode the node IP is the stolen NIC's, and unknown (None) until
    ``stolen`` says what it was; ``stolen`` is ignored outside STN mode.
    """
    eff = effective_config(cfg, node_name, crd)
    if eff.stn_mode:
        ip = stolen.node_ip if stolen is not None else None
        plan = node_plan(cfg.ipam, node_id, excluded=node_ip_exclusions(cfg), dhcp=ip is None, static_ip=ip)
        return NodeSetup(eff, plan, stolen=stolen)
    plan = node_plan(
        cfg.ipam, node_id, excluded=node_ip_exclusions(cfg), dhcp=eff.use_dhcp, static_ip=eff.main_interface.ip
    )
    if eff.use_dhcp and lease is not None:
        return NodeSetup(eff, attrs.evolve(plan, node_ip=lease.address), lease.router)
    return NodeSetup(eff, plan)
