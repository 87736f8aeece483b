"""The errors contivctl raises, in one tree.

Every error a user can meet derives from :class:`ContivError`, so the CLI can
catch that one type, print the message and exit with a status code instead of
showing a traceback::

    ContivError
    ├── ConfigError          the configuration is invalid (all problems at once)
    ├── IPAMError            an address cannot be computed or handed out
    │   ├── NodeIDOutOfRange the node ID does not fit the configured subnets
    │   └── PoolExhausted    every pod address of this node is in use
    ├── AgentUnreachable     a command could not reach the agent's REST endpoint
    ├── ReportError          the agent cannot give a report as asked (a bad query value)
    ├── StoreError           the local store or etcd failed an operation
    ├── AttachmentNotFound   a CNI CHECK named an attachment the agent does not have
    ├── InvalidRequest       a CNI request names what cannot be (a malformed container ID, interface, namespace)
    ├── PodWiringError       a pod could not be wired; everything the attempt made was undone
    ├── ClusterError         this node cannot take (or keep) its place in the cluster
    │   ├── NodeIDConflict     the node ID this node used is recorded for another node in etcd
    │   ├── NodeIDUnavailable  no node ID could be claimed (etcd unreachable, too many tries)
    │   └── RecordError        a value under allocatedIDs/ is not a node record
    ├── DemoError            the demo could not build or check its cluster (contivctl.demo.sh)
    │   └── PluginUnavailable  contiv-cni is not built and cannot be (no Go) (contivctl.demo.cni_binary)
    ├── STNError             the STN daemon is not there, or could not steal, give back or tell of a NIC
    └── DataplaneError       the dataplane could not be reached or refused a change
        ├── VPPError         anything between the agent and VPP's binary API
        │   ├── VPPIncompatible    VPP lacks messages the driver needs, or has other CRCs
        │   ├── VPPConnectionError the socket cannot be reached or the connection was lost
        │   ├── VPPTimeout         VPP did not answer within the deadline
        │   ├── VPPApiError        VPP answered with a non-zero retval (name and number)
        │   ├── NicNotFound        a physical interface to configure is not in VPP
        │   └── NoSwIfIndex        an interface item has no sw_if_index (a bug)
        └── LinuxError       a netlink operation failed
            ├── NetnsNotFound      a network namespace path does not exist
            ├── NetlinkFailed      the kernel refused a request (``code`` is the errno)
            └── LinkNotFound       an interface an operation needs is not there

:attr:`DataplaneError.retriable` says whether trying again later can help: a
lost connection or a timeout can heal, a refusal or a wrong API usually not.

A class is defined here even when a single module raises it, so that the
tree is read in one file; later layers (CNI, dataplane, stores) add their
branches here too.

The reconciler's errors (:mod:`contivctl.reconcile.errors`, under
``ReconcileError``) are a tree of their own on purpose: the reconciler is
generic and imports no product module, this one included. The controller
wraps them into :class:`ContivError` subclasses before they reach a user.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs


@attrs.frozen
class ConfigProblem:
    """One thing wrong with a configuration, addressed by its key path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ContivError(Exception):
    """Base of every error contivctl reports to a user."""


class ConfigError(ContivError):
    """A configuration could not be accepted.

    It carries every problem found, not just the first, so that a user fixes
    a file in one round instead of one error per run.
    """

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class IPAMError(ContivError):
    """An address could not be computed or allocated."""


class NodeIDOutOfRange(IPAMError):
    """The node ID has no subnet of its own under the configured CIDRs."""


class PoolExhausted(IPAMError):
    """No pod address is free on this node."""


class StoreError(ContivError):
    """A store operation failed; the message names the store and the cause."""


class AttachmentNotFound(ContivError):
    """The agent has no attachment of that container and interface (CNI error 3: nothing to clean up)."""


class InvalidRequest(ContivError):
    """A pod's CNI request that cannot be acted on; the message names each field and what is wrong."""


