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
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from contivctl.cni.generated.cni_pb2 import (
    Attachment,
    CNIReply,
    CNIRequest,
    GCReply,
    GCRequest,
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
from contivctl.unixgrpc import PrivateSocketServer

log = logging.getLogger(__name__)

#: CNI STATUS codes (spec 1.1): ready, not available, not available with existing pods affected
STATUS_READY = 0
STATUS_UNAVAILABLE = 50
STATUS_DEGRADED = 51

StatusProbe = Callable[[], tuple[int, str]]
#: before an ADD: the attachment's queued DEL, if the plugin queued one, is done first (contivctl/cni/delqueue.py)
Settle = Callable[[str, str], Awaitable[None]]
#: a pod's labels by its namespace and name (None: not known); asked before an ADD, when they decide its wiring
PodLabels = Callable[[PodRef], Awaitable[dict[str, str] | None]]

#: the service's full name: the method paths are /cni.RemoteCNI/<method>, as in the original protocol
SERVICE = "cni.RemoteCNI"

#: C-core server options: no channelz bookkeeping and no bandwidth probing (PINGs), nothing a
#: plugin's connection (one small call, then closed) uses; measured, the same CPU per call or a little less
SERVER_OPTIONS = (("grpc.enable_channelz", 0), ("grpc.http2.bdp_probe", 0))


class StatusError(Exception):
    """A call's failure as the gRPC status the plugin reads (``grpc.StatusCode``, message)."""

    def __init__(self, code: Any, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def cni_args(text: str) -> dict[str, str]:
    """``K=V;K=V`` of CNI_ARGS; pieces without exactly one ``=`` are ignored, as the original did."""
    out: dict[str, str] = {}
    for piece in text.split(";"):
        parts = piece.split("=")
        if len(parts) == 2:
            out[parts[0].strip()] = parts[1].strip()
    return out


def add_reply(result: AddResult) -> CNIReply:
    att = result.attachment
    ipv6 = att.ip.version == 6
    default = "::/0" if ipv6 else "0.0.0.0/0"
    ip = CNIReply.Interface.IP(
        version=CNIReply.Interface.IP.IPV6 if ipv6 else CNIReply.Interface.IP.IPV4,
        address=f"{att.ip}/{result.prefix_len}",
        gateway=str(result.gateway),
    )
    return CNIReply(
        result=0,
        interfaces=[CNIReply.Interface(name=att.ifname, mac=result.mac, sandbox=att.netns, ip_addresses=[ip])],
        routes=[CNIReply.Route(dst=default, gw=str(result.gateway))],
    )


def _status_error(exc: ContivError) -> StatusError:
    if isinstance(exc, AttachmentNotFound):
        return StatusError(grpc.StatusCode.NOT_FOUND, str(exc))
    if isinstance(exc, DataplaneError) and exc.retriable:
        return StatusError(grpc.StatusCode.UNAVAILABLE, str(exc))
    return StatusError(grpc.StatusCode.UNKNOWN, str(exc))


class RemoteCNI:
    """The ``cni.RemoteCNI`` service: requests in, controller events out.

    ``submit`` hands an event to the controller and awaits its answer;
    ``ready`` is set once the agent serves: after the controller's startup
    resync (and, in the agent, the first drain of the DEL queue). ``settle``
    does the DEL the plugin queued for an attachment before its ADD.
    """

    def __init__(
        self,
        submit: Submit,
        ready: asyncio.Event,
        *,
        ready_timeout: float = 10.0,
        status: StatusProbe | None = None,
        labels: PodLabels | None = None,
        settle: Settle | None = None,
    ) -> None:
        self._submit_event = submit
        self._ready = ready
        self._ready_timeout = ready_timeout
        self._status = status
        self._labels = labels
        self._settle = settle

    async def _wait_ready(self) -> None:
        if self._ready.is_set():
            return
        try:
            await asyncio.wait_for(self._ready.wait(), self._ready_timeout)
        except TimeoutError:
            raise StatusError(
                grpc.StatusCode.UNAVAILABLE,
                f"the agent is starting: its startup resync was not done within {self._ready_timeout:g}s",
            ) from None

    async def _submit(self, event: Event) -> Any:
        await self._wait_ready()
        try:
            return await self._submit_event(event)
        except ContivError as exc:
            raise _status_error(exc) from exc

    async def add(self, message: CNIRequest) -> CNIReply:
        args = cni_args(message.extra_arguments)
        pod = PodRef(args.get("K8S_POD_NAMESPACE", ""), args.get("K8S_POD_NAME", ""))
        labels = await self._labels(pod) if self._labels is not None and pod.name else None
        if self._settle is not None:
            await self._wait_ready()
            try:
                await self._settle(message.container_id, message.interface_name)
            except ContivError as exc:
                raise _status_error(exc) from exc
        result: AddResult = await self._submit(
            AddPod(
                container_id=message.container_id,
                ifname=message.interface_name,
                netns=message.network_namespace,
                pod=pod,
                uid=args.get("K8S_POD_UID", ""),
                labels=labels,
            )
        )
        return add_reply(result)

    async def delete(self, message: CNIRequest) -> CNIReply:
        await self._submit(
            DeletePod(
                container_id=message.container_id,
                ifname=message.interface_name,
                netns=message.network_namespace,
            )
        )
        return CNIReply(result=0)

    async def check(self, message: CNIRequest) -> CNIReply:
        found: CheckResult = await self._submit(
            CheckPod(
                container_id=message.container_id,
                ifname=message.interface_name,
                netns=message.network_namespace,
            )
        )
        if found.problems:
            raise StatusError(grpc.StatusCode.FAILED_PRECONDITION, "; ".join(found.problems))
        return add_reply(found.result)

    async def status(self, message: StatusRequest) -> StatusReply:
        if not self._ready.is_set() and self._status is None:
            return StatusReply(code=STATUS_UNAVAILABLE, message="the agent is starting: startup resync is not done")
        if self._status is not None:
            code, text = self._status()
            return StatusReply(code=code, message=text)
        return StatusReply(code=STATUS_READY, message="ready")

    async def garbage_collect(self, message: GCRequest) -> GCReply:
        valid = frozenset(AttachmentKey(a.container_id, a.interface_name) for a in message.valid_attachments)
        done: GCResult = await self._submit(GarbageCollect(valid=valid))
        return GCReply(
            removed=[Attachment(container_id=k.container_id, interface_name=k.ifname) for k in done.removed],
            errors=list(done.errors),
        )


Method = Callable[[Any], Awaitable[Any]]


def _handler(method: Method, request: Any, reply: Any) -> Any:
    """A unary method handler: the message decoded, the service's answer encoded, a StatusError as the status."""

    async def handle(data: bytes, context: Any) -> Any:
        try:
            return await method(_decoded(request, data))
        except StatusError as exc:
            await context.abort(exc.code, exc.message)

    # decoded in the handler, not by gRPC: gRPC answers a request it cannot decode with INTERNAL,
    # as if the agent had failed; it is the sender's error, and says so
    return grpc.unary_unary_rpc_method_handler(handle, response_serializer=reply.SerializeToString)


def _decoded(request: Any, data: bytes) -> Any:
    try:
        return request.FromString(data)
    except DecodeError as exc:
        raise StatusError(
            grpc.StatusCode.INVALID_ARGUMENT, f"{request.DESCRIPTOR.full_name} could not be decoded: {exc}"
        ) from None


def method_handlers(service: RemoteCNI) -> dict[str, Any]:
    """The methods of ``cni.RemoteCNI`` by name: the original Add and Delete, then those of CNI 1.1."""
    return {
        "Add": _handler(service.add, CNIRequest, CNIReply),
        "Delete": _handler(service.delete, CNIRequest, CNIReply),
        "Check": _handler(service.check, CNIRequest, CNIReply),
        "Status": _handler(service.status, StatusRequest, StatusReply),
        "GarbageCollect": _handler(service.garbage_collect, GCRequest, GCReply),
    }


class CNIServer(PrivateSocketServer):
    """Serves RemoteCNI on a unix socket only root can reach (contivctl/unixgrpc.py): the agent's CNI socket."""

    def __init__(self, service: RemoteCNI, path: str | os.PathLike[str]) -> None:
        super().__init__(path, SERVICE, method_handlers(service), what="CNI", options=SERVER_OPTIONS)
