"""Hypothesis over the agent's CNI gRPC server, with arbitrary message bytes.

Anything that can open the socket can send anything: random bytes, a
request cut short, fields of a megabyte, names with slashes and NULs, a
namespace path that is no path. The client here sends raw bytes as the
message of each method (no serializer on either side), so the server's
own decoding is under test too. The answer must be a reply or a gRPC error
with a message that says what was wrong — never gRPC's "Unexpected ..." of
an exception nobody expected — and afterwards the agent
must still serve, its view and its address pool agree, and a full resync
through the controller must find nothing to do.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contivctl.cni.generated.cni_pb2 import (
    Attachment,
    CNIReply,
    CNIRequest,
    GCReply,
    GCRequest,
    StatusReply,
    StatusRequest,
)
from contivctl.events import GarbageCollect, Resync
from contivctl.testing.vppemu import Emulator
from tests.agent.support import Pods
from tests.cni.support import Agent, running_agent

if os.geteuid() != 0:
    pytest.skip("the agent's pods need root", allow_module_level=True)

EXAMPLES = int(os.environ.get("CONTIV_FUZZ_EXAMPLES", "120"))
METHODS: dict[str, Any] = {
    "Add": CNIReply,
    "Delete": CNIReply,
    "Check": CNIReply,
    "Status": StatusReply,
    "GarbageCollect": GCReply,
}
#: what the server may answer with: each a status a plugin maps to a CNI error (docs/cni.md)
ANSWERED = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


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
        version = draw(st.sampled_from(["1.1.0", "", "x"]))
        return GCRequest(version=version, valid_attachments=valid).SerializeToString()
    args = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_UID", "IgnoreUnknown", "x"]),
                st.text(max_size=30),
            ),
            max_size=4,
        )
    )
    request = CNIRequest(
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
    data = request.SerializeToString()
    if kind == "truncated" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    return data


async def call(socket: str, method: str, message: bytes) -> tuple[grpc.StatusCode | None, str]:
    async with grpc.aio.insecure_channel(f"unix:{socket}") as channel:
        rpc = channel.unary_unary(f"/cni.RemoteCNI/{method}")  # bytes in, bytes out
        try:
            reply = await rpc(message, timeout=10)
        except grpc.aio.AioRpcError as exc:
            return exc.code(), exc.details() or ""
    METHODS[method].FromString(reply)  # a reply the plugin can read
    return None, ""


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
        assert text and not text.startswith("Unexpected "), (method, status, text)

    # still serving, and consistent
    assert await call(agent.socket, "Status", StatusRequest(version="1.1.0").SerializeToString()) == (None, "")
    controller = agent.node.controller
    assert set(controller.pods.allocator.allocations()) == {str(k) for k in controller.pods.attachments}
    record = await controller.submit(Resync(full=True, reason="after a fuzzed call"))
    assert record.ops == (), [(o.op, o.key, o.outcome) for o in record.ops]
