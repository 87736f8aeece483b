"""The agent at scale, as a process: start-up against N other nodes, stalls of its event loop, restart, memory.

Run as root from the repository root: ``python bench/scale.py`` (``--quick``:
smaller N, one round). Everything runs in a network namespace of its own —
the VPP emulator, the agent (``contivctl agent``, a real process with its
REST and CNI sockets) and the requests — so nothing touches the machine's
own links; pods are namespaces created for the bench and removed after.

Prints one JSON line per figure ``{"metric", "value", "unit", ...}``; ranges
over rounds are given as ``min``/``max``. Figures:

- ``start_<N>_nodes``: process start (interpreter and imports included) to
  ``/readiness`` 200 with N other nodes in the nodes file (VXLAN, so six
  items per node), with the agent's and the emulator's CPU; ``start_linearity``
  is the time per node at the largest N over that at the middle one (1.0:
  linear);
- at the largest N, the event loop's worst lateness (``/contiv/v1/loop``) and
  the slowest pod ADD through ``contiv-cni`` while the nodes file changes, the
  whole history is read over REST, and 1,000 nodes join at once; the time of
  one node's join (its transaction) and its operations. A lateness counts from
  the moment in question on (a stall that ended just after readiness, for the
  part after it); the start-up's own worst stall, before readiness, is
  ``start_max_loop_lag``;
- with etcd (the real server, on the namespace's loopback): N nodes there
  before the start, the moment after readiness (loop lateness, pod ADDs, node
  transactions still to come: the snapshot's), and 1,000 joins at once;
- ``restart_<P>_pods``: kill -9 with P wired pods, start again: process start to
  readiness, and the operations of the startup resync (0 expected); the same
  with 1,000 pods and 1,000 nodes; RSS at each.

The agent's modules are byte-compiled (into a cache of the run's own), as
an installed wheel's are: a start that compiled the source first would
measure what no node does.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contivctl.cluster.static import write_nodes  # noqa: E402
from contivctl.demo import cni_binary  # noqa: E402
from contivctl.model import NodeInfo  # noqa: E402

API_DIR = ROOT / "contivctl" / "testing" / "vppemu" / "api"
CONFIG = """\
UseTAPInterfaces: false
TCPstackDisabled: true
MTUSize: 1450
NatExternalTraffic: false
IPAMConfig:
  PodSubnetCIDR: 10.0.0.0/8
  PodNetworkPrefixLen: 22
  VPPHostSubnetCIDR: 172.16.0.0/12
  VPPHostNetworkPrefixLen: 26
  NodeInterconnectCIDR: 192.168.0.0/16
  VxlanCIDR: 100.64.0.0/16
  ServiceCIDR: 100.96.0.0/12  # the default 10.96.0.0/12 lies inside the pod range: ranges must not overlap
"""
CLONE_NEWNET = 0x40000000
PORT = 39181


def emit(metric: str, value: float, unit: str, **more: Any) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), "unit": unit, **more}), flush=True)


def emit_range(metric: str, values: list[float], unit: str, **more: Any) -> None:
    emit(metric, statistics.median(values), unit, min=round(min(values), 4), max=round(max(values), 4), **more)


def others(n: int, first_id: int = 2) -> list[NodeInfo]:
    """N other nodes, with addresses in the interconnect range (a /16 holds 65,534)."""
    out = []
    for node_id in range(first_id, first_id + n):
        out.append(NodeInfo(node_id, f"peer{node_id}", (f"192.168.{node_id // 256}.{node_id % 256}/16",)))
    return out


# -- the bench's own namespace ---------------------------------------------------------


def enter_own_netns(name: str) -> None:
    """Move this process (and so every process it starts) into a new named namespace."""
    subprocess.run(["ip", "netns", "add", name], check=True)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    _OWN.append(name)


_OWN: list[str] = []


def in_own_netns() -> list[str]:
    """The prefix that runs a command in the bench's namespace with a /sys of it (``ip netns exec``)."""
    return ["ip", "netns", "exec", _OWN[0]] if _OWN else []


def make_pods(n: int, tag: str) -> list[str]:
    names = [f"bsp-{tag}-{i}" for i in range(n)]
    subprocess.run(["ip", "-batch", "-"], input="".join(f"netns add {x}\n" for x in names), text=True, check=True)
    return names


