"""The STN daemon: the gRPC service, what it has stolen, and when it gives everything back.

It gives back (reverts) every stolen NIC:
- on ``ReleaseInterface`` (that one);
- on SIGTERM or SIGINT;
- when the host interconnect's Linux end (``vpp1``, ``--watch-link``) goes
  away after it was there, or down after it was up, or is not up within
  ``--grace`` seconds of a steal.

Why the link and not the agent: the NIC is VPP's, not the agent's. While VPP
runs it forwards the node's traffic, whether the agent is up, restarting or
being upgraded; giving the NIC back then would cut the node off for nothing.
When VPP stops or crashes its TAP ``vpp1`` vanishes (and an agent that
removes the host interconnect takes it down too): that is exactly when the
kernel must drive the NIC again. The original watched the same link. The
grace covers a VPP or agent that never comes up: the node gets its network
back instead of staying unreachable.

What is stolen is kept in ``--state-file`` too, so a restarted daemon still
knows what to give back and what to tell the agent.

The service is served by gRPC's C core (``grpc.aio``), its method table
written by hand (``method_handlers``) from the messages generated of
``proto/stn.proto``; a failure is a gRPC status with a message, as the
original's server answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import grpc

from contivctl.dataplane.linux import channel
from contivctl.errors import ContivError, STNError
from contivctl.stn.generated.stn_pb2 import STNReply, STNRequest
from contivctl.stn.wire import INFO, RELEASE, SERVICE, STEAL, to_reply
from contivctl.stnd import nic
from contivctl.stnd.pci import SYSFS_PCI, PciDevices, is_pci_address
from contivctl.unixgrpc import PrivateSocketServer

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/var/run/contiv/stn.sock"
DEFAULT_STATE = "/var/run/contiv/stn-state.json"
#: how long a NIC bound to its driver again may take to show up as a link
LINK_RETURN_WAIT = 10.0


class StatusError(Exception):
    """A call's failure as the gRPC status the client reads (``grpc.StatusCode``, message)."""

    def __init__(self, code: Any, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.frozen
class DaemonOptions:
    socket: str = DEFAULT_SOCKET
    #: "" keeps the record in memory only
    state_file: str = DEFAULT_STATE
    #: the link whose loss gives everything back; "" watches nothing
    watch_link: str = "vpp1"
    #: seconds after a steal within which the watched link must be seen
    grace: float = 30.0
    #: seconds between two looks at the watched link
    interval: float = 1.0
    pci_root: Path = SYSFS_PCI


class LinkWatch:
    """Calls ``lost(reason)`` once the watched link is gone or down after being seen, or not seen in time."""

    def __init__(self, name: str, grace: float, interval: float, lost: Callable[[str], Awaitable[None]]) -> None:
        self.name = name
        self.grace = grace
        self.interval = interval
        self._lost = lost
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.name and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"watch {self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _state(self) -> str | None:
        """None while the link is up; else what is wrong with it."""
        name = self.name
        try:
            found = await channel.run(lambda c: nic.link_flags(c(""), name))
        except ContivError as exc:
            log.warning("cannot look at %s: %s", name, exc)
            return None  # no verdict: look again
        if found is None:
            return f"{name} is gone"
        flags = found[1]
        if not flags & nic.IFF_UP:
            return f"{name} is down"
        if not flags & nic.IFF_LOWER_UP:
            return f"{name} has no carrier"
        return None

    async def _run(self) -> None:
        # A link that was there and is gone means VPP went away, even if it was never seen up: a VPP
        # (or agent) that dies within a poll of making it must not wait out the grace. Down or without
        # carrier counts only after it was up: a fresh TAP is down until it is brought up.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        there = up = False
        while True:
            problem = await self._state()
            if problem is None:
                if not up:
                    log.info("%s is up: giving the NICs back as soon as it goes away", self.name)
                there = up = True
            elif problem.endswith("is gone"):
                if there:
                    reason = problem
                    break
            else:
                if not there:
                    log.info("%s is there, not up yet (%s)", self.name, problem)
                there = True
                if up:
                    reason = problem
                    break
            if not up and loop.time() >= deadline:
                reason = f"{self.name} did not come up within {self.grace:g}s of the steal"
                break
            await asyncio.sleep(self.interval)
        self._task = None
        await self._lost(reason)


class Daemon:
    """The ``stn.STN`` service and the record of stolen NICs, in the order stolen."""

    def __init__(self, opts: DaemonOptions) -> None:
        self.opts = opts
        self.pci = PciDevices(opts.pci_root)
        self.records: dict[str, nic.NicRecord] = {}
        self._lock = asyncio.Lock()
        self.watch = LinkWatch(opts.watch_link, opts.grace, opts.interval, self._link_lost)

    # -- the record --------------------------------------------------------------------

    def load(self) -> None:
        path = self.opts.state_file
        if not path or not os.path.exists(path):
            return
        try:
            data = json.loads(Path(path).read_text())
            records = [nic.NicRecord.from_data(d) for d in data.get("interfaces", ())]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise STNError(f"cannot read what was stolen from {path}: {exc}") from None
        self.records = {r.name: r for r in records}
        if self.records:
            log.info("still stolen (from %s): %s", path, ", ".join(self.records))

    def _save(self) -> None:
        path = self.opts.state_file
        if not path:
            return
        if not self.records:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"interfaces": [r.to_data() for r in self.records.values()]}, f)
        os.replace(tmp, path)

    def _find(self, name: str) -> nic.NicRecord:
        if not name:
            if not self.records:
                raise StatusError(grpc.StatusCode.NOT_FOUND, "no interface is stolen")
            return next(iter(self.records.values()))
        found = self.records.get(name)
        if found is None:
            raise StatusError(grpc.StatusCode.NOT_FOUND, f"interface {name} is not stolen")
        return found

    # -- stealing and giving back -----------------------------------------------------

    async def steal(self, name: str, dhcp: bool) -> nic.NicRecord:
        async with self._lock:
            found = self.records.get(name)
            if found is not None:
                log.info("%s is stolen already", name)
                return found
            taken = await channel.run(lambda c: nic.steal(c, name, dhcp))
            if taken is None:
                raise StatusError(grpc.StatusCode.NOT_FOUND, f"interface {name} not found")
            record = taken
            if is_pci_address(record.pci_address):
                driver = self.pci.driver_of(record.pci_address) or record.kernel_driver
                record = attrs.evolve(record, pci_driver=driver)
            else:
                record = attrs.evolve(record, pci_address="")
            self.records[name] = record
            self._save()
            stolen = record.stolen()
            log.info(
                "stole %s (%s%s): %s",
                name,
                record.kernel_driver or "no driver",
                f", PCI {record.pci_address}" if record.pci_address else "",
                ", ".join(str(a) for a in stolen.addresses) or "no IPv4 address",
            )
            self.watch.start()
            return record

    async def _give_back(self, record: nic.NicRecord) -> list[str]:
        """Revert one NIC; its record goes once nothing is left to put back."""
        name = record.name
        if record.pci_address and record.pci_driver:
            try:
                rebound = self.pci.bind(record.pci_address, record.pci_driver)
            except STNError as exc:
                return [str(exc)]
        else:
            rebound = False
        found = await self._wait_for_link(name, LINK_RETURN_WAIT if rebound else 0.0)
        if found is None:
            return [f"interface {name} is not there to give back"]
        problems = await channel.run(lambda c: nic.restore(c, record, found[0]))
        if problems:
            log.error("%s is not quite back: %s", name, "; ".join(problems))
            return problems
        del self.records[name]
        self._save()
        log.info("%s is back as it was", name)
        return []

    async def _wait_for_link(self, name: str, wait: float) -> tuple[int, int] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            found = await channel.run(lambda c: nic.link_flags(c(""), name))
            if found is not None or loop.time() >= deadline:
                return found
            await asyncio.sleep(0.2)

    async def release(self, name: str) -> None:
        async with self._lock:
            record = self._find(name)
            problems = await self._give_back(record)
            if not self.records:
                await self.watch.stop()
        if problems:
            raise STNError(f"{record.name} not fully given back: {'; '.join(problems)}")

    async def release_all(self, reason: str) -> None:
        async with self._lock:
            if self.records:
                log.warning("giving every stolen NIC back: %s", reason)
            for record in list(self.records.values()):
                await self._give_back(record)

    async def _link_lost(self, reason: str) -> None:
        await self.release_all(reason)

    # -- the service -------------------------------------------------------------------

    async def steal_interface(self, message: STNRequest) -> STNReply:
        name = message.interface_name
        if not name:
            raise StatusError(grpc.StatusCode.INVALID_ARGUMENT, "no interface name given")
        try:
            record = await self.steal(name, message.dhcp_enabled)
        except STNError as exc:
            raise StatusError(grpc.StatusCode.UNKNOWN, str(exc)) from None
        except ContivError as exc:
            raise StatusError(grpc.StatusCode.UNKNOWN, f"cannot steal {name}: {exc}") from None
        return to_reply(record.stolen())

    async def release_interface(self, message: STNRequest) -> STNReply:
        try:
            await self.release(message.interface_name)
        except ContivError as exc:
            raise StatusError(grpc.StatusCode.UNKNOWN, str(exc)) from None
        return STNReply(result=0)

    async def stolen_interface_info(self, message: STNRequest) -> STNReply:
        return to_reply(self._find(message.interface_name).stolen())


