"""Pod churn and restart figures through the agent's own entry point, and the agent's CPU per pod through CNI.

Prints one JSON line per metric ``{"metric", "value", "unit"}``:
- churn: ADD + DEL of CHURN_PODS pods, CONCURRENCY at a time, each in a fresh
  network namespace, against the VPP emulator running in its own process;
- restart: RESTART_PODS wired pods, then a new agent process on the same
  store: the duration of its startup resync (and of the whole start) and how
  many operations it performed;
- CNI CPU: an agent process (the node and the real CNI gRPC server on its
  unix socket) serves ADD + DEL of CPU_PODS pods from ``bin/contiv-cni``, 1
  and CONCURRENCY at a time; its own CPU (user + system, all its threads,
  from ``getrusage``) per ADD + DEL, against the same process submitting
  the same events to its controller directly (no gRPC), in the same run,
  ``--runs`` times: one line per run, then the range over the runs.

Run as root from the repository root: ``python bench/pods.py``; ``--only cni``
or ``--only churn`` runs one part (churn: churn and restart).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contivctl import gcpolicy
from contivctl.cni.server import CNIServer, RemoteCNI
from contivctl.demo import cni_binary
from tests.agent.support import _Remote, config, make_node, stop_node

CHURN_PODS = 200
CONCURRENCY = 20
RESTART_PODS = 500
#: pods per CNI CPU measurement, and the untimed ones before each
CPU_PODS = 100
CPU_WARMUP = 5
#: the issue's target for the agent's CPU per ADD + DEL through its gRPC server
CPU_TARGET_MS = 8.0
#: a /22 per node: 1020 pod addresses, room for the restart figure's 500 pods
BENCH_CONFIG = {"IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24", "PodNetworkPrefixLen": 22}}


def emit(metric: str, value: float, unit: str, **more: Any) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 3), "unit": unit, **more}), flush=True)


def make_namespaces(n: int) -> list[str]:
    names = [f"bench-{uuid.uuid4().hex[:10]}" for _ in range(n)]
    script = "".join(f"netns add {name}\n" for name in names)
    subprocess.run(["ip", "-batch", "-"], input=script, text=True, check=True)
    return names


def remove_namespaces(names: list[str]) -> None:
    script = "".join(f"netns del {name}\n" for name in names)
    subprocess.run(["ip", "-force", "-batch", "-"], input=script, text=True, check=False, capture_output=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def wire(
    node: object, names: list[str], *, delete: bool, concurrency: int = CONCURRENCY
) -> tuple[float, list[float]]:
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(name: str) -> None:
        cid = uuid.uuid4().hex * 2
        async with sem:
            t0 = time.perf_counter()
            await node.add(cid, f"/var/run/netns/{name}", pod=cid[:12])  # type: ignore[attr-defined]
            latencies.append(time.perf_counter() - t0)
            if delete:
                await node.delete(cid)  # type: ignore[attr-defined]

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in names))
    return time.perf_counter() - start, latencies


async def main(only: str | None, runs: int) -> None:
    gcpolicy.tune()  # the collector's thresholds of the agent process (contivctl agent sets them too)
    work = Path(tempfile.mkdtemp(prefix="bench-pods-"))
    sock = work / "vpp.sock"
    emulator = subprocess.Popen([sys.executable, "-m", "contivctl.testing.vppemu", "--socket", str(sock)])
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the VPP emulator did not start")
            await asyncio.sleep(0.01)
        if only in (None, "churn"):
            await churn_and_restart(sock, work)
        if only in (None, "cni"):
            await asyncio.to_thread(cni_cpu, sock, work, runs)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)  # the stores and sockets of this run


async def churn_and_restart(sock: Path, work: Path) -> None:
    names: list[str] = []
    try:
        names = make_namespaces(CHURN_PODS)
        node = await make_node(_Remote(str(sock)), work / "churn.db", config(**BENCH_CONFIG))  # type: ignore[arg-type]
        try:
            total, adds = await wire(node, names, delete=True)
        finally:
            await stop_node(node)
        remove_namespaces(names)
        emit("churn_pods_per_second", CHURN_PODS / total, "pods/s")
        emit("churn_add_p50", statistics.median(adds) * 1e3, "ms")
        emit("churn_add_p99", percentile(adds, 0.99) * 1e3, "ms")

        names = make_namespaces(RESTART_PODS)
        node = await make_node(_Remote(str(sock)), work / "restart.db", config(**BENCH_CONFIG))  # type: ignore[arg-type]
        try:
            total, _ = await wire(node, names, delete=False)
        finally:
            await stop_node(node)
        emit("wire_500_pods", total, "s")
        # a restart is a new agent process: measured in one (the second of two; the first warms the page cache)
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, __file__, "--restart", str(sock), str(work / "restart.db")],
                capture_output=True,
                text=True,
                check=True,
            )
        sys.stdout.write(out.stdout)
    finally:
        remove_namespaces(names)  # a veth goes with the namespace of its pod end


def cpu_seconds() -> float:
    """This process's CPU so far, user and system, all its threads."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


