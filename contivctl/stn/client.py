"""The agent's (and ``contivctl stn steal``'s) client of the STN daemon.

Each call opens its own ``grpc.aio`` channel to the daemon's unix socket
(``unix:<path>``): the daemon is asked a handful of times in a node's life,
and a connection kept open would only be one more thing to notice
breaking. Every failure is an STNError naming the socket, so a node that
cannot start in STN mode says where it looked: a daemon that cannot be
reached (gRPC's UNAVAILABLE) or does not answer in time says so; any other
status is the daemon's answer, with its message.
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from contivctl.errors import STNError
from contivctl.model import StolenInterface
from contivctl.stn.generated.stn_pb2 import STNReply, STNRequest
from contivctl.stn.wire import INFO, RELEASE, SERVICE, STEAL, from_reply

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/var/run/contiv/stn.sock"


class STNClient:
    def __init__(self, socket_path: str = DEFAULT_SOCKET, *, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        #: a steal or release may wait for a PCI driver to bind and a link to come back
        self.timeout = timeout

    async def _call(self, what: str, method: str, request: STNRequest) -> STNReply:
        async with grpc.aio.insecure_channel(f"unix:{self.socket_path}") as channel:
            call = channel.unary_unary(
                f"/{SERVICE}/{method}",
                request_serializer=STNRequest.SerializeToString,
                response_deserializer=STNReply.FromString,
            )
            try:
                reply: STNReply = await call(request, timeout=self.timeout)
            except grpc.aio.AioRpcError as exc:
                code, details = exc.code(), exc.details()
                if code == grpc.StatusCode.UNAVAILABLE:
                    raise STNError(f"no STN daemon answers on {self.socket_path} ({what}): {details}") from None
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise STNError(
                        f"the STN daemon on {self.socket_path} did not answer within {self.timeout:g}s ({what})"
                    ) from None
                raise STNError(f"STN daemon ({self.socket_path}): {what}: {details or code.name}") from None
            return reply

    async def steal(self, name: str, *, dhcp: bool = False) -> StolenInterface:
        reply = await self._call(f"steal {name}", STEAL, STNRequest(interface_name=name, dhcp_enabled=dhcp))
        return from_reply(name, reply)

    async def release(self, name: str) -> None:
        await self._call(f"release {name}", RELEASE, STNRequest(interface_name=name))

    async def info(self, name: str = "") -> StolenInterface:
        """What was stolen as ``name`` ("" = the first interface stolen)."""
        reply = await self._call(f"stolen interface {name or '(first)'}", INFO, STNRequest(interface_name=name))
        return from_reply(name, reply)

    async def wait_info(self, name: str = "", *, wait: float = 30.0, step: float = 0.5) -> StolenInterface:
        """``info``, asked again while the daemon is not up yet (it may start with the agent), up to ``wait``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            try:
                return await self.info(name)
            except STNError as exc:
                if loop.time() + step > deadline:
                    raise
                log.info("%s; asking again", exc)
                await asyncio.sleep(step)
