"""Packet tracing in VPP (``EnablePacketTrace``): a debugging aid, switched on through VPP's CLI.

The trace filter is not state the API can read back, and VPP forgets it on
restart, so it is not a reconciled item: the agent switches it on after
every connect to a VPP that started afresh.
"""

from __future__ import annotations

from collections.abc import Sequence

from contivctl.dataplane.vpp.connection import VPPConnection

#: the input nodes the original traced: physical NICs and virtio (TAP) interfaces
TRACED_NODES = ("dpdk-input", "virtio-input")
TRACE_PACKETS = 100000


async def enable_packet_trace(
    vpp: VPPConnection, nodes: Sequence[str] = TRACED_NODES, packets: int = TRACE_PACKETS
) -> None:
    """``trace add <node> <packets>`` for each input node (see ``vppctl show trace``)."""
    await vpp.call_many([("cli_inband", {"cmd": f"trace add {node} {packets}"}) for node in nodes])