class AgentProcess:
    """A ``--serve`` child: the agent's node and CNI server, driven over its stdin and stdout."""

    def __init__(self, sock: Path, store: Path, cni_sock: Path) -> None:
        argv = [sys.executable, __file__, "--serve", str(sock), str(store), str(cni_sock)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ask("ready")

    def ask(self, *command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(" ".join(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the agent process exited ({self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def plugin_call(binary: str, server: str, command: str, cid: str, netns: str) -> None:
    """One run of contiv-cni as a runtime makes it; a failure stops the bench."""
    env = {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": cid,
        "CNI_NETNS": netns,
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/usr/lib/cni",
        "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={cid[:12]}",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    conf = json.dumps({"cniVersion": "1.0.0", "name": "bench", "type": "contiv-cni", "grpcServer": server})
    done = subprocess.run([binary], env=env, input=conf.encode(), capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"contiv-cni {command} failed: {done.stdout.decode()} {done.stderr.decode()}")


def through_cni(agent: AgentProcess, binary: str, server: str, names: list[str], concurrency: int) -> float:
    """The agent's CPU (s) for ADD + DEL of a pod in each namespace by contiv-cni, `concurrency` at a time."""

    def one(name: str) -> None:
        cid = uuid.uuid4().hex * 2
        plugin_call(binary, server, "ADD", cid, f"/var/run/netns/{name}")
        plugin_call(binary, server, "DEL", cid, f"/var/run/netns/{name}")

    before = agent.ask("cpu")["cpu"]
    with ThreadPoolExecutor(concurrency) as ex:
        for f in [ex.submit(one, n) for n in names]:
            f.result()
    cpu: float = agent.ask("cpu")["cpu"] - before
    return cpu


def cni_cpu(sock: Path, work: Path, runs: int) -> None:
    """The agent's CPU per ADD + DEL through its CNI server vs submitted directly, in one agent process."""
    binary = cni_binary.ensure()
    cni_sock = work / "cni.sock"
    figures: dict[str, list[float]] = {}
    agent = AgentProcess(sock, work / "cni.db", cni_sock)
    try:
        for run in range(runs):
            for c in (1, CONCURRENCY):
                per_pod: dict[str, float] = {}
                # the order alternates, so that neither path always meets a warmer machine
                for path in ("direct", "cni") if run % 2 == 0 else ("cni", "direct"):
                    names = make_namespaces(CPU_WARMUP + CPU_PODS)
                    try:
                        warm, timed = names[:CPU_WARMUP], names[CPU_WARMUP:]
                        if path == "direct":
                            agent.ask("direct", "1", *warm)
                            cpu = agent.ask("direct", str(c), *timed)["cpu"]
                        else:
                            through_cni(agent, binary, str(cni_sock), warm, 1)
                            cpu = through_cni(agent, binary, str(cni_sock), timed, c)
                    finally:
                        remove_namespaces(names)
                    per_pod[path] = cpu / CPU_PODS * 1e3
                per_pod["ratio"] = per_pod["cni"] / per_pod["direct"]
                per_pod["grpc"] = per_pod["cni"] - per_pod["direct"]
                for path, value in per_pod.items():
                    metric = {
                        "cni": f"agent_cpu_per_add_del_cni_c{c}",
                        "direct": f"agent_cpu_per_add_del_direct_c{c}",
                        "ratio": f"agent_cpu_cni_vs_direct_c{c}",
                        "grpc": f"agent_cpu_cni_minus_direct_c{c}",
                    }[path]
                    emit(metric, value, "x" if path == "ratio" else "ms", run=run)
                    figures.setdefault(metric, []).append(value)
    finally:
        agent.close()
    for metric, values in figures.items():
        line: dict[str, Any] = {"metric": metric, "min": round(min(values), 3), "max": round(max(values), 3)}
        line.update(unit="x" if "_vs_" in metric else "ms", runs=len(values))
        if metric.startswith("agent_cpu_per_add_del_cni_"):
            line.update(target=f"<= {CPU_TARGET_MS:g}", met=all(v <= CPU_TARGET_MS for v in values))
        print(json.dumps(line), flush=True)


async def serve(sock: str, store: Path, cni_sock: Path) -> None:
    """The agent side of the CNI figure: the node and its CNI server; commands on stdin, answers on stdout.

    ``ready``, ``cpu`` (this process's CPU so far), ``direct C NS...`` (ADD + DEL of a pod in each
    namespace through the controller, C at a time: the CPU it took); end of input stops it.
    """
    gcpolicy.tune()
    node = await make_node(_Remote(sock), store, config(**BENCH_CONFIG))  # type: ignore[arg-type]
    server = CNIServer(RemoteCNI(node.controller.submit, node.controller.ready), cni_sock)
    try:
        await server.start()
        gcpolicy.settle()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            command, *args = line.decode().split()
            if command == "direct":
                before = cpu_seconds()
                await wire(node, args[1:], delete=True, concurrency=int(args[0]))
                answer = {"cpu": cpu_seconds() - before}
            else:
                answer = {"cpu": cpu_seconds()}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        await server.stop()
        await stop_node(node)


async def restart(sock: str, store: Path) -> None:
    """One agent start on a store of wired pods, as a fresh process does it: its figures."""
    gcpolicy.tune()
    t0 = time.perf_counter()
    node = await make_node(_Remote(sock), store, config(**BENCH_CONFIG), start=False)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    try:
        await node.controller.start()
        t2 = time.perf_counter()
        (record,) = [r for r in node.reconciler.history() if r.trigger == "startup resync"]
    finally:
        await stop_node(node)
    # the transaction's own record: planning and applying, after the dataplane was read
    emit("restart_resync_txn_500_pods", record.duration, "s")
    # the controller's start: store, rendering, reading VPP and every pod namespace, diff, apply
    emit("restart_resync_500_pods", t2 - t1, "s")
    # what a restart costs end to end: VPP connect and store open too
    emit("restart_agent_start_500_pods", t2 - t0, "s")
    emit("restart_resync_operations", len(record.ops), "ops")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--restart"]:
        asyncio.run(restart(sys.argv[2], Path(sys.argv[3])))
    elif sys.argv[1:2] == ["--serve"]:
        asyncio.run(serve(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--only", choices=("churn", "cni"), help="run one part (churn: churn and restart)")
        parser.add_argument("--runs", type=int, default=3, help="repetitions of the CNI CPU figure (default 3)")
        args = parser.parse_args()
        asyncio.run(main(args.only, args.runs))
