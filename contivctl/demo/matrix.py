"""The ping matrix: every pod from every pod and from every node, one ``ping -c1 -W1`` each.

Pings run a few at a time (each is a process: ``ip netns exec … ping``);
the matrix is the answer, failures included — the caller decides what a
failure means.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import attrs

Kind = Literal["node", "pod"]

_RTT = re.compile(rb"time=([0-9.]+) ms")


@attrs.frozen
class Endpoint:
    name: str
    kind: Kind
    netns: str
    ip: str


@attrs.frozen
class Ping:
    src: str
    dst: str
    ok: bool
    rtt_ms: float | None = None


async def ping(netns: str, ip: str, timeout: int = 1) -> tuple[bool, float | None]:
    """One echo from ``netns`` to ``ip``: answered within ``timeout`` seconds, and its RTT."""
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", netns, "ping", "-n", "-c1", f"-W{timeout}", ip,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await proc.communicate()
    match = _RTT.search(out)
    ok = proc.returncode == 0
    return ok, float(match.group(1)) if ok and match else None


async def ping_matrix(sources: Sequence[Endpoint], targets: Sequence[Endpoint], concurrency: int = 8) -> list[Ping]:
    gate = asyncio.Semaphore(concurrency)

    async def one(src: Endpoint, dst: Endpoint) -> Ping:
        async with gate:
            ok, rtt = await ping(src.netns, dst.ip)
        return Ping(src.name, dst.name, ok, rtt)

    pairs = [(s, d) for s in sources for d in targets if s.name != d.name]
    return list(await asyncio.gather(*(one(s, d) for s, d in pairs)))


async def wait_reachable(pairs: Iterable[tuple[Endpoint, Endpoint]], timeout: float) -> bool:
    """Until each pair has answered once (the cluster has converged), or the deadline passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    waiting = list(pairs)
    while waiting:
        answered = await asyncio.gather(*(ping(s.netns, d.ip) for s, d in waiting))
        waiting = [pair for pair, (ok, _) in zip(waiting, answered, strict=True) if not ok]
        if waiting and loop.time() > deadline:
            return False
    return True


def failures(results: Iterable[Ping]) -> list[Ping]:
    return [r for r in results if not r.ok]


def as_json(results: Sequence[Ping], endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    return {
        "ok": not failures(results),
        "endpoints": [{"name": e.name, "kind": e.kind, "ip": e.ip} for e in endpoints],
        "pings": [{"from": r.src, "to": r.dst, "ok": r.ok, "rtt_ms": r.rtt_ms} for r in results],
    }


def _cell(r: Ping | None) -> str:
    if r is None:
        return "."
    if not r.ok:
        return "FAIL"
    return "ok" if r.rtt_ms is None else f"{r.rtt_ms:.3f}"


def as_table(results: Sequence[Ping], sources: Sequence[Endpoint], targets: Sequence[Endpoint]) -> str:
    """Rows are sources, columns targets; a cell is the RTT in ms, FAIL, or ``.`` for itself."""
    by_pair = {(r.src, r.dst): r for r in results}
    head = ["from \\ to"] + [t.name for t in targets]
    rows = [head]
    for s in sources:
        row = [f"{s.name} ({s.kind})"]
        for t in targets:
            row.append(_cell(by_pair.get((s.name, t.name))))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]
    failed = len(failures(results))
    summary = f"{len(results) - failed}/{len(results)} pings answered (RTT in ms)"
    return "\n".join([*lines, summary])
