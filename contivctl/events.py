"""Events: the only way anything outside the controller asks it to change the view.

Each is an immutable value. A source gets one injected way to hand it over:
``Post`` (queue it and go on: watches, timers, the DHCP listener) or
``Submit`` (queue it and await the controller's answer: the CNI server).
An event that needs an answer carries the future its sender awaits; the
controller resolves exactly that future, never another. The answers are
values too, defined here beside the events they answer, so a source never
imports the controller.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from contivctl.config.model import NodeConfig
from contivctl.iptypes import IPAddress
from contivctl.model import Attachment, AttachmentKey, DhcpLease, EndpointSlice, NodeInfo, PodRef, Service, ServiceRef

_seq = itertools.count(1)


def _next_seq() -> int:
    return next(_seq)


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@attrs.frozen(eq=False)
class Event:
    seq: int = attrs.field(factory=_next_seq, kw_only=True)
    reply: asyncio.Future[Any] = attrs.field(factory=_future, kw_only=True, repr=False)

    @property
    def name(self) -> str:
        """The event's type, for logs."""
        return type(self).__name__


#: queue an event without waiting for its answer (must not block)
Post = Callable[[Event], None]
#: queue an event and await the controller's answer (or its error)
Submit = Callable[[Event], Awaitable[Any]]

# -- pods (the CNI server) ----------------------------------------------------------


@attrs.frozen(eq=False)
class AddPod(Event):
    """Wire an attachment; answered with an AddResult once it is wired and persisted (or rolled back)."""

    container_id: str
    ifname: str
    netns: str
    pod: PodRef
    uid: str = ""
    #: the pod's labels (``ldpreload: "true"`` asks for the VPP TCP stack); None when they are not known
    labels: dict[str, str] | None = None


@attrs.frozen(eq=False)
class DeletePod(Event):
    """Remove an attachment and release its address; an unknown one is no error (the runtime repeats DELs)."""

    container_id: str
    ifname: str
    netns: str = ""


@attrs.frozen(eq=False)
class CheckPod(Event):
    """Is this attachment still wired as it should be? Answered with a CheckResult; changes nothing."""

    container_id: str
    ifname: str
    netns: str = ""


@attrs.frozen(eq=False)
class GarbageCollect(Event):
    """Remove every attachment not in `valid` (CNI GC); answered with a GCResult."""

    valid: frozenset[AttachmentKey]


@attrs.frozen
class PodsOnNode:
    """The pods Kubernetes has on this node, as one list of them read."""

    uids: frozenset[str] = frozenset()
    names: frozenset[PodRef] = frozenset()

    def has(self, att: Attachment) -> bool:
        """Whether the pod of ``att`` is among them: by UID when the runtime gave one, else by name."""
        return att.uid in self.uids if att.uid else att.pod in self.names


@attrs.frozen(eq=False)
class SweepAttachments(Event):
    """Remove the attachments whose pod is gone (a periodic sweep); answered with a SweepResult.

    Gone is: the attachment's network namespace no longer exists; or, for
    an attachment in ``suspects`` only, its pod is not in ``pods``, a list of
    this node's pods read after the attachment was suspected. A pod exists
    in Kubernetes before the runtime asks for its network, so a list read
    after an attachment was made names its pod unless the pod is gone; a
    watch that lags or an index kept through an outage cannot be trusted
    that way, so it only ever makes suspects.
    """

    pods: PodsOnNode | None = None
    suspects: frozenset[AttachmentKey] = frozenset()


@attrs.frozen
class SweepResult:
    """What a sweep removed (each with why: ``netns-gone`` or ``pod-gone``) and one line per failure."""

    removed: tuple[tuple[AttachmentKey, str], ...] = ()
    errors: tuple[str, ...] = ()


@attrs.frozen
class AddResult:
    """What a CNI ADD answers: the interface, its address and the default route."""

    attachment: Attachment
    mac: str
    gateway: IPAddress
    #: prefix length of the pod address (/32 or /128: the pod owns exactly its address)
    prefix_len: int


@attrs.frozen
class CheckResult:
    """What a CNI CHECK learns: the attachment's ADD result and every item that is missing or different."""

    result: AddResult
    #: one line per problem, naming the item (its reconciler key) and what is wrong
    problems: tuple[str, ...]


@attrs.frozen
class GCResult:
    """What a CNI GC did: the attachments it removed and one line per one it could not."""

    removed: tuple[AttachmentKey, ...]
    errors: tuple[str, ...]


# -- the dataplane ----------------------------------------------------------------


@attrs.frozen(eq=False)
class Resync(Event):
    """Re-read the dataplane and repair it (after a VPP restart, or periodically)."""

    full: bool = True
    reason: str = "resync"


@attrs.frozen(eq=False)
class DhcpLeased(Event):
    """VPP's DHCP client got a lease on one of its interfaces; the main NIC's is this node's IP."""

    lease: DhcpLease


# -- this node and the others (etcd, the nodes file, Kubernetes) ----------------------


@attrs.frozen(eq=False)
class NodeUpdated(Event):
    """Another node joined or changed (addresses, management IPs): rebuild only its items."""

    node: NodeInfo


@attrs.frozen(eq=False)
class NodeRemoved(Event):
    """Another node left the cluster: remove exactly its items (Kubernetes knows it by name only: ID 0)."""

    node_id: int
    node_name: str = ""


@attrs.frozen(eq=False)
class NodeConfigChanged(Event):
    """This node's NodeConfig (from the CRD) was applied, changed (a value) or deleted (None)."""

    node_config: NodeConfig | None


@attrs.frozen(eq=False)
class ManagementIPsChanged(Event):
    """Kubernetes reports other management addresses (InternalIP/ExternalIP) for node ``node_name``."""

    node_name: str
    ips: tuple[str, ...] = ()


# -- Services (Kubernetes, the services file) ------------------------------------------


@attrs.frozen(eq=False)
class ServiceUpdated(Event):
    """A Service was created or changed: re-render that service alone."""

    service: Service


@attrs.frozen(eq=False)
class ServiceRemoved(Event):
    """A Service is gone (or no longer one the agent forwards: headless, ExternalName): remove its items."""

    ref: ServiceRef


@attrs.frozen(eq=False)
class EndpointsUpdated(Event):
    """An EndpointSlice was created or changed: re-render the service it belongs to."""

    slice: EndpointSlice


@attrs.frozen(eq=False)
class EndpointsRemoved(Event):
    """An EndpointSlice (``namespace``/``name``) is gone."""

    namespace: str
    name: str
