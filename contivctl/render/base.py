"""What the vswitch base config is rendered from: one value holding this node's view.

The controller keeps one ``VswitchInputs`` and replaces it whenever any
part changes (a NodeConfig from the CRD, a DHCP lease, the NICs VPP
reported); the renderers are pure functions of it.
"""

from __future__ import annotations

import attrs

from contivctl.config.convert import IPAddress
from contivctl.config.model import Config, NodeConfig
from contivctl.config.node import EffectiveConfig, node_ip_exclusions
from contivctl.ipam import NodeAddressPlan
from contivctl.items import vpp
from contivctl.render import node_naming as nn
from contivctl.render.nodes import OverlayPlan

_RX_MODES = {
    "polling": vpp.RxMode.POLLING,
    "interrupt": vpp.RxMode.INTERRUPT,
    "adaptive": vpp.RxMode.ADAPTIVE,
}


@attrs.frozen
class VswitchInputs:
    eff: EffectiveConfig
    #: this node's address plan; ``node_ip`` is the current one (static, computed or leased)
    plan: NodeAddressPlan
    #: physical interfaces VPP has, by VPP name, in sw_if_index order
    nics: tuple[str, ...] = ()
    #: IPv4 addresses of the host stack that VPP routes to through the interconnect
    host_ips: tuple[IPAddress, ...] = ()
    #: the router of the main NIC's DHCP lease, once there is one
    dhcp_gateway: IPAddress | None = None
    #: namespace of the host stack ("" = the agent's own, as in production)
    host_netns: str = ""
    #: Linux names of the interconnect's host end and (VETH mode) vswitch end
    host_if: str = nn.HOST_IF_HOST
    vswitch_if: str = nn.HOST_IF_VSWITCH

    @property
    def config(self) -> Config:
        return self.eff.config

    @property
    def crd(self) -> NodeConfig | None:
        """The NodeConfig from the CRD in effect, if that is where the node entry came from."""
        return self.eff.node if self.eff.source == "crd" else None


def rx_mode(cfg: Config) -> vpp.RxMode | None:
    return _RX_MODES.get(cfg.interface_rx_mode)


def l2_mode(cfg: Config) -> bool:
    """No overlay: UseL2Interconnect (v2.0/v2.1) or nodeToNodeTransport "nooverlay" (later)."""
    return cfg.use_l2_interconnect or cfg.node_to_node_transport == "nooverlay"


def overlay_plan(inputs: VswitchInputs) -> OverlayPlan:
    cfg = inputs.config
    node_ip = inputs.plan.node_ip
    return OverlayPlan(
        node_id=inputs.plan.node_id,
        ipam=cfg.ipam,
        main_vrf=cfg.main_vrf_id,
        pod_vrf=cfg.pod_vrf_id,
        node_ip=None if node_ip is None else node_ip.ip,
        vxlan_ip=inputs.plan.vxlan_ip,
        l2=l2_mode(cfg),
        stn=inputs.eff.stn_mode,
        excluded=node_ip_exclusions(cfg),
    )
