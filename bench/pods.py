"""Pod churn and restart figures through the agent's own entry point (no CNI shim).

Prints one JSON line per metric ``{"metric", "value", "unit"}``:
- churn: ADD + DEL of CHURN_PODS pods, CONCURRENCY at a time, each in a fresh
  network namespace, against the VPP emulator running in its own process;
- restart: RESTART_PODS wired pods, then a new agent process on the same
  store: the duration of its startup resync (and of the whole start) and how
  many operations it performed.

Run as root from the repository root: ``python bench/pods.py``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contivctl import gcpolicy
from tests.agent.support import _Remote, config, make_node, stop_node

CHURN_PODS = 200
CONCURRENCY = 20
RESTART_PODS = 500
#: a /22 per node: 1020 pod addresses, room for the restart figure's 500 pods
BENCH_CONFIG = {"IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24", "PodNetworkPrefixLen": 22}}


def emit(metric: str, value: float, unit: str) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 3), "unit": unit}), flush=True)


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


async def wire(node: object, names: list[str], *, delete: bool) -> tuple[float, list[float]]:
    sem = asyncio.Semaphore(CONCURRENCY)
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


async def main() -> None:
    gcpolicy.tune()  # the collector's thresholds of the agent process (contivctl agent sets them too)
    work = Path(tempfile.mkdtemp(prefix="bench-pods-"))
    sock = work / "vpp.sock"
    emulator = subprocess.Popen([sys.executable, "-m", "contivctl.testing.vppemu", "--socket", str(sock)])
    names: list[str] = []
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the VPP emulator did not start")
            await asyncio.sleep(0.01)

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
        emulator.terminate()
        emulator.wait(timeout=10)
        remove_namespaces(names)  # a veth goes with the namespace of its pod end


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
    else:
        asyncio.run(main())
