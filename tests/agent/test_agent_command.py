"""``contivctl agent`` as a user runs it: a process, a config file, the REST endpoint."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.agent.support import API_DIR

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "contiv.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_until(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_the_agent_serves_ipam_health_and_readiness(sockdir: Path, tmp_path: Path) -> None:
    vpp_sock = sockdir / "vpp.sock"
    emulator = subprocess.Popen([sys.executable, "-m", "contivctl.testing.vppemu", "--socket", str(vpp_sock)], cwd=ROOT)
    port = free_port()
    agent = None
    try:
        wait_until(vpp_sock.exists)
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "contivctl",
                "agent",
                "--config",
                str(EXAMPLE),
                "--node-name",
                "k8s-worker1",
                "--node-id",
                "5",
                "--store",
                str(tmp_path / "agent.db"),
                "--vpp-socket",
                str(vpp_sock),
                "--vpp-api-dir",
                API_DIR,
                "--cni-socket",
                str(sockdir / "cni.sock"),
                "--http",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            assert agent is not None and agent.poll() is None, agent.stderr.read() if agent else ""
            try:
                return get(f"{base}/readiness")[0] == 200
            except (urllib.error.URLError, ConnectionError):
                return False

        wait_until(ready)
        assert get(f"{base}/liveness") == (200, {"alive": True})
        status, ipam = get(f"{base}/contiv/v1/ipam")
        assert status == 200
        assert ipam == {
            "nodeId": 5,
            "nodeName": "k8s-worker1",
            "nodeIP": "192.168.16.5",
            "podNetwork": "10.1.5.0/24",
            "podSubnetThisNode": "10.1.5.0/24",
            "vppHostNetwork": "172.30.5.0/24",
            "config": {
                "podIfIPCIDR": "10.2.1.0/24",
                "podSubnetCIDR": "10.1.0.0/16",
                "podNetworkPrefixLen": 24,
                "vppHostSubnetCIDR": "172.30.0.0/16",
                "vppHostNetworkPrefixLen": 24,
                "nodeInterconnectCIDR": "192.168.16.0/24",
                "nodeInterconnectDHCP": False,
                "vxlanCIDR": "192.168.30.0/24",
                "serviceCIDR": "10.96.0.0/12",
                "contivCIDR": "",
            },
        }
        status, txns = get(f"{base}/contiv/v1/txn")
        assert status == 200 and isinstance(txns, list) and txns[0]["trigger"] == "startup resync"
        status, lag = get(f"{base}/contiv/v1/loop")
        assert status == 200 and lag["intervalSeconds"] > 0 and lag["recent"], lag
        shown = subprocess.run(
            [sys.executable, "-m", "contivctl", "txn", "--http", f"127.0.0.1:{port}", "-o", "json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout) == txns
        table = subprocess.run(
            [sys.executable, "-m", "contivctl", "txn", "--http", f"127.0.0.1:{port}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert table.stdout.splitlines()[0].split()[:5] == ["SEQ", "STARTED", "KIND", "TRIGGER", "OPS"]
        assert "startup resync" in table.stdout
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=20) == 0
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
            agent.wait()
        emulator.terminate()
        emulator.wait(timeout=10)


def test_the_agent_refuses_a_bad_config_with_one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("MTUSize: big\nTAPInterfaceVersion: 7\nIPAMConfig: {NodeInterconnectCIDR: 192.168.16.0/24}\n")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "contivctl",
            "agent",
            "--config",
            str(bad),
            "--node-name",
            "n1",
            "--store",
            str(tmp_path / "s.db"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert "Traceback" not in res.stderr


def test_the_agent_without_vpp_reports_not_ready(sockdir: Path, tmp_path: Path) -> None:
    port = free_port()
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "contivctl",
            "agent",
            "--config",
            str(EXAMPLE),
            "--node-name",
            "n1",
            "--store",
            str(tmp_path / "s.db"),
            "--vpp-socket",
            str(sockdir / "none.sock"),
            "--vpp-api-dir",
            API_DIR,
            "--http",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:

        def answering() -> bool:
            try:
                return get(f"http://127.0.0.1:{port}/readiness")[0] == 503
            except (urllib.error.URLError, ConnectionError):
                return False

        wait_until(answering)
        assert get(f"http://127.0.0.1:{port}/liveness")[0] == 200
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            assert agent.wait(timeout=20) == 0
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()


def test_txn_without_an_agent_is_a_one_line_error() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "contivctl", "txn", "--http", f"127.0.0.1:{free_port()}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "cannot reach the agent" in res.stderr


def test_a_bad_last_is_a_usage_error() -> None:
    for bad in ("-3", "0", "x"):
        res = subprocess.run(
            [sys.executable, "-m", "contivctl", "txn", "--last", bad, "--http", f"127.0.0.1:{free_port()}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert res.returncode == 2, (bad, res.stderr)
        assert "Traceback" not in res.stderr and "--last" in res.stderr
