"""EnablePacketTrace: the agent switches VPP's packet trace on at connect, and again after a VPP restart."""

from __future__ import annotations

import socket
from pathlib import Path

from contivctl.agent.agent import Agent
from contivctl.agent.options import AgentOptions
from contivctl.testing.vppemu import Emulator
from tests.agent.support import API_DIR, eventually

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contiv.yaml"
TRACE = ["trace add dpdk-input 100000", "trace add virtio-input 100000"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_packet_trace_is_enabled_at_connect_and_after_a_vpp_restart(
    emu: Emulator, sockdir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "contiv.yaml"
    config.write_text(EXAMPLE.read_text().replace("EnablePacketTrace: false", "EnablePacketTrace: true"))
    agent = Agent(
        AgentOptions(
            config=config,
            node_name="node-a",
            store=tmp_path / "agent.db",
            vpp_socket=emu.socket_path,
            vpp_api_dir=API_DIR,
            cni_socket=str(sockdir / "cni.sock"),
            http=f"127.0.0.1:{free_port()}",
            no_kubernetes=True,
        )
    )
    await agent.start()
    try:
        assert [c for c in emu.state.cli if c.startswith("trace")] == TRACE
        await emu.restart()

        async def traced_again() -> bool:
            return [c for c in emu.state.cli if c.startswith("trace")] == TRACE

        await eventually(traced_again)
    finally:
        await agent.stop()


async def test_no_trace_unless_asked(emu: Emulator, sockdir: Path, tmp_path: Path) -> None:
    agent = Agent(
        AgentOptions(
            config=EXAMPLE,
            node_name="node-a",
            store=tmp_path / "agent.db",
            vpp_socket=emu.socket_path,
            vpp_api_dir=API_DIR,
            cni_socket=str(sockdir / "cni.sock"),
            http=f"127.0.0.1:{free_port()}",
            no_kubernetes=True,
        )
    )
    await agent.start()
    try:
        assert not [c for c in emu.state.cli if c.startswith("trace")]
    finally:
        await agent.stop()
