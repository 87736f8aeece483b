"""The other nodes from a file instead of etcd (``contivctl agent --nodes-file FILE``).

For clusters whose members are known in advance and change by hand (a lab,
a local multi-node demo, an appliance): no etcd to run. The file is YAML::

    nodes:
      - {id: 1, name: node1, ip: 10.88.0.1/24}
      - {id: 2, name: node2, ip: [10.88.0.2/24], management_ip: [192.168.1.2]}

Every agent may be given the same file: its own entry (by name) is skipped.
The file is read once before the startup resync, so a restarted agent knows
its peers at once and leaves their items alone; afterwards it is checked
every ``interval`` seconds and each difference becomes a ``NodeUpdated`` or
``NodeRemoved`` event, exactly as etcd membership would post. A file that
does not parse keeps the last good member list (and is logged): a half-saved
edit must not make every peer "leave".

While the agent runs, the file is parsed in a process of its own
(``python -m contivctl.cluster.static FILE`` prints the members as JSON):
parsing YAML of thousands of nodes takes the better part of a second,
holding the interpreter lock for long stretches even in a thread, and every
pod event would wait behind it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from contivctl.cluster.watchedfile import WatchedFile, parse_apart, print_parsed
from contivctl.errors import ConfigError, ConfigProblem
from contivctl.events import NodeRemoved, NodeUpdated, Post
from contivctl.model import NodeInfo

log = logging.getLogger(__name__)

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: How often the file is looked at; a member change takes effect within this.
CHECK_INTERVAL = 1.0


def _addresses(entry: dict[str, Any], key: str, where: str, *, prefix: bool) -> tuple[str, ...]:
    raw = entry.get(key, [])
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError([ConfigProblem(f"{where}.{key}", f"{raw!r} is not an address or a list of addresses")])
    for item in items:
        try:
            if prefix:
                ipaddress.ip_interface(item)
                if "/" not in item:
                    raise ValueError("no prefix length")
            else:
                ipaddress.ip_address(item)
        except ValueError as exc:
            raise ConfigError([ConfigProblem(f"{where}.{key}", f"{item!r}: {exc}")]) from None
    return tuple(items)


def parse_nodes(data: Any, source: str = "nodes file") -> list[NodeInfo]:
    """Member records from the file's data; raises ConfigError naming the bad entry and value."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes", []), list):
        raise ConfigError([ConfigProblem(source, "must be a mapping with a list under 'nodes'")])
    out: list[NodeInfo] = []
    ids: set[int] = set()
    names: set[str] = set()
    for i, entry in enumerate(data.get("nodes") or []):
        where = f"nodes[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError([ConfigProblem(where, f"{entry!r} is not a mapping")])
        node_id, name = entry.get("id"), entry.get("name")
        if not isinstance(node_id, int) or isinstance(node_id, bool) or node_id < 1:
            raise ConfigError([ConfigProblem(f"{where}.id", f"{node_id!r} is not a node ID (1 …)")])
        if not isinstance(name, str) or not name:
            raise ConfigError([ConfigProblem(f"{where}.name", f"{name!r} is not a node name")])
        if node_id in ids or name in names:
            raise ConfigError([ConfigProblem(where, f"node ID {node_id} or name {name!r} appears twice")])
        ids.add(node_id)
        names.add(name)
        ips = _addresses(entry, "ip", where, prefix=True)
        mgmt = _addresses(entry, "management_ip", where, prefix=False)
        out.append(NodeInfo(id=node_id, name=name, ip_addresses=ips, management_ips=mgmt))
    return out


def load_nodes(path: Path) -> list[NodeInfo]:
    try:
        # libyaml's parser where PyYAML has it: the pure-Python one takes seconds for thousands of nodes
        data = yaml.load(path.read_text(), Loader=_LOADER)
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), f"cannot be read: {exc.strerror}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(str(path), f"is not YAML: {exc}")]) from None
    return parse_nodes(data if data is not None else {}, str(path))


async def load_nodes_apart(path: Path) -> list[NodeInfo]:
    """``load_nodes`` in a child process; the event loop only decodes its JSON answer."""
    return [
        NodeInfo(id=n["id"], name=n["name"], ip_addresses=tuple(n["ip"]), management_ips=tuple(n["management_ip"]))
        for n in await parse_apart("contivctl.cluster.static", path)
    ]


def _members(path: Path) -> list[dict[str, Any]]:
    return [
        {"id": n.id, "name": n.name, "ip": list(n.ip_addresses), "management_ip": list(n.management_ips)}
        for n in load_nodes(path)
    ]


def dump_nodes(nodes: Iterable[NodeInfo]) -> str:
    """The file form of ``nodes`` (what the demo writes; the inverse of :func:`parse_nodes`)."""
    entries: list[dict[str, Any]] = []
    for n in nodes:
        entry: dict[str, Any] = {"id": n.id, "name": n.name, "ip": list(n.ip_addresses)}
        if n.management_ips:
            entry["management_ip"] = list(n.management_ips)
        entries.append(entry)
    return yaml.safe_dump({"nodes": entries}, sort_keys=False)


def write_nodes(path: Path, nodes: Iterable[NodeInfo]) -> None:
    """Replace the file whole (write, then rename), so a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dump_nodes(nodes))
    os.replace(tmp, path)


class StaticMembership(WatchedFile):
    """The members listed in a file, as events; this node (by name) is not one of its own peers."""

    what = "nodes file"

    def __init__(self, path: Path, me: str, post: Post, *, interval: float = CHECK_INTERVAL) -> None:
        super().__init__(path, interval)
        self.me = me
        self._post = post
        #: other nodes as last posted (or seeded), by ID
        self.nodes: dict[int, NodeInfo] = {}

    def read(self) -> list[NodeInfo]:
        """The other nodes now in the file (raises ConfigError); remembers the file's version."""
        self.remember()
        return [n for n in load_nodes(self.path) if n.name != self.me]

    async def read_apart(self) -> list[NodeInfo]:
        """``read``, the file parsed in a child process (the event loop goes on meanwhile)."""
        self.remember()
        return [n for n in await load_nodes_apart(self.path) if n.name != self.me]

    def seed(self, nodes: Iterable[NodeInfo]) -> None:
        """Nodes the caller gave the controller itself (before its startup resync): not posted again."""
        self.nodes = {n.id: n for n in nodes}

    async def reload(self) -> None:
        self.apply(await self.read_apart())

    def apply(self, now: Iterable[NodeInfo]) -> None:
        """Post what changed between the members last posted and ``now``."""
        seen = {n.id: n for n in now}
        for gone in sorted(set(self.nodes) - set(seen)):
            node = self.nodes.pop(gone)
            log.info("node %s (ID %d) left (nodes file)", node.name, gone)
            self._post(NodeRemoved(node_id=gone, node_name=node.name))
        for node_id, node in sorted(seen.items()):
            if self.nodes.get(node_id) != node:
                self.nodes[node_id] = node
                log.info("node %s (ID %d) joined or changed (nodes file)", node.name, node_id)
                self._post(NodeUpdated(node=node))


if __name__ == "__main__":
    raise SystemExit(print_parsed(_members, sys.argv[1]))
