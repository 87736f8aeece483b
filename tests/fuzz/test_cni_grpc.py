"""Hypothesis over the agent's CNI gRPC server, with arbitrary message bytes.

Anything that can open the socket can send anything: random bytes, a
request cut short, fields of a megabyte, names with slashes and NULs, a
namespace path that is no path. The client here sends raw bytes as the
message of each method (its codec passes them through), so the server's
own decoding is under test too. The answer must be a reply or a gRPC error
with a message that says what was wrong — never grpclib's bare "Internal
Server Error" of an exception nobody expected — and afterwards the agent
must still serve, its view and its address pool agree, and a full resync
through the controller must find nothing to do.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from grpclib.client import Channel
from grpclib.const import Cardinality, Status
from grpclib.encoding.base import CodecBase
from grpclib.exceptions import GRPCError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contivctl.cni.generated.cni import Attachment, CniReply, CniRequest, GcReply, GcRequest, StatusReply
from contivctl.events import GarbageCollect, Resync
from contivctl.testing.vppemu import Emulator
from tests.agent.support import Pods
from tests.cni.support import Agent, running_agent

if os.geteuid() != 0:
    pytest.skip("the agent's pods need root", allow_module_level=True)

EXAMPLES = int(os.environ.get("CONTIV_FUZZ_EXAMPLES", "120"))
METHODS: dict[str, Any] = {
    "Add": CniReply,
    "Delete": CniReply,
    "Check": CniReply,
    "Status": StatusReply,
    "GarbageCollect": GcReply,
}
#: what the server may answer with: each a status a plugin maps to a CNI error (docs/cni.md)
ANSWERED = {
    Status.UNAVAILABLE,
    Status.NOT_FOUND,
    Status.FAILED_PRECONDITION,
    Status.UNKNOWN,
    Status.INVALID_ARGUMENT,
    Status.INTERNAL,
    Status.RESOURCE_EXHAUSTED,
}


class RawCodec(CodecBase):
    """Messages as bytes, both ways: what is sent is exactly what the test drew."""

    __content_subtype__ = "proto"

    def encode(self, message: Any, message_type: Any) -> bytes:
        return bytes(message)

    def decode(self, data: bytes, message_type: Any) -> Any:
        return data


@pytest.fixture
async def agent(emu: Emulator, sockdir: Path) -> AsyncIterator[Agent]:
    async with running_agent(emu, sockdir) as a:
        try:
            yield a
        finally:  # what the examples wired goes, with their veths
            await a.node.controller.submit(GarbageCollect(valid=frozenset()))


@pytest.fixture
def real_netns(pods: Pods) -> str:
    return pods.netns()


def cni_args(parts: list[tuple[str, str]]) -> str:
    return ";".join(f"{k}={v}" for k, v in parts)


names = st.one_of(
    st.sampled_from(["eth0", "net1", "", "lo", "a" * 15, "a" * 16, "../x", "a/b", "e th0", "eth0\x00", ".", ".."]),
    st.text(max_size=20),
)
container_ids = st.one_of(
    st.sampled_from(["", "x", "0" * 64, "a/b", "a;b=c", "\x00", "../../etc"]),
    st.text(max_size=80),
    st.text(alphabet="0123456789abcdef", min_size=1, max_size=64),
)
huge = st.sampled_from([1 << 10, 1 << 16, 1 << 20]).map(lambda n: "x" * n)


@st.composite
def requests(draw: st.DrawFn, netns: str) -> bytes:
    kind = draw(st.sampled_from(["random", "request", "truncated", "huge", "gc"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "gc":
        valid = draw(st.lists(st.builds(Attachment, container_id=container_ids, interface_name=names), max_size=3))
        return bytes(GcRequest(version=draw(st.sampled_from(["1.1.0", "", "x"])), valid_attachments=valid))
    args = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_UID", "IgnoreUnknown", "x"]),
                st.text(max_size=30),
            ),
            max_size=4,
        )
    )
    request = CniRequest(
        version=draw(st.sampled_from(["1.1.0", "0.3.1", "", "9"])),
        container_id=draw(huge if kind == "huge" and draw(st.booleans()) else container_ids),
        network_namespace=draw(
            st.one_of(
                st.just(netns),
                st.sampled_from(["", "/nonexistent", "relative", "/proc/1/ns/net\x00"]),
                st.text(max_size=40),
            )
        ),
        interface_name=draw(huge if kind == "huge" and draw(st.booleans()) else names),
        extra_nw_config=draw(huge if kind == "huge" else st.text(max_size=60)),
        extra_arguments=cni_args(args) if kind != "huge" else cni_args(args) + ";" + draw(huge),
    )
    data = bytes(request)
    if kind == "truncated" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    return data


async def call(socket: str, method: str, message: bytes) -> tuple[Status | None, str]:
    channel = Channel(path=socket, codec=RawCodec())
    try:
        async with channel.request(f"/cni.RemoteCNI/{method}", Cardinality.UNARY_UNARY, bytes, bytes, timeout=10) as s:
            await s.send_message(message, end=True)
            reply = await s.recv_message()
        assert reply is not None
        METHODS[method].parse(reply)  # a reply the plugin can read
        return None, ""
    except GRPCError as exc:
        return exc.status, exc.message or ""
    finally:
        channel.close()


@st.composite
def calls(draw: st.DrawFn, netns: str) -> tuple[str, bytes]:
    return draw(st.sampled_from(sorted(METHODS))), draw(requests(netns))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
async def test_any_bytes_get_a_clear_answer_and_leave_the_agent_consistent(
    agent: Agent, real_netns: str, data: st.DataObject
) -> None:
    method, message = data.draw(calls(real_netns))
    status, text = await call(agent.socket, method, message)
    if status is not None:
        assert status in ANSWERED, (status, text)
        assert text and text != "Internal Server Error", (method, status, text)

    # still serving, and consistent
    assert await call(agent.socket, "Status", bytes(CniRequest(version="1.1.0"))) == (None, "")
    controller = agent.node.controller
    assert set(controller.pods.allocator.allocations()) == {str(k) for k in controller.pods.attachments}
    record = await controller.submit(Resync(full=True, reason="after a fuzzed call"))
    assert record.ops == (), [(o.op, o.key, o.outcome) for o in record.ops]
