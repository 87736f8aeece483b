"""Hypothesis over the agent's REST endpoint: any path, query string and body get a clear answer.

Requests are sent as raw as HTTP allows (the query string as drawn, not
re-encoded; bodies of any bytes) to a whole agent in this loop. Every
answer is one of 200, 400 (with a JSON error), 404 or 405 — never a 500 —
and afterwards the agent is alive and ready, and a full resync through the
controller finds nothing to do.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from contivctl.events import Resync
from contivctl.testing.vppemu import Emulator
from tests.agent.inprocess import Running, options, running_agent

if os.geteuid() != 0:
    pytest.skip("the agent's host side needs root", allow_module_level=True)

EXAMPLES = int(os.environ.get("CONTIV_FUZZ_EXAMPLES", "150"))
PATHS = [
    "/liveness",
    "/readiness",
    "/metrics",
    "/contiv/v1/ipam",
    "/contiv/v1/txn",
    "/contiv/v1/loop",
    "/contiv/v1/status",
    "/contiv/v1/pods",
    "/contiv/v1/ipam/allocations",
    "/contiv/v1/ipam/check",
    "/contiv/v1/items",
    "/contiv/v1/logs",
    "/contiv/v1/vpp/cli",
]
PARAMS = ["last", "view", "kind", "lines", "brief", "namespace", "name", "pod", "x"]
ANSWERS = {200, 400, 404, 405}

#: query-string pieces: what the endpoints read, in every shape a client could send
values = st.one_of(
    st.sampled_from(["", "1", "0", "-1", "3", "9" * 30, "desired", "actual", "diff", "vpp", "linux/"]),
    st.sampled_from(["%", "%zz", "%00", "%FF", "+", "&&", "=="]),
    st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass").decode("latin-1")),
)
queries = st.lists(st.tuples(st.sampled_from(PARAMS), values), max_size=4).map(
    lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=200),
    st.builds(
        lambda cmd: json.dumps({"command": cmd}).encode(),
        st.one_of(st.sampled_from(["show version", "show interface", "", "x" * 5000]), st.text(max_size=40)),
    ),
    st.sampled_from([b"[]", b"null", b'"show"', b"{}", b'{"command": 7}', b"{" * 1000]),
)


@pytest.fixture
async def running(emu: Emulator, sockdir: Path, tmp_path: Path) -> AsyncIterator[Running]:
    async with running_agent(options(emu, sockdir, tmp_path)) as run:
        yield run


def printable(query: str) -> str:
    """The query as HTTP can carry it: characters a request line cannot hold are sent percent-encoded."""
    return "".join(c if 0x21 <= ord(c) < 0x7F else f"%{ord(c):02X}" for c in query)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, str, bytes | None]:
    """Mostly what a client of the agent sends, with the parameters each endpoint reads; some of anything."""
    kind = draw(st.sampled_from(["get"] * 5 + ["cli"] * 3 + ["any"] * 2))
    if kind == "get":
        return "GET", draw(st.sampled_from([p for p in PATHS if not p.endswith("/cli")])), draw(queries), None
    if kind == "cli":
        return "POST", "/contiv/v1/vpp/cli", draw(queries), draw(bodies)
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]))
    path = draw(st.builds(lambda p, s: p + s, st.sampled_from(PATHS), st.text("/.abc%", max_size=6)))
    return method, path, draw(queries), draw(bodies)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests())
async def test_any_request_gets_a_clear_answer_and_leaves_the_agent_as_it_was(
    running: Running, request: tuple[str, str, str, bytes | None]
) -> None:
    method, path, query, body = request
    url = URL(f"{running.url}{printable(path)}" + (f"?{printable(query)}" if query else ""), encoded=True)
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=body, timeout=aiohttp.ClientTimeout(total=30)) as resp,
    ):
        text = await resp.read()
        assert resp.status in ANSWERS, (method, str(url), resp.status, text[:300])
        if resp.status == 400:
            assert json.loads(text)["error"], text[:300]

    ok, reason = running.agent.readiness()
    assert ok, reason
    node = running.agent.node
    assert node is not None
    record = await node.controller.submit(Resync(full=True, reason="after a fuzzed request"))
    assert record.ops == (), [(o.op, o.key, o.outcome) for o in record.ops]
