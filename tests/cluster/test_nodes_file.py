"""``--nodes-file``: the static member list, its errors, and the events a change of it posts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from contivctl.cluster.static import StaticMembership, load_nodes, load_nodes_apart, parse_nodes, write_nodes
from contivctl.errors import ConfigError
from contivctl.events import Event, NodeRemoved, NodeUpdated
from contivctl.model import NodeInfo

N1 = NodeInfo(1, "node1", ("10.88.0.1/24",))
N2 = NodeInfo(2, "node2", ("10.88.0.2/24",), ("192.168.1.2",))
N3 = NodeInfo(3, "node3", ("10.88.0.3/24",))


def test_the_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "nodes.yaml"
    write_nodes(path, [N1, N2, N3])
    assert load_nodes(path) == [N1, N2, N3]


async def test_parsed_in_a_child_process_the_same_members_and_problems(tmp_path: Path) -> None:
    path = tmp_path / "nodes.yaml"
    write_nodes(path, [N1, N2, N3])
    assert await load_nodes_apart(path) == [N1, N2, N3]
    path.write_text("nodes:\n  - {id: 0, name: a}\n")
    with pytest.raises(ConfigError) as bad:
        await load_nodes_apart(path)
    assert [p.path for p in bad.value.problems] == ["nodes[0].id"]
    with pytest.raises(ConfigError) as gone:
        await load_nodes_apart(tmp_path / "missing.yaml")
    assert "cannot be read" in str(gone.value)


def test_a_single_address_may_be_a_string() -> None:
    assert parse_nodes({"nodes": [{"id": 1, "name": "node1", "ip": "10.88.0.1/24"}]}) == [N1]


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"id": 0, "name": "a"}, "nodes[0].id"),
        ({"id": True, "name": "a"}, "nodes[0].id"),
        ({"id": 1, "name": ""}, "nodes[0].name"),
        ({"id": 1, "name": "a", "ip": "10.0.0.1"}, "nodes[0].ip"),
        ({"id": 1, "name": "a", "ip": "nonsense/24"}, "nodes[0].ip"),
        ({"id": 1, "name": "a", "management_ip": ["10.0.0.1/24"]}, "nodes[0].management_ip"),
    ],
)
def test_a_bad_entry_is_named(entry: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_nodes({"nodes": [entry]})
    assert err.value.problems[0].path == where


def test_a_node_listed_twice_is_refused() -> None:
    with pytest.raises(ConfigError):
        parse_nodes({"nodes": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]})


def test_a_change_posts_only_the_difference_and_skips_this_node(tmp_path: Path) -> None:
    path = tmp_path / "nodes.yaml"
    write_nodes(path, [N1, N2, N3])
    posted: list[Event] = []

    async def scenario() -> None:
        members = StaticMembership(path, "node1", posted.append)
        first = members.read()
        assert first == [N2, N3]
        members.seed(first)
        members.apply([N2, N3])
        assert posted == []  # nothing new
        moved = NodeInfo(3, "node3", ("10.88.0.33/24",))
        members.apply([moved])
        assert [type(e) for e in posted] == [NodeRemoved, NodeUpdated]
        removed, updated = posted
        assert isinstance(removed, NodeRemoved) and removed.node_id == 2
        assert isinstance(updated, NodeUpdated) and updated.node == moved

    asyncio.run(scenario())


def test_the_file_is_followed_and_a_broken_edit_keeps_the_members(tmp_path: Path) -> None:
    path = tmp_path / "nodes.yaml"
    write_nodes(path, [N1, N2])
    posted: list[Event] = []

    async def scenario() -> None:
        members = StaticMembership(path, "node1", posted.append, interval=0.01)
        members.seed(members.read())
        await members.start()
        try:
            path.write_text("nodes: [ {id: 2")  # half-saved
            write_nodes(tmp_path / "other.yaml", [])  # a different file changes nothing
            async with asyncio.timeout(5):
                while members._stamp != members._stat():
                    await asyncio.sleep(0.01)
            assert posted == []
            write_nodes(path, [N1, N3])
            async with asyncio.timeout(5):
                while len(posted) < 2:
                    await asyncio.sleep(0.01)
        finally:
            await members.stop()
        assert isinstance(posted[0], NodeRemoved) and posted[0].node_id == 2
        assert isinstance(posted[1], NodeUpdated) and posted[1].node == N3

    asyncio.run(scenario())


def test_the_agent_takes_its_members_from_a_file_or_from_etcd_not_both(tmp_path: Path) -> None:
    from contivctl.cli import EXIT_USAGE, main

    cfg = tmp_path / "contiv.yaml"
    cfg.write_text("MTUSize: 1400\n")
    nodes = tmp_path / "nodes.yaml"
    write_nodes(nodes, [N1])
    argv = ["agent", "--config", str(cfg), "--node-name", "node1", "--nodes-file", str(nodes), "--etcd", "127.0.0.1:1"]
    assert main(argv) == EXIT_USAGE
