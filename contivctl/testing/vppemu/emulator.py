"""The emulator as a whole: server socket, state, faults, kernel, event fan-out.

Tests use `running_emulator()`; `python -m contivctl.testing.vppemu` uses
`Emulator.serve()`. Both run on the caller's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path

from . import apidefs, handlers
from .faults import Faults
from .handlers.base import Fields
from .handlers.dhcp import deliver_lease
from .kernel import Kernel, nic_free
from .server import SOCKET_CLIENT_BIT, Connection, Route, build_routes, frame
from .state import VppState
from .state.nat import TWICE_NAT, Session

log = logging.getLogger(__name__)

handlers.load_all()


class EmulatorError(AssertionError):
    """A handler crashed: a bug in the emulator, surfaced to the test that triggered it."""


class Emulator:
    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        nics: Iterable[str] = (),
        api_dir: str | None = None,
        host_nics: Mapping[str, tuple[str, str]] | None = None,
    ):
        self.socket_path = str(socket_path)
        self.nics = list(nics)
        #: NICs backed by a Linux link: VPP name -> (netns, link name); VPP takes one at boot only when
        #: it is free (down, no IPv4 address), as DPDK does
        self.host_nics = dict(host_nics or {})
        #: why a host NIC was not taken at the last boot, by VPP name
        self.skipped_nics: dict[str, str] = {}
        self.defs = apidefs.load(api_dir)
        self.message_table: list[dict[str, object]] = self.defs.table()
        self.routes: list[Route | None] = build_routes(self.defs)
        self.faults = Faults()
        self.kernel = Kernel()
        self.kernel_lock = asyncio.Lock()
        self.state = VppState.boot(self.nics)
        self.connections: set[Connection] = set()
        self.clients: dict[int, Connection] = {}
        self.unimplemented: set[str] = set()
        self.errors: list[tuple[str, BaseException]] = []
        self.restarts = 0
        self._next_client = 0
        self._server: asyncio.AbstractServer | None = None

    # ---- lifecycle
    async def _boot_nics(self) -> list[str]:
        self.skipped_nics = {}
        for vpp_name, (netns, link) in self.host_nics.items():
            why = await asyncio.to_thread(nic_free, netns, link)
            if why is not None:
                log.warning("VPP skips %s: %s", vpp_name, why)
                self.skipped_nics[vpp_name] = why
        return [*self.nics, *(n for n in self.host_nics if n not in self.skipped_nics)]

    async def start(self) -> None:
        if self.host_nics:
            self.state = VppState.boot(await self._boot_nics())
        path = Path(self.socket_path)
        if path.is_socket():
            path.unlink()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: Connection(self), self.socket_path)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._drop_all()
            await self._server.wait_closed()
            self._server = None
        await asyncio.to_thread(self.kernel.cleanup)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)

    async def serve(self) -> None:
        await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def restart(self) -> None:
        """Like a VPP restart: every client is cut off, the kernel taps vanish, state starts over.

        A real VPP's taps vanish as its process dies, before the new one
        listens; so the socket refuses connections until the old taps are
        gone, and a client that reconnects meets the restarted VPP and a
        kernel without the old taps (not one of them still in a pod's
        namespace, about to vanish under a resync that saw it).
        """
        listening = self._server is not None
        if self._server is not None:
            self._server.close()
            self._server = None
        self._drop_all()
        self.state = VppState.boot(await self._boot_nics() if self.host_nics else self.nics)
        self.restarts += 1
        async with self.kernel_lock:
            await asyncio.to_thread(self.kernel.cleanup)
        if listening:
            await self.start()

    def _drop_all(self) -> None:
        for conn in list(self.connections):
            conn.close(abort=True)
        self.connections.clear()
        self.clients.clear()

    # ---- client registry
    def register(self, conn: Connection, name: str) -> int:
        self._next_client += 1
        handle = SOCKET_CLIENT_BIT | self._next_client
        conn.name = name
        self.clients[handle] = conn
        return handle

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if self.clients.get(conn.handle) is conn:
            del self.clients[conn.handle]
        conn.subscriptions.clear()

    # ---- events
    def publish(self, topic: str, event: str, fields: Fields) -> None:
        spec = self.defs.by_name[event]
        for conn in list(self.clients.values()):
            sub = conn.subscriptions.get(topic)
            if sub is not None:
                conn.write(frame(spec, dict(fields, client_index=conn.handle, pid=sub.pid)))

    def send_to(self, handle: int, event: str, fields: Fields) -> bool:
        conn = self.clients.get(handle)
        if conn is None:
            return False
        conn.write(frame(self.defs.by_name[event], dict(fields, client_index=handle)))
        return True

    def handler_failed(self, name: str, err: BaseException) -> None:
        log.error("handler %s crashed", name, exc_info=err)
        self.errors.append((name, err))

    # ---- test hooks
    def dhcp_lease(
        self,
        sw_if_index: int,
        host_address: str,
        router_address: str,
        hostname: str = "",
        domain_servers: Iterable[str] = (),
    ) -> None:
        """Play the DHCP server: bind the client on `sw_if_index` and tell its owner."""
        deliver_lease(
            self.state,
            self.send_to,
            sw_if_index,
            ipaddress.IPv4Interface(host_address),
            ipaddress.IPv4Address(router_address),
            hostname,
            [ipaddress.IPv4Address(d) for d in domain_servers],
        )

    def nat_session(
        self,
        inside: tuple[str, int],
        outside: tuple[str, int],
        ext_host: tuple[str, int],
        protocol: int = 6,
        vrf_id: int = 0,
        idle_for: float = 0.0,
        total_bytes: int = 0,
        total_pkts: int = 0,
        twice_nat: tuple[str, int] | None = None,
    ) -> Session:
        """Pretend traffic made a NAT session that was last heard `idle_for` seconds ago.

        With `twice_nat`, the inside host saw the remote host as that address and port.
        """
        ext_ip = ipaddress.IPv4Address(ext_host[0])
        nat_ip, nat_port = (ipaddress.IPv4Address(twice_nat[0]), twice_nat[1]) if twice_nat else (ext_ip, ext_host[1])
        s = Session(
            inside_ip=ipaddress.IPv4Address(inside[0]),
            inside_port=inside[1],
            outside_ip=ipaddress.IPv4Address(outside[0]),
            outside_port=outside[1],
            protocol=protocol,
            ext_host_ip=ext_ip,
            ext_host_port=ext_host[1],
            ext_host_nat_ip=nat_ip,
            ext_host_nat_port=nat_port,
            vrf_id=vrf_id,
            last_heard=self.state.now() - idle_for,
            total_bytes=total_bytes,
            total_pkts=total_pkts,
            flags=TWICE_NAT if twice_nat else 0,
        )
        self.state.nat.sessions.append(s)
        return s

    def check(self) -> None:
        if self.errors:
            name, err = self.errors[0]
            raise EmulatorError(f"emulator handler {name} crashed: {err!r}") from err


@contextlib.asynccontextmanager
async def running_emulator(
    directory: str | os.PathLike[str],
    nics: Iterable[str] = (),
    api_dir: str | None = None,
    socket_name: str = "vpp-api.sock",
    host_nics: Mapping[str, tuple[str, str]] | None = None,
) -> AsyncIterator[Emulator]:
    """An emulator serving `<directory>/<socket_name>` for the duration of the block.

    On exit it removes every tap it made and raises if any handler crashed,
    so an emulator bug cannot hide behind a client-side timeout.
    ``host_nics`` (VPP name -> (netns, Linux link)) are NICs VPP takes at boot
    if they are free in Linux, like a NIC the STN daemon stole.
    """
    emu = Emulator(Path(directory) / socket_name, nics, api_dir, host_nics)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
    emu.check()
