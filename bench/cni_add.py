"""Wall time of one CNI ADD: ``contiv-cni`` against the agent vs the reference ``bridge`` plugin.

Both run on this machine in the same run, each ADD into a fresh network
namespace, each spawned the same way (a process entered into a bench "node"
namespace before exec, so the bridge and its iptables/sysctl changes stay
out of the host). ``contiv-cni`` talks over the agent's unix socket to a real
``contivctl agent`` process, which wires the pod (veth + AF_PACKET) in the
VPP emulator and the pod namespace. ``bridge`` uses ``host-local`` IPAM.
Namespace creation and the DELs are not timed.

Prints JSON lines ``{"metric", "value", "unit"}``: median and p90 of each,
their ratio (goal ≤ 1.0), and what a contiv-cni ADD is made of: the
controller's time for the ADD event (from the agent's log), the Python
interpreter's start, and the plugin's own start (an ADD that fails at once
because no agent listens).

    python bench/cni_add.py [--count N]        # CNIBENCH_KEEP=1 keeps the logs
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
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
API_DIR = ROOT / "contivctl" / "testing" / "vppemu" / "api"
BRIDGE = "/usr/lib/cni/bridge"
CLONE_NEWNET = 0x40000000
CONFIG = """\
UseTAPInterfaces: false
TCPstackDisabled: true
MTUSize: 1450
IPAMConfig:
  NodeInterconnectCIDR: 192.168.16.0/24
"""


def emit(metric: str, value: float, unit: str) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 2), "unit": unit}), flush=True)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def enter_netns(path: str) -> Callable[[], None]:
    """A preexec function that moves the child into the network namespace at `path`."""
    libc = ctypes.CDLL(None, use_errno=True)

    def enter() -> None:
        fd = os.open(path, os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
        os.close(fd)

    return enter


def netns_add() -> str:
    name = f"cnibench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    return name


def netns_del(name: str) -> None:
    subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def plugin(argv: list[str], env: dict[str, str], conf: dict[str, Any], node_ns: str, check: bool = True) -> float:
    """Run a plugin once; its wall time in ms. With `check`, a failure stops the bench: it measured nothing."""
    t0 = time.perf_counter()
    res = subprocess.run(
        argv,
        env=env,
        input=json.dumps(conf).encode(),
        capture_output=True,
        cwd=ROOT,
        preexec_fn=enter_netns(f"/var/run/netns/{node_ns}"),
        check=False,
    )
    took = (time.perf_counter() - t0) * 1e3
    if check and res.returncode != 0:
        raise RuntimeError(f"{argv[-1]} {env['CNI_COMMAND']} failed: {res.stdout.decode()} {res.stderr.decode()}")
    return took


def cni_env(command: str, cid: str, netns: str) -> dict[str, str]:
    return {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": cid,
        "CNI_NETNS": f"/var/run/netns/{netns}",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/usr/lib/cni",
        "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-{cid[:8]}",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }


def measure(add: Callable[[str, str], float], delete: Callable[[str, str], None], count: int) -> list[float]:
    times = []
    for i in range(count + 3):  # the first three warm caches and are not counted
        ns, cid = netns_add(), uuid.uuid4().hex * 2
        try:
            took = add(cid, ns)
            if i >= 3:
                times.append(took)
            delete(cid, ns)
        finally:
            netns_del(ns)
    return times


def wait_until(check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


@contextlib.contextmanager
def started(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
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
    """The controller's own time per ADD event, from the agent's log (the part the plugin waits for)."""
    out = []
    for line in log.read_text().splitlines():
        if " AddPod: ok in " in line:
            out.append(float(line.rsplit(" in ", 1)[1].split()[0]))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run(count: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cnibench-", dir="/tmp"))
    node_ns = netns_add()
    bridge_name = f"cb{uuid.uuid4().hex[:10]}"
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
        contiv = [sys.executable, "-m", "contivctl.cni.plugin"]
        contiv_conf = {"cniVersion": "1.0.0", "name": "bench", "type": "contiv-cni", "grpcServer": str(cni_sock)}
        with started(emulator, tmp / "vppemu.log") as emu:
            wait_until(vpp_sock.exists, "VPP emulator", emu)
            with started(agent, tmp / "agent.log") as ag:
                status = json.dumps({**contiv_conf, "cniVersion": "1.1.0"}).encode()

                def ready() -> bool:
                    env = {"CNI_COMMAND": "STATUS"}
                    return subprocess.run(contiv, env=env, input=status, cwd=ROOT, capture_output=True).returncode == 0

                wait_until(ready, "agent ready", ag)

                def contiv_add(cid: str, ns: str) -> float:
                    return plugin(contiv, cni_env("ADD", cid, ns), contiv_conf, node_ns)

                def contiv_del(cid: str, ns: str) -> None:
                    plugin(contiv, cni_env("DEL", cid, ns), contiv_conf, node_ns)

                contiv_times = measure(contiv_add, contiv_del, count)
        agent_times = agent_add_times(tmp / "agent.log")[3:]

        bridge_conf = {
            "cniVersion": "1.0.0",
            "name": "bench",
            "type": "bridge",
            "bridge": bridge_name,
            "isGateway": True,
            "ipMasq": False,
            "ipam": {"type": "host-local", "subnet": "10.99.0.0/16", "dataDir": str(tmp / "host-local")},
        }

        def bridge_add(cid: str, ns: str) -> float:
            return plugin([BRIDGE], cni_env("ADD", cid, ns), bridge_conf, node_ns)

        def bridge_del(cid: str, ns: str) -> None:
            plugin([BRIDGE], cni_env("DEL", cid, ns), bridge_conf, node_ns)

        bridge_times = measure(bridge_add, bridge_del, count)

        python = [sys.executable, "-c", "pass"]
        python_times = [plugin(python, cni_env("ADD", "x", node_ns), {}, node_ns) for _ in range(count)]
        nowhere = {**contiv_conf, "grpcServer": str(tmp / "no-agent.sock")}
        shim_times = [plugin(contiv, cni_env("ADD", "x", node_ns), nowhere, node_ns, check=False) for _ in range(count)]
    finally:
        netns_del(node_ns)
        if os.environ.get("CNIBENCH_KEEP"):
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    for name, values in (("contiv_cni_add", contiv_times), ("bridge_host_local_add", bridge_times)):
        emit(f"{name}_median", statistics.median(values), "ms")
        emit(f"{name}_p90", p90(values), "ms")
    emit("ratio_median", statistics.median(contiv_times) / statistics.median(bridge_times), "x")
    emit("ratio_p90", p90(contiv_times) / p90(bridge_times), "x")
    emit("agent_add_event_median", statistics.median(agent_times), "ms")
    emit("python_startup_median", statistics.median(python_times), "ms")
    emit("contiv_cni_start_no_agent_median", statistics.median(shim_times), "ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30, help="timed ADDs of each plugin (default 30)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/cni_add.py needs root (network namespaces)", file=sys.stderr)
        return 2
    run(args.count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
