"""``contivctl demo --service``: a ClusterIP + NodePort Service, one TCP server pod per node behind it.

The Service reaches the agents through a services file (``<run dir>/
services.yaml``, given to every agent as ``--services-file``), the way a
cluster without an API server would give it (docs/services.md). Every pod
and every node then connects to the cluster IP and to the node port of
every node; each connection is served by one of the server pods, whose
name it reads back. One endpoint is then removed from the file, and the
same connections must all be served by the others.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from contivctl.demo.matrix import Endpoint

NAME, NAMESPACE = "web", "demo"
CLUSTER_IP = "10.96.0.10"
PORT, TARGET_PORT, NODE_PORT = 80, 8080, 30080
#: the route the nodes take to cluster IPs (their own connections need one before NAT sees them)
SERVICE_CIDR = "10.96.0.0/12"
CONNECT_TIMEOUT = 2.0


@attrs.frozen
class Target:
    name: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@attrs.frozen
class Connection:
    src: str
    target: str
    answer: str

    @property
    def served_by(self) -> str | None:
        return None if self.answer.startswith("error:") else self.answer

    @property
    def ok(self) -> bool:
        return self.served_by is not None


def service_entry(endpoints: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The services-file entry of the demo's Service, with ``(ip, node)`` endpoints."""
    return {
        "name": NAME,
        "namespace": NAMESPACE,
        "type": "NodePort",
        "clusterIP": CLUSTER_IP,
        "ports": [{"name": "tcp", "port": PORT, "targetPort": TARGET_PORT, "nodePort": NODE_PORT}],
        "endpoints": [{"ip": ip, "node": node} for ip, node in endpoints],
    }


def targets(nodes: Sequence[tuple[str, str]]) -> list[Target]:
    """The cluster IP, then the node port of every ``(name, ip)`` node."""
    return [Target("ClusterIP", CLUSTER_IP, PORT)] + [Target(f"{n} NodePort", ip, NODE_PORT) for n, ip in nodes]


async def connect_from(netns: str, addresses: Sequence[str], timeout: float = CONNECT_TIMEOUT) -> list[str]:
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", netns, sys.executable, "-m", "contivctl.demo.tcp", "connect", str(timeout), *addresses,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        return [f"error:{err.decode(errors='replace').strip()[-60:] or proc.returncode}"] * len(addresses)
    answers: list[str] = json.loads(out)
    return answers


async def connection_matrix(
    sources: Sequence[Endpoint], to: Sequence[Target], rounds: int = 1, concurrency: int = 8
) -> list[Connection]:
    """From every source, ``rounds`` connections to every target."""
    gate = asyncio.Semaphore(concurrency)

    async def one(src: Endpoint) -> list[Connection]:
        addresses = [t.address for _ in range(rounds) for t in to]
        async with gate:
            answers = await connect_from(src.netns, addresses)
        names = [t.name for _ in range(rounds) for t in to]
        return [Connection(src.name, n, a) for n, a in zip(names, answers, strict=True)]

    return [c for group in await asyncio.gather(*(one(s) for s in sources)) for c in group]


def failures(conns: Iterable[Connection], removed: str | None = None) -> list[Connection]:
    """Not served, or (after ``removed`` left the Service) served by it."""
    return [c for c in conns if not c.ok or (removed is not None and c.served_by == removed)]


def as_json(conns: Sequence[Connection], removed: str | None = None) -> dict[str, Any]:
    return {
        "ok": not failures(conns, removed),
        "connections": [
            {"from": c.src, "to": c.target, "ok": c.ok and c.served_by != removed, "servedBy": c.served_by}
            | ({} if c.ok else {"error": c.answer.removeprefix("error:")})
            for c in conns
        ],
    }


def as_table(conns: Sequence[Connection], sources: Sequence[Endpoint], to: Sequence[Target], title: str) -> str:
    """Rows are sources, columns targets; a cell names the pods that served it, or the failure."""
    cells: dict[tuple[str, str], list[str]] = {}
    for c in conns:
        cells.setdefault((c.src, c.target), []).append(c.served_by or c.answer.removeprefix("error:"))
    head = ["from \\ to"] + [t.name for t in to]
    rows = [head]
    for s in sources:
        row = [f"{s.name} ({s.kind})"]
        for t in to:
            row.append(",".join(sorted(set(cells.get((s.name, t.name), ["."])))))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    served = len([c for c in conns if c.ok])
    return "\n".join([title, *lines, f"{served}/{len(conns)} connections served"])
