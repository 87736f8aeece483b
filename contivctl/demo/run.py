"""``contivctl demo`` and ``contivctl demo down``: the command-line side of the demo.

Exit status: 0 the whole matrix answered (and with ``--service`` every
connection was served); 1 a pair failed, a connection was not served, or
the cluster could not be built; 2 bad usage; 130 interrupted. The cluster is removed in
every case but a finished ``--keep`` run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from contivctl.demo import matrix
from contivctl.demo import pods as pods_mod
from contivctl.demo import service as svc
from contivctl.demo.cluster import DemoCluster, new_tag, teardown
from contivctl.demo.plan import DemoPlan, Transport
from contivctl.demo.progress import Progress
from contivctl.demo.sh import DemoError
from contivctl.demo.state import StateFile
from contivctl.errors import ConfigError, ConfigProblem

EXIT_FAILED = 1


class _Interrupts:
    """Ctrl-C and SIGTERM, remembered as well as raised.

    Python raises KeyboardInterrupt wherever the main thread happens to be,
    and a callback the interpreter runs on its own (a finalizer, an import
    lock's cleanup) swallows it with a warning. The flag survives that: the
    demo looks at it between its phases and stops then.
    """

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt


def _report(problems: list[str], progress: Progress) -> None:
    for problem in problems:
        progress.note(f"teardown: {problem}")


#: commands the demo and the kernel dataplane run, with the Debian package of each
REQUIRED_TOOLS = (("ip", "iproute2"), ("ping", "iputils-ping"), ("nft", "nftables"), ("nsenter", "util-linux"))


def missing_tools() -> list[tuple[str, str]]:
    """The commands not found on PATH: said before anything is built, not half-way through."""
    return [(cmd, pkg) for cmd, pkg in REQUIRED_TOOLS if shutil.which(cmd) is None]


def run_demo(
    *,
    nodes: int,
    pods: int,
    transport: Transport,
    etcd: bool,
    keep: bool,
    output: str,
    state_dir: Path,
    out: TextIO,
    progress_out: TextIO = sys.stderr,
    service: bool = False,
) -> int:
    if os.geteuid() != 0:
        raise DemoError("the demo creates network namespaces: run it as root")
    missing = missing_tools()
    if missing:
        raise DemoError(
            "the demo needs "
            + ", ".join(f"{cmd} (Debian package {pkg})" for cmd, pkg in missing)
            + ": apt-get install -y "
            + " ".join(sorted({pkg for _cmd, pkg in missing}))
        )
    pods_mod.cni_command()  # builds bin/contiv-cni when missing, before anything else is built
    try:
        plan = DemoPlan(tag=new_tag(), nodes=nodes, pods=pods, transport=transport, etcd=etcd, service=service)
    except ValueError as exc:
        raise ConfigError([ConfigProblem("demo", str(exc))]) from None
    progress = Progress(progress_out)
    cluster = DemoCluster(plan, StateFile(state_dir), progress)
    cluster.check_free()
    interrupts = _Interrupts()
    previous = {sig: signal.signal(sig, interrupts) for sig in (signal.SIGINT, signal.SIGTERM)}
    finished = False
    try:
        cluster.up()
        interrupts.check()
        cluster.converge()
        interrupts.check()
        results = cluster.ping_matrix()
        interrupts.check()
        rounds = _service_rounds(cluster, interrupts) if service else []
        finished = True
    finally:
        if not (finished and keep):
            _report(cluster.down(), progress)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sources, targets = cluster.endpoints()
    to = cluster.service_targets()
    if output == "json":
        data = matrix.as_json(results, sources)
        if service:
            data["service"] = _service_json(rounds)
            data["ok"] = data["ok"] and data["service"]["ok"]
        out.write(json.dumps(data, indent=1) + "\n")
    else:
        text = matrix.as_table(results, sources, targets)
        for title, conns, removed in rounds:
            text += "\n\n" + svc.as_table(conns, sources, to, title)
            if removed is not None:
                stray = len([c for c in conns if c.served_by == removed])
                text += f" ({stray} by {removed}, which left)"
        out.write(text + "\n")
    if keep:
        progress.note(f"kept: namespaces {plan.underlay} and cdemo-{plan.tag}-*; remove with `contivctl demo down`")
    failed = matrix.failures(results)
    unserved = [c for _, conns, removed in rounds for c in svc.failures(conns, removed)]
    if failed:
        progress.note(f"{len(failed)} of {len(results)} pings were not answered")
    if unserved:
        progress.note(f"{len(unserved)} service connections were not served as they should be")
    return EXIT_FAILED if failed or unserved else 0


Round = tuple[str, list[svc.Connection], str | None]


def _service_rounds(cluster: DemoCluster, interrupts: _Interrupts) -> list[Round]:
    """Every node and pod connects to the Service; then one endpoint leaves and they connect again."""
    servers = [p.name for p in cluster.plan.server_plans()]
    where = f"service {svc.NAMESPACE}/{svc.NAME} ({svc.CLUSTER_IP}:{svc.PORT}, node port {svc.NODE_PORT})"
    rounds: list[Round] = [(f"{where}: served by", cluster.service_connections(), None)]
    interrupts.check()
    if len(servers) < 2:
        cluster.progress.note("one node: no other endpoint to take over, the endpoint stays")
        return rounds
    removed, rest = servers[0], servers[1:]
    cluster.set_endpoints(rest)
    interrupts.check()
    rounds.append((f"{where}, {removed} removed: served by", cluster.service_connections(), removed))
    return rounds


def _service_json(rounds: list[Round]) -> dict[str, Any]:
    first = svc.as_json(rounds[0][1])
    out: dict[str, Any] = {
        "name": f"{svc.NAMESPACE}/{svc.NAME}",
        "clusterIP": svc.CLUSTER_IP,
        "port": svc.PORT,
        "nodePort": svc.NODE_PORT,
        **first,
    }
    if len(rounds) > 1:
        _, conns, removed = rounds[1]
        out["afterRemoval"] = {"removed": removed, **svc.as_json(conns, removed)}
        out["ok"] = out["ok"] and out["afterRemoval"]["ok"]
    return out


def demo_down(state_dir: Path, out: TextIO) -> int:
    files = StateFile(state_dir)
    if not files.exists():
        out.write(f"no demo to remove ({files.path} does not exist)\n")
        return 0
    state = files.load()
    problems = teardown(files, state)
    for problem in problems:
        out.write(f"{problem}\n")
    if files.exists():
        out.write(f"the demo {state.tag} was not removed completely; {files.path} is kept\n")
        return EXIT_FAILED
    out.write(f"demo {state.tag} removed ({len(state.namespaces)} namespaces, {len(state.processes)} processes)\n")
    return 0
