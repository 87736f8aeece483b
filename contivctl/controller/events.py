"""Events: the only way anything outside the controller asks it to change the view.

Each is an immutable value; those that need an answer carry the future the
sender awaits. The controller resolves exactly that future — never another.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import attrs

from contivctl.config.model import NodeConfig
from contivctl.model import AttachmentKey, NodeInfo, PodRef

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
        return type(self).__name__


@attrs.frozen(eq=False)
class AddPod(Event):
    container_id: str
    ifname: str
    netns: str
    pod: PodRef
    uid: str = ""
    #: labels of the pod, when known (``ldpreload: "true"`` asks for the VPP TCP stack)
    labels: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen(eq=False)
class DeletePod(Event):
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


@attrs.frozen(eq=False)
class Resync(Event):
    """Re-read the dataplane and repair it (after a VPP restart, or periodically)."""

    full: bool = True
    reason: str = "resync"


@attrs.frozen(eq=False)
class NodeUpdated(Event):
    """Another node joined or changed (addresses, management IPs): rebuild only its items."""

    node: NodeInfo


@attrs.frozen(eq=False)
class NodeRemoved(Event):
    """Another node left the cluster: remove exactly its items."""

    node_id: int
    name: str = ""


@attrs.frozen(eq=False)
class NodeConfigChanged(Event):
    """This node's NodeConfig (from the CRD) was applied, changed (a value) or deleted (None)."""

    node_config: NodeConfig | None


@attrs.frozen(eq=False)
class NodeIPChanged(Event):
    """This node's own interconnect address changed (static config or a DHCP lease)."""

    address: str
    gateway: str = ""


@attrs.frozen(eq=False)
class ManagementIPsChanged(Event):
    """Kubernetes reports other management addresses (InternalIP/ExternalIP) for node ``name``."""

    name: str
    ips: tuple[str, ...] = ()
