"""The agent's CNI gRPC server: each call becomes a controller event, answered when the controller is done.

The socket is served from the start of the agent, before the startup resync
is over, so that a plugin calling early meets an agent that says "not yet"
(UNAVAILABLE, CNI code 11: try again later) after a bounded wait instead
of a missing socket, and STATUS can tell "starting" from "gone". Nothing is
queued for the controller until it is ready, so the startup resync always
runs on the view restored from the store alone.

Errors travel as gRPC status codes, as in the original protocol (the original
plugin ignores the reply's ``result`` and looks only at the status):
UNAVAILABLE when a retry can help, NOT_FOUND for a CHECK of an unknown
attachment, FAILED_PRECONDITION for a CHECK that found drift, UNKNOWN for
any other failure, with the controller's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.server import Server

from contivctl.cni.codec import RequestCodec
from contivctl.cni.generated.cni import (
    Attachment as PbAttachment,
)
from contivctl.cni.generated.cni import (
    CniReply,
    CniReplyInterface,
    CniReplyInterfaceIp,
    CniReplyInterfaceIpVersion,
    CniReplyRoute,
    CniRequest,
    GcReply,
    GcRequest,
    RemoteCniBase,
    StatusReply,
    StatusRequest,
)
from contivctl.errors import AttachmentNotFound, ContivError, DataplaneError
from contivctl.events import (
    AddPod,
    AddResult,
    CheckPod,
    CheckResult,
    DeletePod,
    Event,
    GarbageCollect,
    GCResult,
    Submit,
)
from contivctl.model import AttachmentKey, PodRef

log = logging.getLogger(__name__)

#: CNI STATUS codes (spec 1.1): ready, not available, not available with existing pods affected
STATUS_READY = 0
STATUS_UNAVAILABLE = 50
STATUS_DEGRADED = 51

StatusProbe = Callable[[], tuple[int, str]]


def cni_args(text: str) -> dict[str, str]:
    """``K=V;K=V`` of CNI_ARGS; pieces without exactly one ``=`` are ignored, as the original did."""
    out: dict[str, str] = {}
    for piece in text.split(";"):
        parts = piece.split("=")
        if len(parts) == 2:
            out[parts[0].strip()] = parts[1].strip()
    return out


def add_reply(result: AddResult) -> CniReply:
    att = result.attachment
    ipv6 = att.ip.version == 6
    default = "::/0" if ipv6 else "0.0.0.0/0"
    ip = CniReplyInterfaceIp(
        version=CniReplyInterfaceIpVersion.IPV6 if ipv6 else CniReplyInterfaceIpVersion.IPV4,
        address=f"{att.ip}/{result.prefix_len}",
        gateway=str(result.gateway),
    )
    return CniReply(
        result=0,
        interfaces=[CniReplyInterface(name=att.ifname, mac=result.mac, sandbox=att.netns, ip_addresses=[ip])],
        routes=[CniReplyRoute(dst=default, gw=str(result.gateway))],
    )


def _status_error(exc: ContivError) -> GRPCError:
    if isinstance(exc, AttachmentNotFound):
        return GRPCError(Status.NOT_FOUND, str(exc))
    if isinstance(exc, DataplaneError) and exc.retriable:
        return GRPCError(Status.UNAVAILABLE, str(exc))
    return GRPCError(Status.UNKNOWN, str(exc))


class RemoteCNI(RemoteCniBase):
    """The ``cni.RemoteCNI`` service: requests in, controller events out.

    ``submit`` hands an event to the controller and awaits its answer;
    ``ready`` is set once the controller's startup resync is done.
    """

    def __init__(
        self,
        submit: Submit,
        ready: asyncio.Event,
        *,
        ready_timeout: float = 10.0,
        status: StatusProbe | None = None,
    ) -> None:
        self._submit_event = submit
        self._ready = ready
        self._ready_timeout = ready_timeout
        self._status = status

    async def _wait_ready(self) -> None:
        if self._ready.is_set():
            return
        try:
            await asyncio.wait_for(self._ready.wait(), self._ready_timeout)
        except TimeoutError:
            raise GRPCError(
                Status.UNAVAILABLE,
                f"the agent is starting: its startup resync was not done within {self._ready_timeout:g}s",
            ) from None

    async def _submit(self, event: Event) -> Any:
        await self._wait_ready()
        try:
            return await self._submit_event(event)
        except ContivError as exc:
            raise _status_error(exc) from exc

    async def add(self, message: CniRequest) -> CniReply:
        args = cni_args(message.extra_arguments)
        pod = PodRef(args.get("K8S_POD_NAMESPACE", ""), args.get("K8S_POD_NAME", ""))
        result: AddResult = await self._submit(
            AddPod(
                container_id=message.container_id,
                ifname=message.interface_name,
                netns=message.network_namespace,
                pod=pod,
                uid=args.get("K8S_POD_UID", ""),
            )
        )
        return add_reply(result)

    async def delete(self, message: CniRequest) -> CniReply:
        await self._submit(
            DeletePod(
                container_id=message.container_id,
                ifname=message.interface_name,
                netns=message.network_namespace,
            )
        )
        return CniReply(result=0)

    async def check(self, message: CniRequest) -> CniReply:
        found: CheckResult = await self._submit(
            CheckPod(
                container_id=message.container_id,
                ifname=message.interface_name,
                netns=message.network_namespace,
            )
        )
        if found.problems:
            raise GRPCError(Status.FAILED_PRECONDITION, "; ".join(found.problems))
        return add_reply(found.result)

    async def status(self, message: StatusRequest) -> StatusReply:
        if not self._ready.is_set():
            return StatusReply(code=STATUS_UNAVAILABLE, message="the agent is starting: startup resync is not done")
        if self._status is not None:
            code, text = self._status()
            return StatusReply(code=code, message=text)
        return StatusReply(code=STATUS_READY, message="ready")

    async def garbage_collect(self, message: GcRequest) -> GcReply:
        valid = frozenset(AttachmentKey(a.container_id, a.interface_name) for a in message.valid_attachments)
        done: GCResult = await self._submit(GarbageCollect(valid=valid))
        return GcReply(
            removed=[PbAttachment(container_id=k.container_id, interface_name=k.ifname) for k in done.removed],
            errors=list(done.errors),
        )


class CNIServer:
    """Serves RemoteCNI on a unix socket the agent owns: mode 0600, stale one replaced, removed on stop."""

    def __init__(self, service: RemoteCNI, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._service = service
        self._server: Server | None = None
        self._inode: int | None = None

    async def start(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ContivError(f"cannot serve CNI on {self.path}: {exc.strerror or exc}") from None
        self._remove_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # On Linux the socket file takes the socket inode's mode at bind:
            # set it first, so the socket is never reachable by others.
            os.fchmod(sock.fileno(), 0o600)
            try:
                sock.bind(str(self.path))
            except OSError as exc:  # the user's to fix (a path too long, a read-only directory): one line
                raise ContivError(f"cannot serve CNI on {self.path}: {exc.strerror or exc}") from None
            os.chmod(self.path, 0o600)
            sock.setblocking(False)
            server = Server([self._service], codec=RequestCodec())
            await server.start(sock=sock)
        except BaseException:
            sock.close()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            raise
        self._inode = os.stat(self.path).st_ino
        self._server = server
        log.info("CNI server listening on %s", self.path)

    def _remove_stale(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise ContivError(f"CNI socket path {self.path} exists and is not a socket; not removing it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.path))
        except OSError:
            pass  # nobody listens: the socket of an agent that is gone
        else:
            raise ContivError(f"another process is serving CNI on {self.path}; not taking it over")
        finally:
            probe.close()
        log.info("removing stale CNI socket %s", self.path)
        self.path.unlink()

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await server.wait_closed()
        # Remove the socket only if it is still ours (a newer agent may have replaced it).
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(self.path).st_ino == self._inode:
                self.path.unlink()
