"""CPU the VPP emulator spends on a node's overlay towards N other nodes, one JSON line per N and phase.

Run from the project root: python bench/emulator.py [--nodes 500,1000,5000] [--runs 3]

The emulator runs as its own process, as in the agent benchmarks, and is
driven by the real driver (VPPConnection and the VPP descriptors) under the
real Reconciler. The items are what the agent renders in VXLAN mode: the
pod VRF, the NIC, the BVI and its bridge domain, and per other node a
tunnel, its bridge-domain membership, a static ARP entry, a static L2 FIB
entry and four routes. Phases: `start` is a full resync against an empty
VPP (an agent starting), `resync` a full resync of a fresh reconciler
against the configured VPP with nothing to change (an agent restarting).

The CPU is the emulator process's utime + stime from /proc/<pid>/stat
around each phase, so the driver's own cost is not in it. The emulator must
scale linearly, or agent benchmarks against it measure the emulator: the
figures to watch are `ratio_to_smallest` against `linear_ratio` and, from
1,000 to 5,000 nodes, `ratio_to_previous` (the target: at most 5.5).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.dataplane.vpp.descriptors import vpp_descriptors
from contivctl.items import Item, Items, keyed
from contivctl.items import vpp as I
from contivctl.reconcile import Reconciler

API_DIR = str(Path(__file__).resolve().parent.parent / "contivctl" / "testing" / "vppemu" / "api")
NIC = "GigabitEthernet0/8/0"
MAIN_VRF, POD_VRF = 0, 1
TICK = os.sysconf("SC_CLK_TCK")


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process; the command name may hold spaces, so split after its ')'."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def overlay(nodes: int) -> Items:
    """This node (ID 1) and its overlay towards `nodes` others, rendered as the agent's VXLAN mode does."""
    node_net = ipaddress.IPv4Network("10.30.0.0/16")
    bvi_net = ipaddress.IPv4Network("172.16.0.0/16")
    pods = ipaddress.IPv4Network("10.0.0.0/8")
    hosts = ipaddress.IPv4Network("100.64.0.0/10")
    me = node_net.network_address + 1
    items: list[Item] = [
        I.Vrf(POD_VRF),
        I.Interface(NIC, I.Physical(NIC), mtu=1500),
        I.Address(NIC, f"{me}/{node_net.prefixlen}"),
        I.Interface("vxlanBVI", I.Loopback(), mac="12:2b:00:00:00:01", vrf=POD_VRF),
        I.Address("vxlanBVI", f"{bvi_net.network_address + 1}/{bvi_net.prefixlen}"),
        I.BridgeDomain("vxlanBD", 10),
        I.BridgeDomainMember("vxlanBD", "vxlanBVI", bvi=True, shg=1),
    ]
    for n in range(2, nodes + 2):
        tunnel = f"vxlan{n}"
        node_ip = node_net.network_address + n
        nh = str(bvi_net.network_address + n)
        mac = f"12:2b:00:00:{n >> 8 & 0xFF:02x}:{n & 0xFF:02x}"
        pod_subnet = f"{pods.network_address + n * 256}/24"
        host_subnet = f"{hosts.network_address + n * 256}/24"
        items += [
            I.Interface(tunnel, I.Vxlan(str(me), str(node_ip), 10, MAIN_VRF), vrf=MAIN_VRF),
            I.BridgeDomainMember("vxlanBD", tunnel, shg=1),
            I.Neighbor("vxlanBVI", nh, mac),
            I.L2FibEntry("vxlanBD", mac, tunnel),
            I.Route(POD_VRF, pod_subnet, next_hop=nh, interface="vxlanBVI"),
            I.Route(POD_VRF, host_subnet, next_hop=nh, interface="vxlanBVI"),
            I.Route(POD_VRF, f"{node_ip}/32", next_hop=nh, interface="vxlanBVI"),
            I.Route(MAIN_VRF, f"{node_ip}/32", lookup_vrf=POD_VRF),
        ]
    return keyed(*items)


@contextlib.contextmanager
def emulator(directory: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    sock = str(directory / "api.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", "contivctl.testing.vppemu", "--socket", sock, "--nic", NIC],
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        yield proc, sock
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def one_run(nodes: int) -> dict[str, float]:
    desired = overlay(nodes)
    with tempfile.TemporaryDirectory(prefix="emubench") as tmp, emulator(Path(tmp)) as (proc, sock):
        conn = VPPConnection(sock, api_dir=API_DIR, timeout=120.0)
        await conn.start(wait=30)
        try:
            out: dict[str, float] = {"objects": float(len(desired))}
            for phase in ("start", "resync"):
                r = Reconciler(vpp_descriptors(conn))
                cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
                rec = await r.resync_full(desired)
                out[f"{phase}_wall_s"] = time.perf_counter() - t0
                out[f"{phase}_cpu_s"] = cpu_seconds(proc.pid) - cpu0
                bad = [o for o in rec.ops if o.outcome != "ok"]
                assert not bad, bad[:3]
                assert (phase == "start") == bool(rec.ops), f"{phase}: {len(rec.ops)} operations"
            return out
        finally:
            await conn.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", default="500,1000,5000", help="comma-separated node counts; the first is the baseline")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    counts = [int(n) for n in args.nodes.split(",")]
    results: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
    for run in range(args.runs):
        for n in counts:
            res = asyncio.run(one_run(n))
            results[n].append(res)
            emit(run=run, nodes=n, **{k: round(v, 3) for k, v in res.items()})
    base = counts[0]
    for phase in ("start", "resync"):
        base_cpu = statistics.median(r[f"{phase}_cpu_s"] for r in results[base])
        prev_cpu: float | None = None
        prev_cpus: list[float] = []
        prev_n = 0
        for n in counts:
            cpus = [r[f"{phase}_cpu_s"] for r in results[n]]
            walls = [r[f"{phase}_wall_s"] for r in results[n]]
            objects = results[n][0]["objects"]
            med = statistics.median(cpus)
            line: dict[str, Any] = {
                "metric": f"emulator_{phase}_cpu",
                "nodes": n,
                "objects": int(objects),
                "cpu_s_median": round(med, 3),
                "cpu_s_range": [round(min(cpus), 3), round(max(cpus), 3)],
                "wall_s_range": [round(min(walls), 3), round(max(walls), 3)],
                "cpu_ms_per_node": round(med / n * 1e3, 3),
                "cpu_us_per_object": round(med / objects * 1e6, 1),
                "ratio_to_smallest": round(med / base_cpu, 2) if base_cpu else None,
                "linear_ratio": round(n / base, 2),
            }
            if prev_cpu:
                line["ratio_to_previous"] = round(med / prev_cpu, 2)
                if min(prev_cpus) > 0:
                    low, high = min(cpus) / max(prev_cpus), max(cpus) / min(prev_cpus)
                    line["ratio_to_previous_range"] = [round(low, 2), round(high, 2)]
                line["linear_ratio_to_previous"] = round(n / prev_n, 2)
            emit(**line)
            prev_cpu, prev_cpus, prev_n = med, cpus, n


if __name__ == "__main__":
    main()
