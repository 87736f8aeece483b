"""CNI ADD and pod churn: ``bin/contiv-cni`` against the agent vs Debian's ``bridge`` + ``host-local``.

Both plugins run on this machine in the same run, each spawned the same way
(from a thread entered into a bench "node" namespace, so the bridge and its
sysctl changes stay out of the host), each ADD into a fresh pod namespace
made beforehand and not timed. The agent and its VPP emulator run in that
namespace too, so that the agent's host interconnect is made there and goes
with it. ``contiv-cni`` talks over the agent's unix
socket to a real ``contivctl agent`` process, which wires the pod
(veth + AF_PACKET) in the VPP emulator and the pod namespace; ``bridge``
uses ``host-local`` IPAM (bridge waits for host-local, so its CPU counts
there too).

- one ADD at a time: median and p90 wall time of each plugin and their
  ratio (target <= 1.0); the plugin process's CPU (user + system, from
  ``wait4``) per ADD and per DEL (target <= 5 ms for contiv-cni); the
  agent's own time per ADD event (from its log);
- churn as kubelet does it: ``--pods`` pods, each ADD then DEL, at 1, 10
  and 20 at a time: pods/s of each plugin and the ratio (target >= 1.0),
  ADD p99 (target < 100 ms at 20).

Everything is measured ``--runs`` times; JSON lines: one per figure and
run, then one per figure with the range over the runs and, where the
issue set one, the target and whether every run met it.

    python bench/cni_add.py [--runs 3] [--count 30] [--pods 100]   # as root; CNIBENCH_KEEP=1 keeps the logs
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from contivctl.demo import cni_binary  # noqa: E402  (the repository's, not an installed copy)

API_DIR = ROOT / "contivctl" / "testing" / "vppemu" / "api"
BRIDGE = "/usr/lib/cni/bridge"
CLONE_NEWNET = 0x40000000
CONCURRENCY = (1, 10, 20)
CONFIG = """\
UseTAPInterfaces: false
TCPstackDisabled: true
MTUSize: 1450
IPAMConfig:
  NodeInterconnectCIDR: 192.168.16.0/24
