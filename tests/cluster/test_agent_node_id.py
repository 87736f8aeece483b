"""The agent's start-up step: with etcd and no --node-id the ID comes from the allocator, remembered locally."""

from __future__ import annotations

from pathlib import Path

import pytest

from contivctl.agent.cluster import cluster_node_id
from contivctl.agent.options import AgentOptions
from contivctl.cli import build_parser
from contivctl.cluster.nodeid import remembered_id
from contivctl.kv.etcdconf import etcd_config
from contivctl.kv.local import LocalStore
from contivctl.testing.etcd import EtcdServer


def options(
    tmp_path: Path, etcd: EtcdServer | None, name: str, node_id: int = 1, allocate: bool = False
) -> AgentOptions:
    cfg = None if etcd is None else etcd_config([etcd.endpoint], dial_timeout=1, op_timeout=1)
    return AgentOptions(
        config=tmp_path / "contiv.yaml",
        node_name=name,
        node_id=node_id,
        store=tmp_path / name / "agent.db",
        etcd=cfg,
        allocate_node_id=allocate,
    )


async def test_node_id_from_the_allocator_and_kept(etcd: EtcdServer, tmp_path: Path) -> None:
    a = await cluster_node_id(options(tmp_path, etcd, "a", allocate=True))
    b = await cluster_node_id(options(tmp_path, etcd, "b", allocate=True))
    assert (a.node_id, b.node_id) == (1, 2)
    local = await LocalStore.open(a.store)
    try:
        remembered = await remembered_id(local)
    finally:
        await local.close()
    assert remembered is not None and (remembered.id, remembered.name) == (1, "a")
    etcd.stop()  # a restart without etcd: the remembered ID
    again = await cluster_node_id(options(tmp_path, etcd, "a", allocate=True))
    assert again.node_id == 1


async def test_explicit_id_and_lone_node_are_left_alone(etcd: EtcdServer, tmp_path: Path) -> None:
    explicit = options(tmp_path, etcd, "a", node_id=7)
    assert await cluster_node_id(explicit) == explicit
    lone = options(tmp_path, None, "a", node_id=3)
    assert await cluster_node_id(lone) == lone


def test_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONTIV_ETCD", "ETCD_CONFIG", "CONTIV_NODE_ID"):
        monkeypatch.delenv(name, raising=False)
    args = build_parser().parse_args(["agent", "--etcd", "10.0.0.1:2379"])
    assert (args.etcd, args.etcd_config, args.node_id) == ("10.0.0.1:2379", "", None)
    args = build_parser().parse_args(["agent", "--node-id", "4"])
    assert (args.etcd, args.node_id) == ("", 4)
    monkeypatch.setenv("CONTIV_ETCD", "10.0.0.2:2379")
    monkeypatch.setenv("ETCD_CONFIG", "/etc/etcd/etcd.conf")
    monkeypatch.setenv("CONTIV_NODE_ID", "9")
    args = build_parser().parse_args(["agent"])
    assert (args.etcd, args.etcd_config, args.node_id) == ("10.0.0.2:2379", "/etc/etcd/etcd.conf", 9)
