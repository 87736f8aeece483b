"""The demo's processes — one agent per node, etcd with ``--etcd`` — started, awaited and stopped.

Children run in their own session, so a Ctrl-C on the demo's terminal
reaches the demo alone: the agents must outlive it long enough to serve the
CNI DEL of the teardown. A process is only ever signalled by its PID after
its command line was checked for the demo's run directory (``marker``), so
a PID reused by something else after a crash is left alone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import attrs

import contivctl
from contivctl.demo.plan import NodePlan
from contivctl.demo.sh import DemoError

ETCD_BINARY = "etcd"
#: the package root, put first on the children's PYTHONPATH: they run this very contivctl
PACKAGE_ROOT = str(Path(contivctl.__file__).resolve().parents[1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    return env


@attrs.frozen
class AgentSpec:
    node: NodePlan
    argv: list[str]
    http: str
    cni_socket: str
    log: str


def agent_spec(
    node: NodePlan,
    run_dir: Path,
    *,
    etcd: str | None,
    nodes_file: Path,
    log_level: str = "info",
    services_file: Path | None = None,
) -> AgentSpec:
    """The agent command line of one node: its own store, CNI socket and HTTP port."""
    home = run_dir / node.name
    http = f"127.0.0.1:{free_port()}"
    cni_socket = str(home / "cni.sock")
    argv = [
        sys.executable,
        "-m",
        "contivctl",
        "agent",
        "--config",
        str(run_dir / "contiv.yaml"),
        "--node-name",
        node.name,
        "--node-id",
        str(node.id),
        "--store",
        str(home / "agent.db"),
        "--cni-socket",
        cni_socket,
        "--http",
        http,
        "--no-kubernetes",
        "--dataplane",
        "kernel",
        "--vswitch-netns",
        node.netns_path,
        "--log-level",
        log_level,
    ]
    argv += ["--etcd", etcd] if etcd else ["--nodes-file", str(nodes_file)]
    if services_file is not None:
        argv += ["--services-file", str(services_file)]
    return AgentSpec(node=node, argv=argv, http=http, cni_socket=cni_socket, log=str(home / "agent.log"))


def spawn(argv: list[str], log: str) -> subprocess.Popen[bytes]:
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env(),
            cwd=PACKAGE_ROOT,
            start_new_session=True,
        )


def server_argv(netns: str, name: str, run_dir: Path, port: int) -> list[str]:
    """The demo's TCP server in a pod's namespace; the run directory on its command line marks it as the demo's."""
    cmd = [sys.executable, "-m", "contivctl.demo.tcp", "serve", str(port), name, str(run_dir)]
    return ["ip", "netns", "exec", netns, *cmd]


def wait_listening(proc: subprocess.Popen[bytes], log: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise DemoError(f"a TCP server exited with {proc.returncode}:\n{_tail(log)}")
        try:
            if "listening" in Path(log).read_text(errors="replace"):
                return
        except OSError:
            pass  # not written yet
        if time.monotonic() > deadline:
            raise DemoError(f"a TCP server did not listen within {timeout:.0f}s:\n{_tail(log)}")
        time.sleep(0.02)


def http_get(url: str, timeout: float = 2.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, None


def _tail(log: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(log).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_ready(spec: AgentSpec, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Until the agent's readiness is green (its startup resync is done); its log tail if it dies."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise DemoError(f"the agent of {spec.node.name} exited with {proc.returncode}:\n{_tail(spec.log)}")
        try:
            if http_get(f"http://{spec.http}/readiness")[0] == 200:
                return
        except OSError:
            pass  # not listening yet: poll again until the deadline
        if time.monotonic() > deadline:
            raise DemoError(f"the agent of {spec.node.name} was not ready within {timeout:.0f}s:\n{_tail(spec.log)}")
        time.sleep(0.05)


def transactions(http: str) -> list[dict[str, Any]]:
    """The agent's transaction records (``/contiv/v1/txn``), oldest first."""
    status, body = http_get(f"http://{http}/contiv/v1/txn")
    if status != 200 or not isinstance(body, list):
        raise DemoError(f"agent at {http}: /contiv/v1/txn answered {status}")
    return body


def etcd_argv(run_dir: Path) -> tuple[list[str], str]:
    """A one-member etcd on loopback ports with its data in the run directory; its client endpoint."""
    client, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    argv = [
        ETCD_BINARY,
        "--name=demo",
        f"--data-dir={run_dir / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=demo={peer}",
        "--heartbeat-interval=10",
        "--election-timeout=100",
        "--log-level=error",
    ]
    return argv, client


def wait_etcd(proc: subprocess.Popen[bytes], client: str, log: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise DemoError(f"etcd exited with {proc.returncode}:\n{_tail(log)}")
        try:
            status, body = http_get(f"{client}/health", timeout=1)
            if status == 200 and isinstance(body, dict) and body.get("health") == "true":
                return
        except (OSError, ValueError):
            pass  # not listening yet, or no leader yet: poll again until the deadline
        if time.monotonic() > deadline:
            raise DemoError(f"etcd was not healthy within {timeout:.0f}s:\n{_tail(log)}")
        time.sleep(0.05)


# -- stopping ------------------------------------------------------------------------


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None


def _gone(pid: int) -> bool:
    """Exited: reaped, or a zombie (then reaped here when it is our child)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass  # not our child: /proc tells
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def stop_pid(pid: int, marker: str, *, timeout: float = 10.0, hard: bool = False) -> str | None:
    """SIGTERM (SIGKILL with ``hard``, or when TERM is not enough); an error message, or None."""
    cmdline = _cmdline(pid)
    if cmdline is None or marker not in cmdline:
        _gone(pid)  # reap it if it is our own exited child
        return None  # gone already, or the PID now belongs to something else
    try:
        os.kill(pid, signal.SIGKILL if hard else signal.SIGTERM)
    except ProcessLookupError:
        return None
    if _wait_gone(pid, timeout):
        return None
    os.kill(pid, signal.SIGKILL)
    if _wait_gone(pid, 5.0):
        return f"process {pid} ignored SIGTERM for {timeout:.0f}s and was killed"
    return f"process {pid} would not stop"
