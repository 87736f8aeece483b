"""A Kubernetes Node deleted: the agent's removal hook takes that node out of etcd."""

from __future__ import annotations

from pathlib import Path

from contivctl.agent.agent import Agent
from contivctl.agent.options import AgentOptions
from contivctl.cluster.admin import list_nodes
from contivctl.cluster.nodeid import allocate_node_id
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import etcd_config
from contivctl.testing.etcd import EtcdServer
from tests.cluster.conftest import MemoryStore

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contiv.yaml"


async def test_the_agent_removes_a_deleted_node_from_etcd(etcd: EtcdServer, store: EtcdStore, tmp_path: Path) -> None:
    for name in ("node-a", "node-b"):
        await allocate_node_id(store, MemoryStore(), name)
    agent = Agent(
        AgentOptions(
            config=EXAMPLE,
            node_name="node-a",
            store=tmp_path / "agent.db",
            etcd=etcd_config([etcd.endpoint], dial_timeout=2.0, op_timeout=2.0),
            no_kubernetes=True,
        )
    )
    (hook,) = agent.node_removal_hooks
    await hook("node-b")
    assert [n.name for n in await list_nodes(store)] == ["node-a"]
    await hook("node-b")  # a second deletion event changes nothing
    assert [n.name for n in await list_nodes(store)] == ["node-a"]


async def test_without_etcd_there_is_no_removal_hook(tmp_path: Path) -> None:
    agent = Agent(AgentOptions(config=EXAMPLE, node_name="node-a", store=tmp_path / "agent.db", no_kubernetes=True))
    assert agent.node_removal_hooks == []
