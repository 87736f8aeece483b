"""A demo cluster driven from the test: nodes leaving and re-joining, an agent killed with ``kill -9``."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contivctl.demo import matrix
from contivctl.demo.cluster import DemoCluster, new_tag
from contivctl.demo.plan import DemoPlan
from contivctl.demo.procs import transactions
from contivctl.demo.progress import Progress
from contivctl.demo.state import StateFile
from tests.demo.conftest import needs_root

pytestmark = needs_root

_REPLY = re.compile(r"bytes from .* icmp_seq=(\d+)")
_SENT = re.compile(r"(\d+) packets transmitted")


@pytest.fixture
def cluster(request: pytest.FixtureRequest, state_dir: Path) -> Iterator[DemoCluster]:
    nodes, pods = request.param
    with open("/dev/null", "w") as sink:
        c = DemoCluster(DemoPlan(tag=new_tag(), nodes=nodes, pods=pods), StateFile(state_dir), Progress(sink))
        try:
            c.up()
            yield c
        finally:
            assert c.down() == []


def pod(c: DemoCluster, name: str) -> matrix.Endpoint:
    _, targets = c.endpoints()
    return next(t for t in targets if t.name == name)


def answers(src: matrix.Endpoint, dst: matrix.Endpoint) -> bool:
    return asyncio.run(matrix.ping(src.netns, dst.ip))[0]


def until(check: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
    return True


def new_txns(http: str, after: int) -> list[dict[str, Any]]:
    return [t for t in transactions(http) if t["seq"] > after]


def last_seq(http: str) -> int:
    return max((t["seq"] for t in transactions(http)), default=0)


@pytest.mark.parametrize("cluster", [(3, 1)], indirect=True)
def test_a_node_that_leaves_is_unreachable_and_only_its_items_change(cluster: DemoCluster) -> None:
    c = cluster
    assert matrix.failures(c.ping_matrix()) == []
    p1, p2, p3 = pod(c, "pod1-1"), pod(c, "pod2-1"), pod(c, "pod3-1")
    http = {n: c.agents[n].http for n in ("node1", "node2", "node3")}
    before = {n: last_seq(h) for n, h in http.items()}

    c.set_members(["node1", "node2"])
    assert until(lambda: not answers(p1, p3) and not answers(p2, p3))
    for n in ("node1", "node2"):
        assert until(lambda n=n: bool(new_txns(http[n], before[n])))  # type: ignore[misc]
    assert answers(p1, p2) and answers(p2, p1)  # the others still talk

    node3 = c.node("node3")
    marks = ("10.89.0.3", "10.90.3.0", f"{node3.id:02x}")  # its VXLAN IP, pod subnet, BVI MAC
    removed: dict[str, set[str]] = {}
    for n in ("node1", "node2"):
        ops = [op for t in new_txns(http[n], before[n]) for op in t["ops"]]
        assert ops and {op["op"] for op in ops} == {"delete"}, ops
        assert all(op["outcome"] == "ok" for op in ops), ops
        assert all(any(m in op["key"] for m in marks) for op in ops), ops
        removed[n] = {op["key"] for op in ops}
    assert new_txns(http["node3"], before["node3"]) == []  # the node that left changed nothing itself

    mid = {n: last_seq(h) for n, h in http.items()}
    c.set_members(["node1", "node2", "node3"])
    assert until(lambda: answers(p1, p3) and answers(p2, p3) and answers(p3, p1))
    for n in ("node1", "node2"):
        assert until(lambda n=n: bool(new_txns(http[n], mid[n])))  # type: ignore[misc]
        ops = [op for t in new_txns(http[n], mid[n]) for op in t["ops"]]
        assert {op["key"] for op in ops if op["op"] == "create"} == removed[n]
    assert matrix.failures(c.ping_matrix()) == []


@pytest.mark.parametrize("cluster", [(2, 1)], indirect=True)
def test_an_agent_killed_and_restarted_loses_no_packet_and_does_nothing(cluster: DemoCluster) -> None:
    c = cluster
    src, dst = pod(c, "pod1-1"), pod(c, "pod2-1")
    ping = subprocess.Popen(
        # line-buffered: each reply is read as it comes, not a pipe buffer later
        ["ip", "netns", "exec", src.netns, "stdbuf", "-oL", "ping", "-n", "-O", "-i", "0.01", dst.ip],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    replies: set[int] = set()
    try:
        assert ping.stdout is not None

        def replied_past(seq: int) -> bool:
            assert ping.stdout is not None
            line = ping.stdout.readline()
            assert line, "ping stopped"
            m = _REPLY.search(line)
            if m:
                replies.add(int(m.group(1)))
            return bool(m) and int(m.group(1)) > seq

        assert until(lambda: replied_past(0))
        c.stop_agent("node2", hard=True)
        c.start_agent("node2")  # waits until it is ready: its startup resync is done
        restart = [t for t in transactions(c.agents["node2"].http) if t["trigger"] == "startup resync"]
        assert len(restart) == 1
        assert restart[0]["ops"] == []
        seen = max(replies)
        assert until(lambda: replied_past(seen + 50))  # the path works after the restart too
    finally:
        ping.send_signal(signal.SIGINT)
        assert ping.stdout is not None
        rest = ping.stdout.read()  # through the same buffered reader: no line is skipped
        ping.wait(timeout=10)
    replies |= {int(m) for m in _REPLY.findall(rest)}
    sent = _SENT.search(rest)
    assert sent, rest
    # the last echo may have been in flight when ping was interrupted: it does not count
    lost = set(range(1, int(sent.group(1)))) - replies
    assert lost == set(), f"lost {len(lost)} of {sent.group(1)}: {sorted(lost)[:20]}"
