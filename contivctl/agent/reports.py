"""What the agent reports of itself to ``contivctl status|pods|ipam|dump|vpp|bugtool`` (over REST, on localhost).

Each report is a plain JSON value with camelCase keys, read from the views
and the reconciler as they stand: nothing here changes the agent, except
``vpp_cli``, which hands a command to VPP's own CLI as an operator would
type it into vppctl.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from contivctl.errors import ReportError
from contivctl.reconcile import ItemState
from contivctl.render import naming

if TYPE_CHECKING:
    from contivctl.agent.logs import RecentLogs
    from contivctl.agent.node import Node
    from contivctl.agent.options import AgentOptions
    from contivctl.agent.parts import DataplaneParts


class AgentView(Protocol):
    """What the reports read of the agent (the agent itself, in production)."""

    opts: AgentOptions
    node: Node | None
    parts: DataplaneParts
    recent_logs: RecentLogs

    def readiness(self) -> tuple[bool, str]: ...

    def cluster_report(self) -> dict[str, object]: ...

    def kubernetes_report(self) -> dict[str, object]: ...

_CAMEL = re.compile(r"_([a-z0-9])")
_ADDRESSES = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
)


#: the longest VPP CLI command passed on (VPP's own line editor stops far below)
MAX_CLI = 4096


def camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def plain(value: Any) -> Any:
    """``value`` as JSON: attrs values as objects with camelCase keys, addresses and enums as text."""
    if attrs.has(type(value)):
        out = {"kind": type(value).__name__}
        out.update({camel(f.name): plain(getattr(value, f.name)) for f in attrs.fields(type(value))})
        return out
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, _ADDRESSES):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


class Reports:
    def __init__(self, agent: AgentView) -> None:
        self._agent = agent

    def _node(self) -> Any:
        node = self._agent.node
        if node is None:
            raise ReportError("the agent is starting: its node is not built yet")
        return node

    # -- status -------------------------------------------------------------------------

    async def status(self, query: Mapping[str, str]) -> dict[str, Any]:
        agent = self._agent
        ready, reason = agent.readiness()
        node = agent.node
        out: dict[str, Any] = {
            "node": {"name": agent.opts.node_name, "id": agent.opts.node_id},
            "ready": ready,
            "reason": reason,
            "dataplane": agent.parts.describe(),
            "cluster": agent.cluster_report(),
            "kubernetes": agent.kubernetes_report(),
        }
        if node is None:
            out["startupResync"] = {"done": False}
            return out
        view, controller, reconciler = node.view, node.controller, node.reconciler
        out["node"]["ip"] = "" if view.node_ip is None else str(view.node_ip)
        records = reconciler.history()
        startup = next((r for r in records if r.trigger == "startup resync"), None)
        out["startupResync"] = {
            "done": controller.ready.is_set(),
            "operations": len(startup.ops) if startup else 0,
            "failed": sum(1 for o in startup.ops if o.outcome != "ok") if startup else 0,
            "error": startup.error if startup else None,
        }
        counts = reconciler.count_states()
        out["pods"] = len(controller.pods)
        out["nodes"] = len(view.nodes)
        out["items"] = {state.value: n for state, n in sorted(counts.items(), key=lambda kv: kv[0].value)}
        out["itemsFailed"] = counts[ItemState.FAILED] + counts[ItemState.RETRYING]
        if records:
            last = records[-1]
            out["lastTransaction"] = {
                "seq": last.seq,
                "trigger": last.trigger,
                "startedAt": last.to_dict()["startedAt"],
                "durationSeconds": round(last.duration, 6),
                "operations": len(last.ops),
                "failed": sum(1 for o in last.ops if o.outcome != "ok"),
                "error": last.error,
            }
        return out

    # -- pods ---------------------------------------------------------------------------

    async def pods(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        node = self._node()
        controller, reconciler = node.controller, node.reconciler
        net = node.view.pod_network
        rows = []
        for att in sorted(controller.pods, key=lambda a: (a.pod.namespace, a.pod.name, a.ifname)):
            keys = controller.pods.items.get(att.key, {})
            states = [reconciler.state(k) for k in keys]
            bad = [s for s in states if s is not None and s.state is not ItemState.CONFIGURED]
            cid = att.container_id
            interfaces = [att.ifname, naming.vpp_pod_if_name(cid, att.ifname)]
            interfaces.append(naming.host_veth_name(cid, att.ifname) if net.mode == "veth" else "tap")
            rows.append(
                {
                    "namespace": att.pod.namespace,
                    "name": att.pod.name,
                    "containerId": cid,
                    "ifname": att.ifname,
                    "ip": str(att.ip),
                    "netns": att.netns,
                    "interfaces": interfaces,
                    "mode": "tcp-stack" if att.tcp_stack else net.mode,
                    "state": "wired" if not bad else "not wired: " + ", ".join(sorted({s.state.value for s in bad})),
                }
            )
        return rows

    # -- ipam ---------------------------------------------------------------------------

    async def ipam(self, query: Mapping[str, str]) -> dict[str, Any]:
        node = self._node()
        pods = node.controller.pods
        alloc = pods.allocator
        by_key = {str(a.key): a for a in pods}
        rows = []
        for key, ip in sorted(alloc.allocations().items(), key=lambda kv: int(kv[1])):
            att = by_key.get(key)
            rows.append({"ip": str(ip), "attachment": key, "pod": str(att.pod) if att else ""})
        return {
            "subnet": str(alloc.subnet),
            "gateway": str(node.view.inputs.plan.pod_gateway),
            "capacity": alloc.capacity,
            "inUse": len(alloc),
            "allocations": rows,
        }

    async def ipam_check(self, query: Mapping[str, str]) -> dict[str, Any]:
        """Leaks both ways: an address without an attachment, an attachment without its address, a netns gone."""
        from contivctl.dataplane.linux import netns_exists

        node = self._node()
        pods = node.controller.pods
        allocations = pods.allocator.allocations()
        problems: list[dict[str, str]] = []
        attached = {str(a.key): a for a in pods}
        for key, ip in sorted(allocations.items()):
            if key not in attached:
                problems.append({"problem": "address without a pod", "attachment": key, "ip": str(ip)})
        for key, att in sorted(attached.items()):
            got = allocations.get(key)
            if got is None:
                problems.append({"problem": "pod without an address", "attachment": key, "ip": str(att.ip)})
            elif got != att.ip:
                problems.append(
                    {"problem": f"pod has {att.ip} but {got} is allocated to it", "attachment": key, "ip": str(got)}
                )
            if not netns_exists(att.netns):
                gone = f"network namespace {att.netns} is gone"
                problems.append({"problem": gone, "attachment": key, "ip": str(att.ip)})
        return {"ok": not problems, "problems": problems}

    # -- items --------------------------------------------------------------------------

    async def items(self, query: Mapping[str, str]) -> dict[str, Any]:
        node = self._node()
        view = query.get("view", "desired")
        kind = query.get("kind", "")
        reconciler = node.reconciler
        if view == "desired":
            chosen: Mapping[str, Any] = reconciler.desired()
        elif view == "actual":
            chosen = reconciler.actual()
        elif view == "diff":
            return {"view": "diff", "kind": kind, "items": self._diff(reconciler, kind)}
        else:
            raise ReportError(f"view={view!r}: one of desired, actual, diff")
        items = {k: plain(v) for k, v in sorted(chosen.items()) if k.startswith(kind)}
        return {"view": view, "kind": kind, "items": items}

    @staticmethod
    def _diff(reconciler: Any, kind: str) -> list[dict[str, Any]]:
        out = []
        for key, status in sorted(reconciler.states().items()):
            if not key.startswith(kind) or status.state is ItemState.CONFIGURED:
                continue
            out.append({"key": key, **plain(status.to_dict())})
        return out

    async def logs(self, query: Mapping[str, str]) -> dict[str, Any]:
        return {"lines": list(self._agent.recent_logs.lines)}

    # -- VPP ----------------------------------------------------------------------------

    async def vpp_cli(self, body: Mapping[str, Any]) -> dict[str, Any]:
        command = body.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ReportError("a VPP CLI command is needed, e.g. 'show interface'")
        if not command.isascii() or not command.isprintable():
            raise ReportError("a VPP CLI command is printable ASCII: VPP's API carries nothing else")
        if len(command) > MAX_CLI:
            raise ReportError(f"a VPP CLI command of {len(command)} characters is longer than {MAX_CLI}")
        return {"command": command, "reply": await self._agent.parts.cli(command)}
