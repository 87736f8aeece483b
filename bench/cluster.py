"""A local cluster's figures: bring-up to a full ping matrix, and pod-to-pod RTT and TCP throughput
across nodes on the kernel dataplane against a plain Linux bridge between the same two pod namespaces.

Prints one JSON line per metric ``{"metric", "value", "unit"}``:
- bring-up: a 5-node, 20-pod demo cluster (VXLAN, members from a nodes file)
  from nothing to every pod answering every pod and node; also its parts;
- RTT: ``ping -c 200 -i 0.01`` from a pod on node1 to a pod on node2, average;
- throughput: one TCP stream for THROUGHPUT_SECONDS from a small Python
  sender to a Python receiver (bench/tcp_stream.py), the median of RUNS runs,
  measured at the receiver;
- baseline: the same two pod namespaces get a second veth each into a
  bridge in a namespace of its own (MTU 1500, no VXLAN, no routing) and the
  same RTT and throughput are measured over it; ratio = kernel dataplane /
  bridge (the target is >= 0.8 for throughput).

The pod interfaces have the demo's MTU (1450: VXLAN's 50 bytes of overhead
fit in the underlay's 1500); the bridge path keeps Linux's default 1500.
Run as root from the repository root: ``python bench/cluster.py``.
Everything is removed afterwards, also on failure or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contivctl.demo import matrix  # noqa: E402
from contivctl.demo.cluster import DemoCluster, new_tag  # noqa: E402
from contivctl.demo.plan import DemoPlan  # noqa: E402
from contivctl.demo.progress import Progress  # noqa: E402
from contivctl.demo.sh import run  # noqa: E402
from contivctl.demo.state import StateFile  # noqa: E402

NODES = 5
PODS_PER_NODE = 4
RUNS = 3
THROUGHPUT_SECONDS = 3.0
STREAM = ROOT / "bench" / "tcp_stream.py"
BRIDGE_NET = "10.91.0"


def emit(metric: str, value: float, unit: str) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 3), "unit": unit}), flush=True)


def rtt_ms(netns: str, ip: str) -> float:
    out = run("ip", "netns", "exec", netns, "ping", "-n", "-q", "-c", "200", "-i", "0.01", ip).stdout
    match = re.search(r"= [0-9.]+/([0-9.]+)/", out)
    assert match, out
    return float(match.group(1))


def throughput_gbit(src: str, dst: str, ip: str) -> float:
    """One TCP stream src → dst; the receiver's bytes over the time from its first byte to EOF."""
    receiver = subprocess.Popen(
        ["ip", "netns", "exec", dst, sys.executable, str(STREAM), "receive", "5201"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        assert receiver.stdout.readline().strip() == "listening"
        run("ip", "netns", "exec", src, sys.executable, str(STREAM), "send", ip, "5201", str(THROUGHPUT_SECONDS))
        result = json.loads(receiver.stdout.readline())
    finally:
        receiver.wait(timeout=30)
    return float(result["bytes"]) * 8 / float(result["seconds"]) / 1e9


def bridge_baseline(cluster: DemoCluster, a: str, b: str) -> tuple[str, str]:
    """A bridge in its own namespace with a veth from each of the two pod namespaces; their new addresses."""
    name = f"cdemo-{cluster.plan.tag}-bench"
    cluster._record_netns(name)  # so the cluster's teardown removes it
    run("ip", "netns", "add", name)
    run("ip", "-n", name, "link", "add", "br0", "type", "bridge")
    run("ip", "-n", name, "link", "set", "br0", "up")
    addrs = []
    for i, pod_ns in enumerate((a, b), start=1):
        run("ip", "-n", pod_ns, "link", "add", "bx0", "type", "veth", "peer", "name", f"bx{i}", "netns", name)
        run("ip", "-n", name, "link", "set", f"bx{i}", "master", "br0", "up")
        run("ip", "-n", pod_ns, "addr", "add", f"{BRIDGE_NET}.{i}/24", "dev", "bx0")
        run("ip", "-n", pod_ns, "link", "set", "bx0", "up")
        addrs.append(f"{BRIDGE_NET}.{i}")
    return addrs[0], addrs[1]


def main() -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="cdemo-bench-", dir="/tmp"))
    plan = DemoPlan(tag=new_tag(), nodes=NODES, pods=PODS_PER_NODE)
    with open("/dev/null", "w") as sink:
        cluster = DemoCluster(plan, StateFile(state_dir), Progress(sink))
        try:
            start = time.monotonic()
            cluster.up()
            up = time.monotonic()
            cluster.converge()
            results = cluster.ping_matrix()
            done = time.monotonic()
            failed = matrix.failures(results)
            emit("cluster_up_5_nodes_20_pods", up - start, "s")
            emit("ping_matrix_25x20", done - up, "s")
            emit("cluster_up_to_full_ping_matrix", done - start, "s")
            emit("ping_matrix_failures", len(failed), "pings")

            _, pods = cluster.endpoints()
            a = next(p for p in pods if p.name == "pod1-1")
            b = next(p for p in pods if p.name == "pod2-1")
            _, bx_b = bridge_baseline(cluster, a.netns, b.netns)
            assert asyncio.run(matrix.ping(a.netns, bx_b))[0], "the bridge baseline does not answer"

            rtt_kernel, rtt_bridge = rtt_ms(a.netns, b.ip), rtt_ms(a.netns, bx_b)
            emit("pod_rtt_across_nodes_kernel_vxlan", rtt_kernel * 1000, "us")
            emit("pod_rtt_bridge_baseline", rtt_bridge * 1000, "us")

            kernel_runs, bridge_runs = [], []
            for _ in range(RUNS):  # interleaved, so a busy moment of the machine hits both
                kernel_runs.append(throughput_gbit(a.netns, b.netns, b.ip))
                bridge_runs.append(throughput_gbit(a.netns, b.netns, bx_b))
            kernel, bridge = statistics.median(kernel_runs), statistics.median(bridge_runs)
            emit("pod_tcp_throughput_across_nodes_kernel_vxlan", kernel, "Gbit/s")
            emit("pod_tcp_throughput_bridge_baseline", bridge, "Gbit/s")
            emit("throughput_ratio_kernel_vs_bridge", kernel / bridge, "ratio")
            emit("rtt_ratio_bridge_vs_kernel", rtt_bridge / rtt_kernel, "ratio")
        finally:
            problems = cluster.down()
            for problem in problems:
                print(f"teardown: {problem}", file=sys.stderr)


if __name__ == "__main__":
    main()
