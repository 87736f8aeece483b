"""The VPP flavour: VPP plays the vswitch, the Linux driver wires the pod and host ends.

What only this flavour has: the connection to VPP (awaited at start,
followed across VPP restarts with a full resync), packet tracing, the NICs
VPP found at boot and the host stack's addresses as inputs, DHCP leases of
VPP's clients, which arrive as events, and in STN mode what the STN daemon
stole (asked once at start: the node IP and gateway come from it).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import attrs

from contivctl.dataplane.linux import linux_descriptors
from contivctl.dataplane.linux.hostaddrs import host_ipv4_addresses
from contivctl.dataplane.vpp.connection import Reconnected, RequestObserver, VPPConnection
from contivctl.dataplane.vpp.descriptors import vpp_descriptors
from contivctl.dataplane.vpp.dhcp import on_leases
from contivctl.dataplane.vpp.natsessions import IdleSessionSweeper, IdleTimeouts, SweepObserver
from contivctl.dataplane.vpp.nics import physical_nics
from contivctl.dataplane.vpp.trace import enable_packet_trace
from contivctl.errors import STNError, VPPError
from contivctl.events import DhcpLeased, Post, Resync
from contivctl.ipam import NodeSetup, node_setup
from contivctl.reconcile.descriptor import Descriptor
from contivctl.render import naming
from contivctl.render import vpp as vpp_render
from contivctl.render.inputs import VswitchInputs
from contivctl.render.renderers import Renderers
from contivctl.stn.client import STNClient

log = logging.getLogger(__name__)


@attrs.frozen
class HostStack:
    """Where the host's own network stack is, as seen from the agent.

    In production it is the agent's own namespace with the interconnect's
    usual names; tests put it in a namespace of their own, under names of
    their own, so that nothing touches the machine's tables.
    """

    netns: str = ""
    host_if: str = naming.HOST_IF_HOST
    vswitch_if: str = naming.HOST_IF_VSWITCH


class VppParts:
    renderers: Renderers = vpp_render.RENDERERS

    def __init__(
        self,
        vpp: VPPConnection,
        *,
        scope: str,
        state_dir: Path | None = None,
        host: HostStack | None = None,
        packet_trace: bool = False,
        wait: float | None = None,
        idle_nat: IdleTimeouts | None = None,
        stn_wait: float = 30.0,
    ) -> None:
        self.vpp = vpp
        self.host = host or HostStack()
        self._scope = scope
        self._state_dir = state_dir
        self._packet_trace = packet_trace
        #: how long the start waits for VPP (None: as long as it takes, as a node must)
        self._wait = wait
        #: how long the start asks the STN daemon again while it does not answer (it may start with the agent)
        self._stn_wait = stn_wait
        self._tracing: asyncio.Task[None] | None = None
        #: CleanupIdleNATSessions: swept every "other" timeout, as the original did
        self.nat_sweeper = IdleSessionSweeper(vpp, idle_nat, idle_nat.other) if idle_nat else None
        #: the full resync a VPP restart set off, until the controller has run it
        self._restoring: Resync | None = None

    def descriptors(self) -> list[Descriptor[Any]]:
        return [
            *vpp_descriptors(self.vpp, state_dir=self._state_dir, af_packet_owner=naming.pod_if_name_of_host_link),
            *linux_descriptors(scope=self._scope, always=(self.host.netns,)),
        ]

    async def connect(self) -> None:
        await self.vpp.start(wait=self._wait)
        if self._packet_trace:
            await self._trace_packets()

    async def inputs(self, setup: NodeSetup) -> VswitchInputs:
        """The setup plus the NICs VPP has and the host's addresses that VPP routes back."""
        if setup.eff.stn_mode:
            setup = await self._stolen(setup)
        host = self.host
        nics = await physical_nics(self.vpp)
        if setup.eff.stn_mode and not nics:
            raise STNError(
                "STN mode, but VPP has no NIC: the NIC must be stolen (contivctl stn steal) before VPP starts, "
                "or VPP skips it as a NIC Linux still uses"
            )
        host_ips = await host_ipv4_addresses(host.netns, skip=(host.host_if, host.vswitch_if))
        return VswitchInputs(
            eff=setup.eff,
            plan=setup.plan,
            dhcp_gateway=setup.dhcp_gateway,
            nics=tuple(nics),
            host_ips=tuple(host_ips),
            host_netns=host.netns,
            host_if=host.host_if,
            vswitch_if=host.vswitch_if,
            stolen=setup.stolen,
        )

    async def _stolen(self, setup: NodeSetup) -> NodeSetup:
        """The setup with the node IP and gateway of the NIC the STN daemon stole (raises STNError)."""
        eff = setup.eff
        name = eff.steal_interface  # "" with StealFirstNIC: the daemon answers for the first NIC it stole
        client = STNClient(eff.config.stn_socket_file)
        stolen = await client.wait_info(name, wait=self._stn_wait)
        what = name or "the stolen NIC"
        stolen = attrs.evolve(stolen, name=name)
        if stolen.node_ip is None:
            raise STNError(f"{what} had no IPv4 address when it was stolen: in STN mode that address is the node IP")
        if stolen.gateway is None:
            raise STNError(
                f"{what} ({stolen.node_ip}) had no default route, and its subnet has no address to spare "
                "for a gateway of the host stack"
            )
        log.info(
            "STN: %s stolen with %s, gateway %s (%s)",
            what,
            ", ".join(str(a) for a in stolen.addresses),
            stolen.gateway,
            "its default route" if stolen.default_gateway is not None else "made up in its subnet",
        )
        crd = eff.node if eff.source == "crd" else None
        return node_setup(eff.config, eff.node_name, setup.plan.node_id, crd=crd, stolen=stolen)

    def follow(self, post: Post) -> None:
        """Leases become ``DhcpLeased``; a VPP that lost its configuration gets it back by a full resync."""
        on_leases(self.vpp, lambda lease: post(DhcpLeased(lease=lease)))

        def back(event: Reconnected) -> None:
            if not event.restarted:
                # VPP kept its state, but what was in flight when the connection broke may or may not
                # have been done: read it all again (nothing changes where nothing differs)
                again = Resync(full=False, reason=f"reconnected to VPP: {event.reason}")
                # the controller logs how it went; a resync that failed (the connection lost again) is
                # followed by the next reconnect's
                again.reply.add_done_callback(lambda f: f.cancelled() or f.exception())
                post(again)
                return
            log.warning("VPP restarted (%s): full resync", event.reason)
            resync = Resync(full=True, reason=f"VPP restarted: {event.reason}")
            self._restoring = resync
            resync.reply.add_done_callback(lambda _: self._restored(resync))
            post(resync)
            if self._packet_trace:
                self._tracing = asyncio.get_running_loop().create_task(self._trace_packets())

        self.vpp.on_reconnect = back
        if self.nat_sweeper is not None:
            self.nat_sweeper.start()

    def _restored(self, resync: Resync) -> None:
        if not resync.reply.cancelled():
            resync.reply.exception()  # the controller logged it; what it left failed, readiness names
        if self._restoring is resync:
            self._restoring = None

    async def _trace_packets(self) -> None:
        try:
            await enable_packet_trace(self.vpp)
        except VPPError as exc:  # a debugging aid: its failure must not stop the agent
            log.warning("packet trace not enabled: %s", exc)

    def not_ready(self) -> str | None:
        if not self.vpp.connected:
            return "VPP is not connected"
        if self._restoring is not None:
            return f"VPP restarted: its configuration is being restored ({self._restoring.reason})"
        return None

    def observe(self, observer: RequestObserver) -> None:
        self.vpp.observer = observer
        if self.nat_sweeper is not None and isinstance(observer, SweepObserver):
            self.nat_sweeper.observer = observer

    def describe(self) -> dict[str, Any]:
        info = self.vpp.info
        return {
            "name": "vpp",
            "connected": self.vpp.connected,
            "socket": self.vpp.socket_path,
            "version": info.version if info else "",
            "pid": info.pid if info else 0,
            "natSessionSweep": self.nat_sweeper.describe() if self.nat_sweeper else None,
        }

    async def cli(self, command: str) -> str:
        reply = await self.vpp.call("cli_inband", cmd=command)
        return str(reply.reply)

    async def close(self) -> None:
        if self.nat_sweeper is not None:
            await self.nat_sweeper.stop()
        await self.vpp.close()
