"""The inspection commands: what a running agent says of itself, read over its REST endpoint on localhost.

``status``, ``pods``, ``ipam show``, ``ipam check``, ``dump``, ``vpp``,
``txn`` and ``bugtool``. Each takes ``--http`` (``CONTIV_HTTP``) and prints
with ``-o json|yaml|table``; an agent that cannot be reached is one line on
stderr and exit status 1, as is a check that finds something wrong.
docs/troubleshooting.md walks through them for a pod without network.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from contivctl.agent.options import default
from contivctl.errors import AgentUnreachable, ContivError

Handler = Callable[[argparse.Namespace, TextIO], int]
#: what bugtool asks VPP (read-only show commands)
VPP_SHOWS = (
    "show version verbose",
    "show interface",
    "show interface address",
    "show hardware-interfaces brief",
    "show ip fib summary",
    "show ip neighbors",
    "show bridge-domain",
    "show vxlan tunnel",
    "show nat44 summary",
    "show errors",
    "show runtime",
)


class AgentClient:
    """The agent's REST endpoint, as the commands use it."""

    def __init__(self, http: str, timeout: float) -> None:
        self.base = f"http://{http}"
        self.timeout = timeout

    def _open(self, req: urllib.request.Request) -> bytes:
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                message = json.loads(body).get("error") or body.decode(errors="replace")
            except ValueError:
                message = body.decode(errors="replace")
            raise ContivError(f"the agent answered {exc.code}: {message}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise AgentUnreachable(
                f"cannot reach the agent at {self.base}: {getattr(exc, 'reason', exc)} (is it running? --http)"
            ) from None

    def get(self, path: str) -> Any:
        return json.loads(self._open(urllib.request.Request(self.base + path)))

    def text(self, path: str) -> str:
        return self._open(urllib.request.Request(self.base + path)).decode(errors="replace")

    def post(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(
            self.base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        return json.loads(self._open(req))


def _client(args: argparse.Namespace) -> AgentClient:
    return AgentClient(args.http, args.timeout)


def _emit(data: Any, args: argparse.Namespace, out: TextIO) -> None:
    from contivctl.output import emit

    emit(data, args.output, out)


# -- status -------------------------------------------------------------------------------


def brief(status: dict[str, Any]) -> str:
    """One line: ready or why not, and the counts an operator looks at first."""
    dp = status.get("dataplane", {})
    where = dp.get("name", "?")
    if where == "vpp":
        where = f"VPP {dp.get('version') or '?'} {'connected' if dp.get('connected') else 'NOT connected'}"
    state = "ready" if status.get("ready") else f"NOT ready ({status.get('reason', '')})"
    return (
        f"{state}: {status.get('pods', 0)} pods, {status.get('nodes', 0)} other nodes, "
        f"{status.get('itemsFailed', 0)} items failed; {where}"
    )


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    try:
        status = _client(args).get("/contiv/v1/status")
    except AgentUnreachable as exc:
        if not args.brief:
            raise
        out.write(f"NOT ready: {exc}\n")
        return 1
    if args.brief:
        out.write(brief(status) + "\n")
    else:
        _emit(status, args, out)
    return 0 if status.get("ready") else 1


def cmd_pods(args: argparse.Namespace, out: TextIO) -> int:
    _emit(_client(args).get("/contiv/v1/pods"), args, out)
    return 0


def cmd_ipam_show(args: argparse.Namespace, out: TextIO) -> int:
    data = _client(args).get("/contiv/v1/ipam/allocations")
    if args.output == "table":
        head = f"subnet {data['subnet']}, gateway {data['gateway']}: {data['inUse']} of {data['capacity']} in use"
        out.write(head + "\n")
        _emit(data["allocations"], args, out)
    else:
        _emit(data, args, out)
    return 0


def cmd_ipam_check(args: argparse.Namespace, out: TextIO) -> int:
    data = _client(args).get("/contiv/v1/ipam/check")
    if args.output == "table":
        out.write("no leaks: every address has its pod, every pod its address and namespace\n" if data["ok"] else "")
        if data["problems"]:
            _emit(data["problems"], args, out)
    else:
        _emit(data, args, out)
    return 0 if data["ok"] else 1


def cmd_dump(args: argparse.Namespace, out: TextIO) -> int:
    query = f"?view={args.view}" + (f"&kind={args.kind}" if args.kind else "")
    data = _client(args).get("/contiv/v1/items" + query)
    if args.output == "table":
        if args.view == "diff":
            rows = [
                {"key": d["key"], "state": d["state"], "error": d.get("error") or "", "waitingFor": d["waitingFor"]}
                for d in data["items"]
            ]
        else:
            rows = [
                {"key": k, "kind": v.get("kind", "") if isinstance(v, dict) else ""} for k, v in data["items"].items()
            ]
        _emit(rows, args, out)
    else:
        _emit(data, args, out)
    return 0


def cmd_vpp(args: argparse.Namespace, out: TextIO) -> int:
    if not args.words:
        raise ContivError("give a VPP CLI command, e.g. contivctl vpp show interface")
    reply = _client(args).post("/contiv/v1/vpp/cli", {"command": " ".join(args.words)})
    out.write(str(reply["reply"]).rstrip("\n") + "\n")
    return 0


# -- txn ----------------------------------------------------------------------------------


def cmd_txn(args: argparse.Namespace, out: TextIO) -> int:
    records = _client(args).get("/contiv/v1/txn" + (f"?last={args.last}" if args.last else ""))
    if args.output != "table":
        _emit(records, args, out)
        return 0
    rows = [
        {
            "seq": r["seq"],
            "started": (r.get("startedAt") or "")[11:23],
            "kind": r["kind"],
            "trigger": r["trigger"],
            "ops": len(r["ops"]),
            "failed": sum(1 for o in r["ops"] if o["outcome"] != "ok"),
            "ms": round(r["duration"] * 1000, 1),
            "error": r["error"] or _first_failure(r),
        }
        for r in records
    ]
    _emit(rows, args, out)
    return 0


def _first_failure(record: dict[str, Any]) -> str:
    """The first failed operation's error: a failed resync has no record-level error, its operations do."""
    for op in record["ops"]:
        if op["outcome"] == "failed" and op.get("error"):
            return f"{op['op']} {op['key']}: {op['error']}"
    return ""


# -- bugtool ------------------------------------------------------------------------------


def cmd_bugtool(args: argparse.Namespace, out: TextIO) -> int:
    client = _client(args)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = Path(args.out or f"contivctl-bugtool-{stamp}.tar.gz")
    collected: list[tuple[str, bytes]] = []
    failures: list[str] = []

    def take(name: str, read: Callable[[], Any]) -> None:
        try:
            value = read()
        except ContivError as exc:  # one part missing must not lose the others
            failures.append(f"{name}: {exc}")
            return
        data = value if isinstance(value, bytes) else json.dumps(value, indent=2).encode()
        collected.append((name, data))

    take("status.json", lambda: client.get("/contiv/v1/status"))
    take("pods.json", lambda: client.get("/contiv/v1/pods"))
    take("ipam.json", lambda: client.get("/contiv/v1/ipam/allocations"))
    take("ipam-check.json", lambda: client.get("/contiv/v1/ipam/check"))
    take("txn.json", lambda: client.get("/contiv/v1/txn"))
    take("loop.json", lambda: client.get("/contiv/v1/loop"))
    take("metrics.txt", lambda: client.text("/metrics").encode())
    for view in ("desired", "actual", "diff"):
        take(f"items-{view}.json", functools.partial(client.get, f"/contiv/v1/items?view={view}"))
    take("agent.log", lambda: "\n".join(client.get("/contiv/v1/logs")["lines"]).encode() + b"\n")

    def vpp_show(cmd: str) -> bytes:
        return str(client.post("/contiv/v1/vpp/cli", {"command": cmd})["reply"]).encode()

    for cmd in VPP_SHOWS:
        take(f"vpp/{cmd.replace(' ', '-')}.txt", functools.partial(vpp_show, cmd))
    if args.config:
        take("contiv.yaml", lambda: Path(args.config).read_bytes())
    if failures:
        collected.append(("missing.txt", ("\n".join(failures) + "\n").encode()))
    if not any(name == "status.json" for name, _ in collected):
        raise AgentUnreachable(f"nothing collected: {failures[0] if failures else 'no answer'}")
    with tarfile.open(path, "w:gz") as tar:
        for name, data in collected:
            info = tarfile.TarInfo(f"bugtool-{stamp}/{name}")
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
    os.chmod(path, 0o600)  # pod names, namespaces and addresses: for the operator, not for everyone
    out.write(f"{path}: {len(collected)} files" + (f" ({len(failures)} could not be read)" if failures else "") + "\n")
    return 0


# -- the parsers --------------------------------------------------------------------------


def _env(*names: str, fallback: str = "") -> str:
    return next((os.environ[n] for n in names if os.environ.get(n)), fallback)


def _common(
    p: argparse.ArgumentParser, output: str | None = "table", choices: Sequence[str] = ("json", "yaml", "table")
) -> None:
    p.add_argument(
        "--http",
        default=_env("CONTIV_HTTP", fallback=default("http")),
        metavar="ADDR",
        help="the agent's REST endpoint (CONTIV_HTTP)",
    )
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="how long to wait for the agent")
    if output is not None:
        p.add_argument("-o", "--output", choices=choices, default=output, help=f"output format (default: {output})")


def add_commands(sub: Any, count: Callable[[str], int]) -> None:
    """The inspection commands, on the top-level parser's subcommands."""
    status = sub.add_parser(
        "status",
        help="the agent's state: VPP, startup resync, cluster, Kubernetes, pods, failed items",
        description="What the running agent reports of itself. --brief prints one line and sets the exit "
        "status (0 ready, 1 not ready or unreachable): for probes and scripts.",
    )
    status.add_argument("--brief", action="store_true", help="one line; the exit status says ready or not")
    _common(status)
    status.set_defaults(handler=cmd_status)

    pods = sub.add_parser("pods", help="the pods wired on this node: name, container, IP, interfaces, mode, state")
    _common(pods)
    pods.set_defaults(handler=cmd_pods)

    dump = sub.add_parser(
        "dump",
        help="the agent's dataplane items: desired, actual (as last read), or what differs",
        description="desired: what the agent wants; actual: what it last found; diff: every item not as "
        "desired, with why (failed, pending on what).",
    )
    dump.add_argument("--view", choices=("desired", "actual", "diff"), default="diff")
    dump.add_argument("--kind", default="", metavar="PREFIX", help="only keys starting with this, e.g. vpp/interface/")
    _common(dump, "yaml")
    dump.set_defaults(handler=cmd_dump)

    vpp = sub.add_parser(
        "vpp",
        help="run a VPP CLI command through the agent (vppctl without a CLI socket)",
        description="e.g. contivctl vpp show interface; the agent passes it to VPP's cli_inband.",
    )
    vpp.add_argument("words", nargs=argparse.REMAINDER, metavar="COMMAND")
    _common(vpp, None)
    vpp.set_defaults(handler=cmd_vpp)

    txn = sub.add_parser(
        "txn",
        help="show the agent's last transactions",
        description="What the agent's reconciler did lately: each transaction's trigger, operations and "
        "errors. The first place to look when a pod is not wired (-o json shows every operation).",
    )
    txn.add_argument("--last", type=count, default=0, metavar="N", help="only the last N transactions (1 or more)")
    _common(txn)
    txn.set_defaults(handler=cmd_txn)

    bugtool = sub.add_parser(
        "bugtool",
        help="one tarball of everything to attach to a bug report",
        description="status, pods, IPAM, transactions, items, metrics, recent logs and VPP's show commands "
        "from the running agent, and the config file with --config; the tarball is readable by its owner only.",
    )
    bugtool.add_argument("--out", default="", metavar="FILE", help="where to write it (default: in this directory)")
    bugtool.add_argument(
        "--config", default=_env("CONTIV_CONFIG"), metavar="FILE", help="the agent's config to include"
    )
    _common(bugtool, None)
    bugtool.set_defaults(handler=cmd_bugtool)


def add_ipam_commands(ipam_sub: Any) -> None:
    show = ipam_sub.add_parser("show", help="the pod addresses in use on this node (from the running agent)")
    _common(show)
    show.set_defaults(handler=cmd_ipam_show)
    check = ipam_sub.add_parser(
        "check",
        help="leaks both ways: an address without a pod, a pod without an address, a namespace that is gone",
        description="Exit status 1 when anything is found.",
    )
    _common(check)
    check.set_defaults(handler=cmd_ipam_check)
