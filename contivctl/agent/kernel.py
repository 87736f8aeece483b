"""The kernel flavour: the Linux kernel of one namespace plays the vswitch.

No VPP to wait for or to ask: the inputs come from the config and the
address plan alone (no NICs to discover, no host addresses to route back —
the host stack *is* the vswitch), nothing leases an address, and the
dataplane is there as long as the namespace is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contivctl.dataplane.linux import kernel_descriptors
from contivctl.errors import ConfigError, ConfigProblem, ContivError
from contivctl.events import Post
from contivctl.ipam import NodeSetup
from contivctl.reconcile.descriptor import Descriptor
from contivctl.render import kernel as kernel_render
from contivctl.render.inputs import VswitchInputs
from contivctl.render.kernel.names import IP_FORWARD, NFT_TABLE, SERVICE_TABLE
from contivctl.render.renderers import Renderers

if TYPE_CHECKING:  # a type only: the kernel flavour does not load VPP's client
    from contivctl.dataplane.vpp.connection import RequestObserver


class KernelParts:
    renderers: Renderers = kernel_render.RENDERERS

    def __init__(self, vswitch_netns: str = "", *, scope: str) -> None:
        #: the namespace playing the vswitch ("" = the agent's own)
        self.vswitch_netns = vswitch_netns
        self._scope = scope

    def descriptors(self) -> list[Descriptor[Any]]:
        return kernel_descriptors(
            self.vswitch_netns,
            sysctls=(IP_FORWARD,),
            nft_tables=(NFT_TABLE,),
            scope=self._scope,
            service_tables=(SERVICE_TABLE,),
        )

    async def connect(self) -> None:
        return None

    async def inputs(self, setup: NodeSetup) -> VswitchInputs:
        if setup.eff.stn_mode:  # there is no VPP to hand a stolen NIC to
            key = "StealInterface" if setup.eff.steal_interface else "StealFirstNIC"
            raise ConfigError(
                [ConfigProblem(key, "STN needs the VPP dataplane: the kernel dataplane keeps the NIC in Linux")]
            )
        return VswitchInputs(
            eff=setup.eff, plan=setup.plan, dhcp_gateway=setup.dhcp_gateway, host_netns=self.vswitch_netns
        )

    def follow(self, post: Post) -> None:
        return None

    def not_ready(self) -> str | None:
        return None

    def observe(self, observer: RequestObserver) -> None:
        return None  # the kernel is reached by netlink alone: nothing to time per request

    def describe(self) -> dict[str, Any]:
        return {"name": "kernel", "connected": True, "vswitchNetns": self.vswitch_netns or "(the agent's own)"}

    async def cli(self, command: str) -> str:
        raise ContivError("the kernel dataplane has no VPP CLI: use ip and nft in the vswitch namespace")

    async def close(self) -> None:
        return None
