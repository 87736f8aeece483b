"""One gRPC call from the plugin to the agent, under a deadline, its failures as CNI errors.

The deadline covers connecting and the call, and is sent to the agent as
``grpc-timeout``. An agent that cannot be reached, does not answer in time
or says UNAVAILABLE gives CNI code 11 (try again later): kubelet retries.
"""

from __future__ import annotations

import asyncio
from typing import Any

import betterproto2
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError

from contivctl.cni.generated.cni import RemoteCniStub
from contivctl.cni.spec import AGENT_FAILED, TRY_AGAIN_LATER, UNKNOWN_CONTAINER, CNIError

_RETRY = frozenset({Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.RESOURCE_EXHAUSTED})


def _channel(server: str) -> Channel:
    if server.startswith("/"):
        return Channel(path=server)
    host, _, port = server.rpartition(":")
    return Channel(host.strip("[]"), int(port))


async def _call(server: str, method: str, request: betterproto2.Message, timeout: float) -> Any:
    channel = _channel(server)
    try:
        async with asyncio.timeout(timeout):
            return await getattr(RemoteCniStub(channel), method)(request, timeout=timeout)
    finally:
        channel.close()


def call(server: str, method: str, request: betterproto2.Message, timeout: float) -> Any:
    """``RemoteCNI.<method>(request)`` on the agent at `server`; raises CNIError on any failure."""
    try:
        return asyncio.run(_call(server, method, request, timeout))
    except GRPCError as exc:
        text = exc.message or exc.status.name
        if exc.status in _RETRY:
            raise CNIError(TRY_AGAIN_LATER, f"the agent is not ready: {text}", f"gRPC {exc.status.name}") from None
        if exc.status is Status.NOT_FOUND:
            raise CNIError(UNKNOWN_CONTAINER, text) from None
        raise CNIError(AGENT_FAILED, text, f"gRPC {exc.status.name}") from None
    except TimeoutError:
        raise CNIError(
            TRY_AGAIN_LATER, f"the agent at {server} did not answer within {timeout:g}s", "grpcTimeout"
        ) from None
    except (OSError, StreamTerminatedError, ProtocolError) as exc:
        raise CNIError(TRY_AGAIN_LATER, f"cannot reach the agent at {server}: {exc}") from None
