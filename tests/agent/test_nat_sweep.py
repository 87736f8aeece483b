"""CleanupIdleNATSessions in the running agent: idle sessions leave VPP every OtherNATSessionTimeout."""

from __future__ import annotations

from pathlib import Path

from contivctl.agent.agent import Agent
from contivctl.agent.options import AgentOptions
from contivctl.agent.vpp import VppParts
from contivctl.testing.vppemu import Emulator
from tests.agent.support import API_DIR, eventually
from tests.agent.test_packet_trace import EXAMPLE, free_port

TCP, UDP = 6, 17


async def test_the_agent_sweeps_idle_nat_sessions(emu: Emulator, sockdir: Path, tmp_path: Path) -> None:
    config = tmp_path / "contiv.yaml"
    # a one-second "other" timeout: the sweep runs every second; a gateway: external traffic is NATed
    text = EXAMPLE.read_text().replace("OtherNATSessionTimeout: 5", 'OtherNATSessionTimeout: "1s"')
    config.write_text(text + "NodeConfig:\n  - NodeName: node-a\n    Gateway: 192.168.16.254\n")
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
        assert emu.state.nat.enabled  # NatExternalTraffic
        emu.nat_session(("10.1.1.5", 40000), ("192.168.16.1", 1024), ("8.8.8.8", 53), protocol=UDP, idle_for=60)
        emu.nat_session(("10.1.1.5", 40001), ("192.168.16.1", 1025), ("1.1.1.1", 443), protocol=TCP, idle_for=60)

        async def udp_gone() -> bool:
            return [s.inside_port for s in emu.state.nat.sessions] == [40001]

        await eventually(udp_gone)
        parts = agent.parts
        assert isinstance(parts, VppParts)
        report = parts.describe()["natSessionSweep"]
        assert report["deleted"] == 1 and report["otherTimeoutSeconds"] == 1.0
        assert "contivctl_nat_sessions_deleted_total 1.0" in agent.metrics.exposition().decode()
    finally:
        await agent.stop()
