"""The agent's (and ``contivctl stn steal``'s) client of the STN daemon.

Each call opens its own connection: the daemon is asked a handful of times
in a node's life, and a connection kept open would only be one more thing
to notice breaking. Every failure is an STNError naming the socket, so a
node that cannot start in STN mode says where it looked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from grpclib.client import Channel
from grpclib.exceptions import GRPCError, StreamTerminatedError

from contivctl.errors import STNError
from contivctl.model import StolenInterface
from contivctl.stn.generated.stn import StnReply, StnRequest, StnStub
from contivctl.stn.wire import from_reply

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/var/run/contiv/stn.sock"


class STNClient:
    def __init__(self, socket_path: str = DEFAULT_SOCKET, *, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        #: a steal or release may wait for a PCI driver to bind and a link to come back
        self.timeout = timeout

    async def _call(self, what: str, call: Callable[[StnStub], Awaitable[StnReply]]) -> StnReply:
        channel = Channel(path=self.socket_path)
        try:
            return await call(StnStub(channel, timeout=self.timeout))
        except GRPCError as exc:
            raise STNError(f"STN daemon ({self.socket_path}): {what}: {exc.message or exc.status.name}") from None
        except (OSError, StreamTerminatedError, TimeoutError) as exc:
            raise STNError(f"no STN daemon answers on {self.socket_path} ({what}): {exc}") from None
        finally:
            channel.close()

    async def steal(self, name: str, *, dhcp: bool = False) -> StolenInterface:
        reply = await self._call(
            f"steal {name}", lambda s: s.steal_interface(StnRequest(interface_name=name, dhcp_enabled=dhcp))
        )
        return from_reply(name, reply)

    async def release(self, name: str) -> None:
        await self._call(f"release {name}", lambda s: s.release_interface(StnRequest(interface_name=name)))

    async def info(self, name: str = "") -> StolenInterface:
        """What was stolen as ``name`` ("" = the first interface stolen)."""
        reply = await self._call(
            f"stolen interface {name or '(first)'}",
            lambda s: s.stolen_interface_info(StnRequest(interface_name=name)),
        )
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
