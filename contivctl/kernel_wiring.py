"""Assembly of the kernel dataplane's inputs: what agent.py and the tests build the same way.

No VPP to ask: the vswitch inputs come from the config and the address plan
alone (no NICs to discover, no host addresses to route back — the host
stack is the vswitch), and the namespace playing the vswitch is given.
"""

from __future__ import annotations

from contivctl.config.model import Config, NodeConfig
from contivctl.config.node import effective_config, node_ip_exclusions
from contivctl.ipam import NodeAddressPlan, node_plan
from contivctl.render.base import VswitchInputs
from contivctl.render.pod import PodNetwork


def kernel_vswitch_inputs(
    cfg: Config, node_name: str, node_id: int, vswitch_netns: str, *, crd: NodeConfig | None = None
) -> VswitchInputs:
    """This node's inputs with ``vswitch_netns`` ("" = the agent's own) as the host stack."""
    eff = effective_config(cfg, node_name, crd)
    plan = node_plan(
        cfg.ipam, node_id, excluded=node_ip_exclusions(cfg), dhcp=eff.use_dhcp, static_ip=eff.main_interface.ip
    )
    return VswitchInputs(eff=eff, plan=plan, host_netns=vswitch_netns)


def kernel_pod_network(cfg: Config, plan: NodeAddressPlan, vswitch_netns: str) -> PodNetwork:
    """Pods get a veth whatever UseTAPInterfaces says: a TAP needs a user-space end the kernel has not got."""
    return PodNetwork(
        mode="veth",
        gateway=plan.pod_gateway,
        pod_vrf=cfg.pod_vrf_id,
        mtu=cfg.mtu_size,
        checksum_offload=not cfg.tcp_checksum_offload_disabled,
        vswitch_netns=vswitch_netns,
    )