Method = Callable[[STNRequest], Awaitable[STNReply]]


def _handler(method: Method) -> Any:
    """A unary method handler: the request decoded, the answer encoded, a StatusError as the status."""

    async def handle(message: STNRequest, context: Any) -> Any:
        try:
            return await method(message)
        except StatusError as exc:
            await context.abort(exc.code, exc.message)

    return grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=STNRequest.FromString, response_serializer=STNReply.SerializeToString
    )


def method_handlers(service: Daemon) -> dict[str, Any]:
    """The methods of ``stn.STN`` by name, as in the original protocol."""
    return {
        STEAL: _handler(service.steal_interface),
        RELEASE: _handler(service.release_interface),
        INFO: _handler(service.stolen_interface_info),
    }


class SocketServer(PrivateSocketServer):
    """The service on a unix socket only root may use (contivctl/unixgrpc.py): parent made 0700 if missing."""

    def __init__(self, service: Daemon, path: str) -> None:
        super().__init__(path, SERVICE, method_handlers(service), what="STN", error=STNError, parent_mode=0o700)


async def run_daemon(opts: DaemonOptions) -> int:
    """Serve until SIGTERM or SIGINT, then give every stolen NIC back."""
    daemon = Daemon(opts)
    daemon.load()
    server = SocketServer(daemon, opts.socket)
    await server.start()
    if daemon.records:
        daemon.watch.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
        log.info("stopping")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await server.stop()
        await daemon.watch.stop()
        await daemon.release_all("the STN daemon is stopping")
    return 0