class PodWiringError(ContivError):
    """A pod could not be wired; everything the attempt made has been undone."""


class ClusterError(ContivError):
    """Cluster membership failed; the message says which node and what to do about it."""


class NodeIDConflict(ClusterError):
    """Another node holds the ID this node used before: running on would duplicate a pod subnet."""


class NodeIDUnavailable(ClusterError):
    """No node ID could be claimed or recalled."""


class RecordError(ClusterError):
    """A value under ``allocatedIDs/`` that is not a node record."""


class STNError(ContivError):
    """Stealing the NIC failed, or the STN daemon cannot say what it stole: the node has no node IP."""


class DataplaneError(ContivError):
    """A dataplane operation failed; `retriable` tells whether a later retry may succeed."""

    retriable: bool = False


class VPPError(DataplaneError):
    """VPP could not be talked to, or it refused a request."""


class VPPIncompatible(VPPError):
    """The VPP found (or the API definitions installed with it) lacks messages the driver needs.

    Raised once at connect, listing every missing or changed message, so an
    operator sees the whole mismatch and the VPP version in one line instead
    of a failure per call later.
    """

    def __init__(
        self,
        version: str,
        missing: Sequence[str] = (),
        changed: Sequence[tuple[str, str, str]] = (),
        where: str = "VPP",
    ) -> None:
        self.version = version
        self.missing = tuple(missing)
        self.changed = tuple(changed)
        self.where = where
        parts = []
        if self.missing:
            parts.append("missing: " + ", ".join(self.missing))
        if self.changed:
            parts.append(
                "changed: " + ", ".join(f"{n} (expected {want}, found {got})" for n, want, got in self.changed)
            )
        super().__init__(f"{where} (version {version}) does not provide the API this agent needs; " + "; ".join(parts))


class VPPConnectionError(VPPError):
    """The API socket cannot be reached, or the connection dropped with the request in flight."""

    retriable = True


class VPPTimeout(VPPError):
    """VPP did not answer a request within the deadline."""

    retriable = True

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(f"VPP did not answer {name} within {seconds:g}s")
        self.name = name
        self.seconds = seconds


class VPPApiError(VPPError):
    """VPP answered a request with a non-zero retval.

    `retval_name` is VPP's name for the value (e.g. ``ADDRESS_IN_USE``) when
    the driver knows it. A refusal with a reason is not retriable: VPP gives
    the same answer to the same request. ``UNSPECIFIED`` (-1) gives no reason:
    VPP answers it for failures it does not classify, passing ones among them,
    so it is tried again with the backoff (a pod answered OK is otherwise
    left unwired for good by one such answer at a resync).
    """

    def __init__(self, message: str, retval: int, retval_name: str | None = None) -> None:
        label = f"{retval_name} ({retval})" if retval_name else f"retval {retval}"
        super().__init__(f"VPP refused {message}: {label}")
        self.message = message
        self.retval = retval
        self.retval_name = retval_name
        self.retriable = retval == _UNSPECIFIED


#: VPP's VNET_API_ERROR_UNSPECIFIED
_UNSPECIFIED = -1


class NicNotFound(VPPError):
    """A physical interface the agent was told to configure is not in VPP."""


class NoSwIfIndex(VPPError):
    """An interface item exists without an sw_if_index (a bug: create always returns one)."""


class LinuxError(DataplaneError):
    """A netlink operation failed; the message names the namespace and the object."""


class NetnsNotFound(LinuxError):
    """The network namespace is gone (or never was); it is never created in its place."""


class NetlinkFailed(LinuxError):
    """A netlink request was refused; ``code`` is the errno."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class LinkNotFound(LinuxError):
    """The interface an operation needs is not there (yet, or any more)."""


class ReportError(ContivError):
    """A report of the agent cannot be given as asked (a bad query value): the message says why."""


class AgentUnreachable(ContivError):
    """A command could not reach the agent's REST endpoint (not running, or another address)."""
