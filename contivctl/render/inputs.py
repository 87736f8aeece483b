"""What the renderers of both dataplanes are rendered from.

The controller keeps one ``VswitchInputs`` and replaces it whenever any
part changes (a NodeConfig from the CRD, a DHCP lease, the NICs VPP
reported); the renderers are pure functions of it. ``PodNetwork`` is the
part of it a pod's items need, derived once per inputs by the dataplane's
renderers (``Renderers.network``).
"""

from __future__ import annotations

from typing import Literal

import attrs

from contivctl.config.model import Config, NodeConfig
from contivctl.config.node import EffectiveConfig, effective_config
from contivctl.errors import ConfigError, ConfigProblem
from contivctl.ipam import NodeAddressPlan, node_setup
from contivctl.iptypes import IPAddress
from contivctl.items import linux as lx
from contivctl.items import vpp
from contivctl.model import DhcpLease, StolenInterface
from contivctl.render import naming


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
    #: namespace of the host stack ("" = the agent's own, as in production); the kernel
    #: dataplane's vswitch namespace
    host_netns: str = ""
    #: Linux names of the interconnect's host end and (VETH mode) vswitch end
    host_if: str = naming.HOST_IF_HOST
    vswitch_if: str = naming.HOST_IF_VSWITCH
    #: Kubernetes Services are forwarded by this agent (render/vpp/services.py, render/kernel/services.py)
    services: bool = False
    #: STN mode: what the main NIC had in Linux before the STN daemon took it for VPP
    stolen: StolenInterface | None = None

    @property
    def config(self) -> Config:
        return self.eff.config

    @property
    def crd(self) -> NodeConfig | None:
        """The NodeConfig from the CRD in effect, if that is where the node entry came from."""
        return self.eff.node if self.eff.source == "crd" else None

    def reconfigured(self, crd: NodeConfig | None, lease: DhcpLease | None) -> VswitchInputs:
        """The same node under another NodeConfig or DHCP lease (raises IPAMError when no node IP fits).

        STN mode is settled at the agent's start, when the STN daemon is
        asked what it stole: a NodeConfig that would turn it on or off is
        refused (ConfigError), not half applied.
        """
        if effective_config(self.config, self.eff.node_name, crd).stn_mode != self.eff.stn_mode:
            now = "off" if self.eff.stn_mode else "on"
            raise ConfigError(
                [
                    ConfigProblem(
                        "StealInterface",
                        f"NodeConfig of {self.eff.node_name} would turn STN mode {now}; STN mode is set when the "
                        "agent starts (from its configuration file): not applied",
                    )
                ]
            )
        setup = node_setup(self.config, self.eff.node_name, self.plan.node_id, crd=crd, lease=lease, stolen=self.stolen)
        return attrs.evolve(self, eff=setup.eff, plan=setup.plan, dhcp_gateway=setup.dhcp_gateway)


PodIfMode = Literal["veth", "tap"]


@attrs.frozen
class PodNetwork:
    """What the pod renderers need to know of the node (from config and the IPAM plan)."""

    mode: PodIfMode
    gateway: IPAddress
    pod_vrf: int
    mtu: int = 0
    rx_ring_size: int = 256
    tx_ring_size: int = 256
    checksum_offload: bool = True
    rx_mode: vpp.RxMode | None = None
    #: namespace of the vswitch side of veth pairs ("" = the agent's own)
    vswitch_netns: str = lx.HOST_NS
    #: pods labelled ``ldpreload: "true"`` get the VPP TCP stack too
    tcp_stack: bool = False
    #: VPP: pod interfaces are NAT inside and outside, for Services
    service_nat: bool = False


def l2_mode(cfg: Config) -> bool:
    """No overlay: UseL2Interconnect (v2.0/v2.1) or nodeToNodeTransport "nooverlay" (later)."""
    return cfg.use_l2_interconnect or cfg.node_to_node_transport == "nooverlay"
