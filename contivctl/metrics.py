"""The agent's Prometheus metrics (``GET /metrics``): what it did, and what it holds now.

What it did is counted as it happens, through hooks the assembly connects:
every CNI call the controller answers (``observe_cni``), every DEL found
in the plugin's queue (``queued_del``), every finished transaction (the
reconciler's ``on_record``), every VPP request (the connection's
``observer``). What it holds — pods, nodes, failed items,
addresses, the queue, the event loop's lateness — is read from the views
when Prometheus scrapes, so nothing is kept twice and nothing can drift.

Names follow Prometheus conventions: a unit suffix, ``_total`` for
counters, labels of small, fixed sets only (a transaction's free-text
trigger becomes one of a few classes).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contivctl.reconcile.history import TxnRecord

#: seconds: a CNI call or transaction of a pod takes milliseconds, a resync of thousands of items seconds
_DURATIONS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: seconds: a VPP request takes tens of microseconds to milliseconds
_VPP_DURATIONS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0)


def trigger_class(record: TxnRecord) -> str:
    """What set a transaction off, as one of a few label values (its trigger is free text)."""
    trigger = record.trigger
    if trigger == "startup resync":
        return "startup"
    if record.kind.value == "retry":
        return "retry"
    if record.kind.value.startswith("resync"):
        return "resync"
    if "pod events" in trigger or trigger.startswith(("add ", "delete ", "re-add ", "replace ", "garbage-collect")):
        return "pod"
    if trigger.startswith("undo "):
        return "pod"
    if "node" in trigger or trigger.startswith("NodeConfig") or "management IPs" in trigger:
        return "node"
    return "other"


@attrs.frozen
class Readings:
    """Where the gauges are read from at scrape time (each a cheap read of the agent's state)."""

    pods: Callable[[], int]
    nodes: Callable[[], int]
    items_failed: Callable[[], int]
    ipam_in_use: Callable[[], int]
    ipam_capacity: Callable[[], int]
    queue_depth: Callable[[], int]
    #: the event loop's worst lateness lately, in seconds
    loop_lag: Callable[[], float]


class _Gauges(Collector):
    def __init__(self, metrics: AgentMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        readings = self._metrics.readings
        if readings is None:
            return
        for name, doc, read in (
            ("contivctl_pods", "Pod attachments wired on this node", readings.pods),
            ("contivctl_nodes", "Other nodes this node knows", readings.nodes),
            ("contivctl_items_failed", "Dataplane items that are failed or being retried", readings.items_failed),
            ("contivctl_ipam_addresses_in_use", "Pod addresses allocated on this node", readings.ipam_in_use),
            ("contivctl_ipam_addresses_capacity", "Pod addresses this node can hand out", readings.ipam_capacity),
            ("contivctl_event_queue_depth", "Events waiting for the controller", readings.queue_depth),
            ("contivctl_event_loop_lag_seconds", "Worst lateness of the event loop lately", readings.loop_lag),
        ):
            yield GaugeMetricFamily(name, doc, value=read())


class AgentMetrics:
    """One agent's metrics, in a registry of its own (several agents may share a process: tests, the demo)."""

    def __init__(self, *, version: str, dataplane: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.cni_requests = Counter(
            "contivctl_cni_requests", "CNI calls answered, by command and result", ["command", "result"], registry=r
        )
        self.cni_duration = Histogram(
            "contivctl_cni_request_duration_seconds",
            "Time from a CNI call reaching the controller to its answer",
            ["command"],
            buckets=_DURATIONS,
            registry=r,
        )
        self.txn_duration = Histogram(
            "contivctl_txn_duration_seconds",
            "Time of a reconciler transaction, planning included, by what set it off",
            ["trigger"],
            buckets=_DURATIONS,
            registry=r,
        )
        self.txn_operations = Counter(
            "contivctl_txn_operations",
            "Dataplane operations run by transactions, by kind (create, update, delete) and result",
            ["kind", "result"],
            registry=r,
        )
        self.vpp_duration = Histogram(
            "contivctl_vpp_request_duration_seconds",
            "Time of a VPP binary-API request (a pipelined group counts once, by its first message)",
            ["message"],
            buckets=_VPP_DURATIONS,
            registry=r,
        )
        self.vpp_errors = Counter(
            "contivctl_vpp_request_errors",
            "VPP requests that failed: VPP's retval name, or timeout or connection",
            ["message", "error"],
            registry=r,
        )
        self.queued_dels = Counter(
            "contivctl_cni_queued_dels",
            "DELs contiv-cni queued while the agent could not take them, as the agent drained them: "
            "ok (done, removed), failed (kept for the next drain), bad (not a queued DEL, set aside)",
            ["result"],
            registry=r,
        )
        for result in ("ok", "failed", "bad"):  # each series from the start, at 0
            self.queued_dels.labels(result)
        self.nat_sessions_deleted = Counter(
            "contivctl_nat_sessions_deleted",
            "Idle NAT44 sessions deleted by the sweep (CleanupIdleNATSessions)",
            registry=r,
        )
        self.collected = Counter(
            "contivctl_attachments_collected",
            "Attachments removed as garbage, by why: the runtime's CNI GC, their network namespace gone, "
            "their pod gone from Kubernetes",
            ["reason"],
            registry=r,
        )
        build = GaugeMetricFamily(
            "contivctl_build_info", "The agent's version", labels=["version", "python", "dataplane"]
        )
        build.add_metric([version, platform.python_version(), dataplane], 1.0)
        r.register(_Static(build))
        #: set by the assembly once the node exists
        self.readings: Readings | None = None
        r.register(_Gauges(self))

    # -- hooks ------------------------------------------------------------------

    def observe_cni(self, command: str, result: str, seconds: float) -> None:
        self.cni_requests.labels(command, result).inc()
        self.cni_duration.labels(command).observe(seconds)

    def observe_collected(self, reason: str, count: int = 1) -> None:
        """``count`` attachments removed as garbage; ``reason``: ``cni-gc``, ``netns-gone`` or ``pod-gone``."""
        if count:
            self.collected.labels(reason).inc(count)

    def observe_txn(self, record: TxnRecord) -> None:
        self.txn_duration.labels(trigger_class(record)).observe(record.duration)
        counts: dict[tuple[str, str], int] = {}
        for op in record.ops:
            counts[(op.op, op.outcome)] = counts.get((op.op, op.outcome), 0) + 1
        for (kind, result), n in counts.items():
            self.txn_operations.labels(kind, result).inc(n)

    def request(self, name: str, seconds: float, count: int) -> None:
        """VPP answered (the connection's observer)."""
        self.vpp_duration.labels(name).observe(seconds)

    def failed(self, name: str, error: str) -> None:
        """A VPP request failed (the connection's observer)."""
        self.vpp_errors.labels(name, error).inc()

    def queued_del(self, result: str) -> None:
        """The agent found a queued DEL in contiv-cni's DEL queue (contivctl/cni/delqueue.py)."""
        self.queued_dels.labels(result).inc()

    def nat_sessions_swept(self, deleted: int) -> None:
        """A sweep of idle NAT sessions ended (the VPP flavour's sweeper)."""
        self.nat_sessions_deleted.inc(deleted)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Static(Collector):
    def __init__(self, *metrics: Metric) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics
