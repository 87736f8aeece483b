"""An agent in an etcd cluster restarts without touching its peers' items."""

from __future__ import annotations

import socket
from pathlib import Path

from contivctl.agent.agent import Agent
from contivctl.agent.cluster import cluster_node_id
from contivctl.agent.node import Node
from contivctl.agent.options import AgentOptions
from contivctl.agent.vpp import VppParts
from contivctl.cluster.nodeid import allocate_node_id
from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import etcd_config
from contivctl.testing.etcd import EtcdServer
from contivctl.testing.vppemu import Emulator
from tests.agent.support import API_DIR
from tests.cluster.conftest import MemoryStore, wait_until
from tests.nodes.support import tunnels

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contiv.yaml"
PEER_IP = "192.168.16.9"


def vpp_of(agent: Agent) -> VPPConnection:
    assert isinstance(agent.parts, VppParts)
    return agent.parts.vpp


def again_node(agent: Agent) -> Node:
    assert agent.node is not None
    return agent.node


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_restarted_agent_keeps_its_peers_and_does_nothing(
    etcd: EtcdServer, store: EtcdStore, emu: Emulator, sockdir: Path, tmp_path: Path
) -> None:
    await allocate_node_id(store, MemoryStore(), "node-b", ip_addresses=(f"{PEER_IP}/24",))
    opts = await cluster_node_id(
        AgentOptions(
            config=EXAMPLE,
            node_name="node-a",
            store=tmp_path / "agent.db",
            vpp_socket=emu.socket_path,
            vpp_api_dir=API_DIR,
            cni_socket=str(sockdir / "cni.sock"),
            http=f"127.0.0.1:{free_port()}",
            etcd=etcd_config([etcd.endpoint], dial_timeout=2.0, op_timeout=2.0),
            allocate_node_id=True,
            no_kubernetes=True,
        )
    )
    first = Agent(opts)
    await first.start()
    try:

        async def tunnel_to_peer() -> bool:
            return any(dst == PEER_IP for _s, dst, _v in (await tunnels(vpp_of(first))).values())

        await wait_until(tunnel_to_peer)
    finally:
        await first.stop()
    again = Agent(await cluster_node_id(opts))
    await again.start()
    try:
        (record,) = [r for r in again_node(again).reconciler.history() if r.trigger == "startup resync"]
        assert record.ops == (), [(o.op, o.key) for o in record.ops]
        assert again.opts.node_id == opts.node_id
    finally:
        await again.stop()
