"""Assembly of the node half of the agent: vswitch inputs, DHCP leases, Kubernetes callbacks.

Kept out of agent.py so the agent (and the tests, which build the same
pieces around an emulator) wire them the same way.
"""

from __future__ import annotations

import logging

from contivctl.config.model import Config, NodeConfig
from contivctl.config.node import effective_config, node_ip_exclusions
from contivctl.controller import Controller
from contivctl.controller.events import ManagementIPsChanged, NodeConfigChanged, NodeIPChanged, NodeRemoved
from contivctl.controller.nodes import inputs_for
from contivctl.dataplane.linux.hostaddrs import host_ipv4_addresses
from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.dataplane.vpp.dhcp import Lease, on_leases
from contivctl.dataplane.vpp.nics import physical_nics
from contivctl.ipam import node_plan
from contivctl.items.vpp import interface_key
from contivctl.k8s.sources import Callbacks
from contivctl.render import node_naming as nn
from contivctl.render.base import VswitchInputs
from contivctl.render.nics import main_if_name

log = logging.getLogger(__name__)


async def vswitch_inputs(
    cfg: Config,
    node_name: str,
    node_id: int,
    vpp: VPPConnection,
    *,
    crd: NodeConfig | None = None,
    host_netns: str = "",
    host_if: str = nn.HOST_IF_HOST,
    vswitch_if: str = nn.HOST_IF_VSWITCH,
) -> VswitchInputs:
    """This node's vswitch inputs: config, address plan, the NICs VPP has and the host's addresses."""
    eff = effective_config(cfg, node_name, crd)
    plan = node_plan(
        cfg.ipam, node_id, excluded=node_ip_exclusions(cfg), dhcp=eff.use_dhcp, static_ip=eff.main_interface.ip
    )
    nics = await physical_nics(vpp)
    host_ips = await host_ipv4_addresses(host_netns, skip=(host_if, vswitch_if))
    return VswitchInputs(
        eff=eff,
        plan=plan,
        nics=tuple(nics),
        host_ips=tuple(host_ips),
        host_netns=host_netns,
        host_if=host_if,
        vswitch_if=vswitch_if,
    )


def with_crd(inputs: VswitchInputs, crd: NodeConfig | None) -> VswitchInputs:
    """The same inputs under another NodeConfig (before the controller runs: no lease yet)."""
    return inputs_for(inputs.config, inputs.eff.node_name, inputs.plan.node_id, inputs, crd, None)


def watch_main_nic_leases(vpp: VPPConnection, controller: Controller) -> None:
    """Turn DHCP leases of the main NIC into NodeIPChanged events (other NICs' leases change nothing)."""

    def on_lease(lease: Lease) -> None:
        view = controller.node_view
        if view is None:
            return
        key = interface_key(main_if_name(view.inputs))
        try:
            main_index = controller.reconciler.metadata(key)
        except KeyError:
            return  # the main NIC is not configured (yet): the lease cannot be ours
        if main_index != lease.sw_if_index:
            return
        log.info("DHCP lease on the main interface: %s via %s", lease.address, lease.router)
        controller.post(NodeIPChanged(address=str(lease.address), gateway=str(lease.router or "")))

    on_leases(vpp, on_lease)


def kubernetes_callbacks(controller: Controller) -> Callbacks:
    """Kubernetes changes as controller events (posted, never awaited: a reflector must not wait)."""
    return Callbacks(
        management_ips=lambda name, ips: controller.post(ManagementIPsChanged(name=name, ips=ips)),
        node_deleted=lambda name: controller.post(NodeRemoved(node_id=0, name=name)),
        node_config=lambda cfg: controller.post(NodeConfigChanged(node_config=cfg)),
    )