"""

_libc = ctypes.CDLL(None, use_errno=True)


def emit(metric: str, value: float, unit: str, **more: Any) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 3), "unit": unit, **more}), flush=True)


def quantile(values: list[float], q: int) -> float:
    """The q-th percentile (inclusive method)."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def enter_netns(path: str) -> None:
    """Move the calling thread (only it) into the network namespace at `path`; its children are born there."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def netns_batch(verb: str, names: list[str]) -> None:
    """Namespaces made or removed by one ``ip -batch``: outside every timed section."""
    if names:
        script = "".join(f"netns {verb} {n}\n" for n in names)
        subprocess.run(["ip", "-force", "-batch", "-"], input=script.encode(), capture_output=True, check=verb == "add")


def new_names(n: int) -> list[str]:
    return [f"cg{uuid.uuid4().hex[:12]}" for _ in range(n)]


class Plugin:
    """One plugin binary and its netconf."""

    def __init__(self, name: str, argv: list[str], conf: dict[str, Any]) -> None:
        self.name, self.argv, self.stdin = name, argv, json.dumps(conf).encode()

    def call(self, command: str, cid: str, netns: str) -> tuple[float, float]:
        """Run once; (wall ms, CPU ms of the plugin process and what it waited for). A failure stops the bench."""
        env = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": cid,
            "CNI_NETNS": f"/var/run/netns/{netns}",
            "CNI_IFNAME": "eth0",
            "CNI_PATH": "/usr/lib/cni",
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-{cid[:8]}",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            self.argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
        )
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write(self.stdin)
        proc.stdin.close()
        out, err = proc.stdout.read(), proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        took = (time.perf_counter() - t0) * 1e3
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        proc.stderr.close()
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} {command} failed ({proc.returncode}): {out.decode()} {err.decode()}")
        return took, (usage.ru_utime + usage.ru_stime) * 1e3


def pool(node_ns: str, workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers, initializer=enter_netns, initargs=(f"/var/run/netns/{node_ns}",))


def sequential(plugins: list[Plugin], node_ns: str, count: int) -> dict[str, dict[str, list[float]]]:
    """ADD then DEL of one pod at a time, the plugins taking turns pod by pod; the first 3 of each are warm-up."""
    out = {p.name: {"add": [], "add_cpu": [], "del_cpu": []} for p in plugins}
    names = new_names((count + 3) * len(plugins))
    netns_batch("add", names)
    try:
        with pool(node_ns, 1) as ex:
            for i in range(count + 3):
                for j, p in enumerate(plugins):
                    ns, cid = names[i * len(plugins) + j], uuid.uuid4().hex * 2
                    took, cpu = ex.submit(p.call, "ADD", cid, ns).result()
                    _, del_cpu = ex.submit(p.call, "DEL", cid, ns).result()
                    if i >= 3:
                        out[p.name]["add"].append(took)
                        out[p.name]["add_cpu"].append(cpu)
                        out[p.name]["del_cpu"].append(del_cpu)
    finally:
        netns_batch("del", names)
    return out


def churn(plugin: Plugin, node_ns: str, pods: int, concurrency: int) -> tuple[float, list[float]]:
    """`pods` pods, each ADD then DEL, `concurrency` at a time; (pods/s, ADD wall times)."""
    names = new_names(pods)
    netns_batch("add", names)
    adds: list[float] = []
    lock = threading.Lock()

    def one(ns: str) -> None:
        cid = uuid.uuid4().hex * 2
        took, _ = plugin.call("ADD", cid, ns)
        plugin.call("DEL", cid, ns)
        with lock:
            adds.append(took)

    try:
        with pool(node_ns, concurrency) as ex:
            t0 = time.perf_counter()
            for f in [ex.submit(one, ns) for ns in names]:
                f.result()
            wall = time.perf_counter() - t0
    finally:
        netns_batch("del", names)
    return pods / wall, adds


def wait_until(check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


@contextlib.contextmanager
def started(argv: list[str], log: Path, netns: str) -> Iterator[subprocess.Popen[bytes]]:
    """`argv` run in the bench node's namespace: what the agent makes there (its host interconnect) goes with it."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(["ip", "netns", "exec", netns, *argv], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def agent_add_times(log: Path) -> list[float]:
    """The controller's own time per single ADD event, from the agent's log (the part the plugin waits for)."""
    return [
        float(line.rsplit(" in ", 1)[1].split()[0])
        for line in log.read_text().splitlines()
        if " AddPod: ok in " in line
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def measure_run(contiv: Plugin, bridge: Plugin, node_ns: str, count: int, pods: int, run: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    one = sequential([contiv, bridge], node_ns, count)
    for name, data in one.items():
        figures[f"{name}_add_median_ms"] = statistics.median(data["add"])
        figures[f"{name}_add_p90_ms"] = quantile(data["add"], 90)
        figures[f"{name}_add_cpu_median_ms"] = statistics.median(data["add_cpu"])
        figures[f"{name}_del_cpu_median_ms"] = statistics.median(data["del_cpu"])
    figures["add_ratio_median"] = figures["contiv_cni_add_median_ms"] / figures["bridge_add_median_ms"]
    figures["add_ratio_p90"] = figures["contiv_cni_add_p90_ms"] / figures["bridge_add_p90_ms"]
    for c in CONCURRENCY:
        # the order alternates between runs, so that neither always meets a warmer machine
        order = [contiv, bridge] if run % 2 == 0 else [bridge, contiv]
        for p in order:
            rate, adds = churn(p, node_ns, pods, c)
            figures[f"{p.name}_churn_c{c}_pods_per_s"] = rate
            figures[f"{p.name}_churn_c{c}_add_p99_ms"] = quantile(adds, 99)
        figures[f"churn_c{c}_ratio"] = (
            figures[f"contiv_cni_churn_c{c}_pods_per_s"] / figures[f"bridge_churn_c{c}_pods_per_s"]
        )
    for metric, value in figures.items():
        emit(metric, value, unit(metric), run=run)
    return figures


def unit(metric: str) -> str:
    if metric.endswith("_ms"):
        return "ms"
    if metric.endswith("_per_s"):
        return "pods/s"
    return "x"


#: the issue's targets: metric -> (text, test)
TARGETS: dict[str, tuple[str, Callable[[float], bool]]] = {
    "add_ratio_median": ("<= 1.0", lambda v: v <= 1.0),
    "add_ratio_p90": ("<= 1.0", lambda v: v <= 1.0),
    "contiv_cni_add_cpu_median_ms": ("<= 5", lambda v: v <= 5.0),
    "contiv_cni_del_cpu_median_ms": ("<= 5", lambda v: v <= 5.0),
    **{f"churn_c{c}_ratio": (">= 1.0", lambda v: v >= 1.0) for c in CONCURRENCY},
    "contiv_cni_churn_c20_add_p99_ms": ("< 100", lambda v: v < 100.0),
}


def run(runs: int, count: int, pods: int) -> None:
    binary = cni_binary.ensure()
    tmp = Path(tempfile.mkdtemp(prefix="cgbench-", dir="/tmp"))
    node_ns = new_names(1)[0]
    netns_batch("add", [node_ns])
    all_runs: list[dict[str, float]] = []
    agent_times: list[float] = []
    try:
        (tmp / "contiv.yaml").write_text(CONFIG)
        vpp_sock, cni_sock = tmp / "api.sock", tmp / "cni.sock"
        emulator = [sys.executable, "-m", "contivctl.testing.vppemu", "--socket", str(vpp_sock)]
        agent = [
            *(sys.executable, "-m", "contivctl", "agent", "--config", str(tmp / "contiv.yaml")),
            *("--node-name", "bench", "--node-id", "5", "--store", str(tmp / "store.db")),
            *("--vpp-socket", str(vpp_sock), "--vpp-api-dir", str(API_DIR), "--cni-socket", str(cni_sock)),
            *("--http", f"127.0.0.1:{free_port()}", "--log-level", "info"),
        ]
        contiv_conf = {"cniVersion": "1.0.0", "name": "bench", "type": "contiv-cni", "grpcServer": str(cni_sock)}
        contiv = Plugin("contiv_cni", [binary], contiv_conf)
        bridge = Plugin(
            "bridge",
            [BRIDGE],
            {
                "cniVersion": "1.0.0",
                "name": "bench",
                "type": "bridge",
                "bridge": f"cg{uuid.uuid4().hex[:10]}",
                "isGateway": True,
                "ipMasq": False,
                "ipam": {"type": "host-local", "subnet": "10.99.0.0/16", "dataDir": str(tmp / "host-local")},
            },
        )
        with started(emulator, tmp / "vppemu.log", node_ns) as emu:
            wait_until(vpp_sock.exists, "VPP emulator", emu)
            with started(agent, tmp / "agent.log", node_ns) as ag:
                status = json.dumps({**contiv_conf, "cniVersion": "1.1.0"}).encode()

                def ready() -> bool:
                    env = {"CNI_COMMAND": "STATUS"}
                    return subprocess.run([binary], env=env, input=status, capture_output=True).returncode == 0

                wait_until(ready, "agent ready", ag)
                for r in range(runs):
                    all_runs.append(measure_run(contiv, bridge, node_ns, count, pods, r))
        agent_times = agent_add_times(tmp / "agent.log")
    finally:
        netns_batch("del", [node_ns])
        if os.environ.get("CNIBENCH_KEEP"):
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    for metric in all_runs[0]:
        values = [f[metric] for f in all_runs]
        line: dict[str, Any] = {"metric": metric, "min": round(min(values), 3), "max": round(max(values), 3)}
        line["unit"] = unit(metric)
        line["runs"] = len(values)
        if metric in TARGETS:
            text, test = TARGETS[metric]
            line["target"] = text
            line["met"] = all(test(v) for v in values)
        print(json.dumps(line), flush=True)
    if agent_times:
        emit("agent_add_event_median_ms", statistics.median(agent_times), "ms", events=len(agent_times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions of every measurement (default 3)")
    parser.add_argument("--count", type=int, default=30, help="timed single ADDs of each plugin per run (default 30)")
    parser.add_argument("--pods", type=int, default=100, help="pods per churn (default 100)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/cni_add.py needs root (network namespaces)", file=sys.stderr)
        return 2
    if not os.access(BRIDGE, os.X_OK):
        print(f"bench/cni_add.py needs {BRIDGE}: apt-get install -y containernetworking-plugins", file=sys.stderr)
        return 2
    try:
        run(args.runs, args.count, args.pods)
    except cni_binary.PluginUnavailable as exc:
        print(f"bench/cni_add.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