def remove_pods(names: list[str]) -> None:
    script = "".join(f"netns del {x}\n" for x in names)
    subprocess.run(["ip", "-force", "-batch", "-"], input=script, text=True, check=False, capture_output=True)


# -- processes ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def get(path: str, timeout: float = 30.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


class Emulator:
    """The VPP emulator in a process of its own, as VPP is."""

    def __init__(self, work: Path) -> None:
        self.sock = work / "vpp.sock"
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.sock.unlink(missing_ok=True)
        proc = subprocess.Popen(
            [*in_own_netns(), sys.executable, "-m", "contivctl.testing.vppemu", "--socket", str(self.sock)]
        )
        deadline = time.monotonic() + 20
        while not self.sock.exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the VPP emulator did not start")
            time.sleep(0.01)
        return proc

    def restart(self) -> None:
        """A VPP with nothing configured, for the next figure to start from."""
        self.stop()
        self.proc = self._spawn()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


class Agent:
    """``contivctl agent`` as a node runs it; ``start`` returns the seconds from spawn to readiness."""

    def __init__(self, work: Path, emu: Emulator, nodes_file: Path | None, *, etcd: str = "") -> None:
        self.work = work
        self.cfg = work / "contiv.yaml"
        self.cfg.write_text(CONFIG)
        self.argv = [
            *(sys.executable, "-m", "contivctl", "agent", "--config", str(self.cfg)),
            *("--node-name", "bench", "--node-id", "1", "--store", str(work / "agent.db")),
            *("--vpp-socket", str(emu.sock), "--vpp-api-dir", str(API_DIR)),
            *("--cni-socket", str(work / "cni.sock"), "--http", f"127.0.0.1:{PORT}"),
            *(("--nodes-file", str(nodes_file)) if nodes_file is not None else ()),
            *(("--etcd", etcd) if etcd else ()),
            *("--no-kubernetes", "--log-level", "warning"),
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """The agent's environment, with its modules byte-compiled as an installed wheel has them.

        Without that (PYTHONDONTWRITEBYTECODE set, as on our machines, or a
        read-only tree) every start would compile the agent's source again,
        which the image never does (pip compiles a wheel at install).
        """
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.work / "pycache")
        return env

    def start(self, timeout: float = 300.0) -> float:
        if not (self.work / "pycache").exists():  # the first start fills the cache, as the install did
            subprocess.run(
                [sys.executable, "-c", "import contivctl.cli, contivctl.agent.agent"],
                env=self.env(),
                cwd=ROOT,
                check=True,
            )
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([*in_own_netns(), *self.argv], cwd=ROOT, env=self.env())
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the agent exited with {self.proc.returncode}")
            with contextlib.suppress(OSError):
                if get("/readiness", timeout=2)[0] == 200:
                    return time.perf_counter() - t0
            if time.monotonic() > deadline:
                raise RuntimeError("the agent did not become ready")
            time.sleep(0.005)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """kill -9, as a crash: the dataplane stays as it is."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)

    def startup_record(self) -> dict[str, Any]:
        _, records = get("/contiv/v1/txn", timeout=120)
        (record,) = [r for r in records if r["trigger"] == "startup resync"]
        return dict(record)


# -- pods through contiv-cni ------------------------------------------------------------


class Pods:
    def __init__(self, work: Path, plugin: str) -> None:
        self.plugin = plugin
        self.conf = json.dumps(
            {"cniVersion": "1.0.0", "name": "bench", "type": "contiv-cni", "grpcServer": str(work / "cni.sock")}
        ).encode()
        self.wired: list[str] = []

    def add(self, netns: str) -> float:
        cid = uuid.uuid4().hex
        env = {
            "CNI_COMMAND": "ADD",
            "CNI_CONTAINERID": cid,
            "CNI_NETNS": f"/var/run/netns/{netns}",
            "CNI_IFNAME": "eth0",
            "CNI_PATH": "/usr/lib/cni",
            "CNI_ARGS": f"K8S_POD_NAMESPACE=bench;K8S_POD_NAME={netns}",
        }
        t0 = time.perf_counter()
        done = subprocess.run([self.plugin], input=self.conf, env=env, capture_output=True, check=False)
        took = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"ADD failed: {done.stdout!r} {done.stderr!r}")
        self.wired.append(cid)
        return took


class Background:
    """Pod ADDs one after the other while something else happens: their worst latency."""

    def __init__(self, pods: Pods, names: list[str]) -> None:
        import threading

        self.pods, self.names = pods, list(names)
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while self.names and not self._stop.is_set():
            self.latencies.append(self.pods.add(self.names.pop()))

    def __enter__(self) -> Background:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


def worst_lag_since(since: float) -> float:
    """The loop's worst lateness after ``since`` (wall clock).

    A stall the agent kept (20 ms or more, with the time it ended) counts
    for the part of it after ``since``: a stall that ended just after the
    agent became ready held up what came after for that long only. Shorter
    lateness comes from the one-second windows wholly after ``since``.
    """
    _, lag = get("/contiv/v1/loop")
    stalls = (min(s["seconds"], s["endedAt"] - since) for s in lag["stalls"] if s["endedAt"] > since)
    windows = (w["maxLagSeconds"] for w in lag["recent"] if w["second"] > since)
    return max(max(stalls, default=0.0), max(windows, default=0.0))


def worst_lag_before(until: float) -> float:
    """The loop's worst stall that ended by ``until``: the agent's start-up, before it served."""
    _, lag = get("/contiv/v1/loop")
    return max((s["seconds"] for s in lag["stalls"] if s["endedAt"] <= until), default=0.0)


def wait_for_txn(match: str, since_seq: int, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        _, records = get("/contiv/v1/txn?last=5")
        for r in records:
            if r["seq"] > since_seq and match in r["trigger"] and r["done"]:
                return dict(r)
        if time.monotonic() > deadline:
            raise RuntimeError(f"no transaction {match!r} after {since_seq}")
        time.sleep(0.02)


def last_seq() -> int:
    _, records = get("/contiv/v1/txn?last=1")
    return int(records[-1]["seq"]) if records else 0


# -- the scenarios ---------------------------------------------------------------------


def start_figures(work: Path, emu: Emulator, sizes: list[int], rounds: int) -> None:
    per_node: dict[int, list[float]] = {}
    for n in sizes:
        nodes_file = work / f"nodes-{n}.yaml"
        write_nodes(nodes_file, others(n))
        times, agent_cpu, emu_cpu, rss = [], [], [], []
        for _ in range(rounds):
            (work / "agent.db").unlink(missing_ok=True)
            agent = Agent(work, emu, nodes_file)
            emu_before = cpu_seconds(emu.proc.pid)
            try:
                times.append(agent.start())
                agent_cpu.append(cpu_seconds(agent.pid))
                emu_cpu.append(cpu_seconds(emu.proc.pid) - emu_before)
                rss.append(rss_mb(agent.pid))
            finally:
                agent.stop()
            emu.restart()  # the next start begins from an empty VPP, as this one did
        emit_range(
            f"start_{n}_nodes",
            times,
            "s",
            agent_cpu=round(statistics.median(agent_cpu), 3),
            emulator_cpu=round(statistics.median(emu_cpu), 3),
            rss_mb=round(statistics.median(rss), 1),
        )
        per_node[n] = [t / n for t in times]
    if len(sizes) >= 2:
        big, mid = sizes[-1], sizes[-2]
        emit(
            "start_linearity",
            statistics.median(per_node[big]) / statistics.median(per_node[mid]),
            "ratio",
            what=f"seconds per node at {big} over at {mid}",
        )


def stall_figures(work: Path, emu: Emulator, n: int, plugin: str, tag: str) -> None:
    nodes_file = work / "nodes-live.yaml"
    members = others(n)
    write_nodes(nodes_file, members)
    (work / "agent.db").unlink(missing_ok=True)
    agent = Agent(work, emu, nodes_file)
    names = make_pods(60, tag + "s")
    pods = Pods(work, plugin)
    try:
        agent.start()
        since = time.time()
        emit("start_max_loop_lag", worst_lag_before(since) * 1e3, "ms", nodes=n, what="before readiness")
        baseline = [pods.add(names.pop()) for _ in range(10)]
        emit("add_latency_quiet", max(baseline) * 1e3, "ms", median=round(statistics.median(baseline) * 1e3, 2))
        emit("quiet_max_loop_lag", worst_lag_since(since) * 1e3, "ms", what="pod ADDs alone: the baseline")

        # one node changes its address: the whole file is read again
        since, seq = time.time(), last_seq()
        changed = [*members[:-1], NodeInfo(members[-1].id, members[-1].name, ("192.168.250.250/16",))]
        with Background(pods, names[:15]) as bg:
            write_nodes(nodes_file, changed)
            wait_for_txn("node", seq)
        del names[:15]
        emit("nodes_file_change_max_loop_lag", worst_lag_since(since) * 1e3, "ms", nodes=n)
        emit("nodes_file_change_max_add", max(bg.latencies or [0]) * 1e3, "ms", adds=len(bg.latencies))

        # the whole history over REST, the startup record of some 6N operations included
        since = time.time()
        with Background(pods, names[:15]) as bg:
            t0 = time.perf_counter()
            _, records = get("/contiv/v1/txn", timeout=120)
            took = time.perf_counter() - t0
        del names[:15]
        emit("history_read", took, "s", records=len(records), operations=sum(len(r["ops"]) for r in records))
        emit("history_read_max_loop_lag", worst_lag_since(since) * 1e3, "ms")
        emit("history_read_max_add", max(bg.latencies or [0]) * 1e3, "ms", adds=len(bg.latencies))

        # one more node joins: its own transaction
        seq = last_seq()
        joined = NodeInfo(n + 2, f"peer{n + 2}", (f"192.168.{(n + 2) // 256}.{(n + 2) % 256}/16",))
        write_nodes(nodes_file, [*changed, joined])
        record = wait_for_txn("node", seq)
        emit("node_join_txn", record["duration"] * 1e3, "ms", operations=len(record["ops"]), nodes=n)

        # 1,000 nodes join at once
        since, seq = time.time(), last_seq()
        burst = others(1000, first_id=n + 3)
        with Background(pods, names[:15]) as bg:
            t0 = time.perf_counter()
            write_nodes(nodes_file, [*changed, joined, *burst])
            ops = 0
            while ops < 6 * 1000:
                record = wait_for_txn("node", seq)
                seq = record["seq"]
                ops += len(record["ops"])
            took = time.perf_counter() - t0
        del names[:15]
        emit("join_1000_nodes", took, "s", operations=ops, nodes=n)
        emit("join_1000_nodes_max_loop_lag", worst_lag_since(since) * 1e3, "ms")
        emit("join_1000_nodes_max_add", max(bg.latencies or [0]) * 1e3, "ms", adds=len(bg.latencies))
        emit("rss_nodes", rss_mb(agent.pid), "MB", nodes=n + 1001)
    finally:
        agent.stop()
        remove_pods([*names, *[f"bsp-{tag}s-{i}" for i in range(60)]])
        emu.restart()


def restart_figures(work: Path, emu: Emulator, pods_n: int, nodes_n: int, plugin: str, tag: str, rounds: int) -> None:
    nodes_file = work / f"nodes-r{nodes_n}.yaml"
    write_nodes(nodes_file, others(nodes_n))
    (work / "agent.db").unlink(missing_ok=True)
    agent = Agent(work, emu, nodes_file)
    names = make_pods(pods_n, tag + f"r{pods_n}")
    try:
        agent.start()
        pods = Pods(work, plugin)
        for name in names:
            pods.add(name)
        rss_before = rss_mb(agent.pid)
        times, ops = [], []
        for _ in range(rounds):
            agent.kill()
            times.append(agent.start())
            ops.append(len(agent.startup_record()["ops"]))
        label = f"restart_{pods_n}_pods" + (f"_{nodes_n}_nodes" if nodes_n else "")
        emit_range(
            label,
            times,
            "s",
            operations=max(ops),
            rss_mb=round(rss_mb(agent.pid), 1),
            rss_mb_before=round(rss_before, 1),
        )
    finally:
        agent.stop()
        remove_pods(names)
        emu.restart()


async def put_records(endpoint: str, nodes: list[NodeInfo]) -> None:
    """Node records into etcd as agents publish them, many at a time."""
    import asyncio

    from contivctl.cluster.record import encode, id_key
    from contivctl.kv.etcd import EtcdStore
    from contivctl.kv.etcdconf import etcd_config

    store = EtcdStore(etcd_config([endpoint]))
    try:
        for i in range(0, len(nodes), 200):
            await asyncio.gather(*(store.put(id_key(n.id), encode(n)) for n in nodes[i : i + 200]))
    finally:
        await store.close()


def etcd_figures(work: Path, emu: Emulator, n: int, plugin: str, tag: str) -> None:
    """N nodes in etcd before the start; then 1,000 join at once."""
    import asyncio

    from contivctl.testing.etcd import EtcdServer

    etcd = EtcdServer()
    etcd.start()
    names = make_pods(40, tag + "e")
    agent = None
    try:
        asyncio.run(put_records(etcd.endpoint, others(n)))
        (work / "agent.db").unlink(missing_ok=True)
        agent = Agent(work, emu, None, etcd=etcd.endpoint)
        took = agent.start()
        ready_at, seq = time.time(), last_seq()
        pods = Pods(work, plugin)
        adds = [pods.add(names.pop()) for _ in range(10)]  # the moment after ready: what pods met then
        emit("etcd_start", took, "s", nodes=n)
        emit("etcd_start_max_loop_lag", worst_lag_before(ready_at) * 1e3, "ms", nodes=n, what="before readiness")
        emit("etcd_after_ready_max_loop_lag", worst_lag_since(ready_at) * 1e3, "ms", nodes=n)
        emit("etcd_after_ready_max_add", max(adds) * 1e3, "ms", adds=len(adds))
        _, records = get("/contiv/v1/txn?last=20")
        late = [r for r in records if r["seq"] > seq and "node" in r["trigger"]]
        emit("etcd_node_txns_after_ready", len(late), "txns", operations=sum(len(r["ops"]) for r in late))

        since, seq = time.time(), last_seq()
        burst = others(1000, first_id=n + 2)
        with Background(pods, names[:15]) as bg:
            t0 = time.perf_counter()
            asyncio.run(put_records(etcd.endpoint, burst))
            ops = 0
            while ops < 6 * 1000:
                record = wait_for_txn("node", seq)
                seq = record["seq"]
                ops += len(record["ops"])
            took = time.perf_counter() - t0
        emit("etcd_join_1000_nodes", took, "s", operations=ops, nodes=n)
        emit("etcd_join_1000_nodes_max_loop_lag", worst_lag_since(since) * 1e3, "ms")
        emit("etcd_join_1000_nodes_max_add", max(bg.latencies or [0]) * 1e3, "ms", adds=len(bg.latencies))
    finally:
        if agent is not None:
            agent.stop()
        etcd.stop()
        remove_pods([f"bsp-{tag}e-{i}" for i in range(40)])
        emu.restart()


@contextlib.contextmanager
def own_netns() -> Iterator[str]:
    tag = uuid.uuid4().hex[:6]
    name = f"bscale-{tag}"
    enter_own_netns(name)
    try:
        yield tag
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller N and one round")
    parser.add_argument(
        "--only",
        choices=("start", "stalls", "etcd", "restart"),
        action="append",
        help="only these figures (repeatable)",
    )
    args = parser.parse_args()
    only = set(args.only or ("start", "stalls", "etcd", "restart"))
    sizes = [100, 500, 1000] if args.quick else [100, 1000, 5000]
    rounds = 1 if args.quick else 3
    plugin = cni_binary.ensure()
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    with own_netns() as tag:
        emu = Emulator(work)
        try:
            if "start" in only:
                start_figures(work, emu, sizes, rounds)
            if "stalls" in only:
                stall_figures(work, emu, sizes[-1], plugin, tag)
            if "etcd" in only:
                etcd_figures(work, emu, sizes[-1], plugin, tag)
            if "restart" in only:
                restart_figures(work, emu, 500, 0, plugin, tag, rounds)
                restart_figures(work, emu, 1000, 1000, plugin, tag, rounds)
        finally:
            emu.stop()


if __name__ == "__main__":
    main()
