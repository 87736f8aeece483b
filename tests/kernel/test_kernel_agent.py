"""``contivctl agent --dataplane kernel`` as a process: no VPP anywhere, ready, and a restart changes nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from contivctl.render.kernel.names import VXLAN_DEV
from tests.agent.test_agent_command import ROOT, free_port, get, wait_until
from tests.kernel.conftest import needs_root
from tests.kernel.support import UNDERLAY, Lab, config, ip_json

pytestmark = needs_root

CONFIG: dict[str, Any] = {
    "MTUSize": 1400,
    "IPAMConfig": {"NodeInterconnectCIDR": UNDERLAY, "VxlanCIDR": "10.78.0.0/24"},
}


def _run_agent(cfg_file: Path, store: Path, netns: str, port: int) -> list[Any]:
    """Start the agent, wait until it is ready, return its transactions, stop it with SIGTERM."""
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "contivctl",
            "agent",
            "--config",
            str(cfg_file),
            "--node-name",
            "knode1",
            "--node-id",
            "1",
            "--store",
            str(store),
            "--vpp-socket",
            str(store.parent / "no-vpp-here.sock"),
            "--cni-socket",
            str(store.parent / "cni.sock"),
            "--http",
            f"127.0.0.1:{port}",
            "--no-kubernetes",
            "--dataplane",
            "kernel",
            "--vswitch-netns",
            netns,
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert agent.poll() is None, agent.stderr.read() if agent.stderr else ""
            try:
                return get(f"{base}/readiness")[0] == 200
            except OSError:
                return False

        wait_until(ready)
        status, txns = get(f"{base}/contiv/v1/txn")
        assert status == 200 and isinstance(txns, list)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=20) == 0
        return txns
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()


def test_kernel_agent_needs_no_vpp_and_restarts_with_zero_operations(the_lab: Lab, tmp_path: Path) -> None:
    node = the_lab.node(config(), 1)
    cfg_file = tmp_path / "contiv.yaml"
    cfg_file.write_text(yaml.safe_dump(CONFIG))
    store = tmp_path / "agent.db"

    first = _run_agent(cfg_file, store, node.path, free_port())
    assert first[0]["trigger"] == "startup resync"
    made = {op["key"] for op in first[0]["ops"] if op["op"] == "create" and op["outcome"] == "ok"}
    assert any(k.startswith("linux/vxlan/") for k in made)
    (dev,) = ip_json(node.path, "-d", "link", "show", VXLAN_DEV)  # stays after the agent stopped
    assert dev["linkinfo"]["info_data"]["local"] == node.ip

    again = _run_agent(cfg_file, store, node.path, free_port())
    assert again[0]["trigger"] == "startup resync"
    assert again[0]["ops"] == []


def test_a_vswitch_namespace_without_the_kernel_dataplane_is_a_usage_error(tmp_path: Path) -> None:
    from contivctl.cli import EXIT_USAGE, main

    cfg_file = tmp_path / "contiv.yaml"
    cfg_file.write_text(yaml.safe_dump(CONFIG))
    argv = ["agent", "--config", str(cfg_file), "--node-name", "n1", "--vswitch-netns", "/var/run/netns/x"]
    assert main(argv) == EXIT_USAGE
