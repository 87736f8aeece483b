"""The ``contivctl`` command as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "contiv.yaml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "contivctl", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_ipam_plan_of_node_5_prints_the_documented_values() -> None:
    res = run("ipam", "plan", "--config", str(EXAMPLE), "--node-id", "5", "-o", "json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data == {
        "nodeId": 5,
        "podSubnetCIDR": "10.1.0.0/16",
        "podSubnetThisNode": "10.1.5.0/24",
        "podGateway": "10.1.5.1",
        "podIPFirst": "10.1.5.2",
        "podIPLast": "10.1.5.253",
        "natLoopbackIP": "10.1.5.254",
        "vppHostNetwork": "172.30.5.0/24",
        "vppHostVppIP": "172.30.5.1/24",
        "vppHostHostIP": "172.30.5.2/24",
        "nodeIP": "192.168.16.5/24",
        "vxlanIP": "192.168.30.5/24",
        "podIfIPCIDR": "10.2.1.0/24",
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


def test_ipam_plan_table_output() -> None:
    res = run("ipam", "plan", "--config", str(EXAMPLE), "--node-id", "5", "-o", "table")
    assert res.returncode == 0
    assert any(line.split() == ["nodeIP", "192.168.16.5/24"] for line in res.stdout.splitlines())


def errors(stderr: str) -> list[str]:
    """The error lines of a run, without its warnings."""
    return [ln for ln in stderr.strip().splitlines() if not ln.startswith("contivctl: warning:")]


@pytest.mark.parametrize(
    ("node_id", "code"),
    # 257 fits no /24 of 10.1.0.0/16: the computation fails; 0 and -1 are no node IDs at all: bad usage
    [("257", 1), ("0", 2), ("-1", 2), ("x", 2)],
)
def test_invalid_node_id_is_a_one_line_error(node_id: str, code: int) -> None:
    res = run("ipam", "plan", "--config", str(EXAMPLE), "--node-id", node_id)
    assert res.returncode == code
    if node_id != "x":
        assert len(errors(res.stderr)) == 1, res.stderr
        assert "node ID" in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout == ""


def test_config_errors_exit_2_with_one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "UseTAPInterface: true\nTAPInterfaceVersion: 3\nTCPNATSessionTimeout: -5\n"
        "IPAMConfig:\n  PodSubnetCIDR: 10.1.0.0/33\n  NodeInterconnectCIDR: 192.168.16.0/24\n"
    )
    res = run("config", "check", str(bad))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 4, lines
    assert "UseTAPInterface" in lines[0] and "UseTAPInterfaces" in lines[0]
    assert any("TAPInterfaceVersion: 3" in ln for ln in lines)
    assert any("TCPNATSessionTimeout: -5" in ln for ln in lines)
    assert any("10.1.0.0/33" in ln for ln in lines)
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("content", "needle"),
    [("a: [unclosed\n", "not valid YAML at line"), (None, "cannot read")],
)
def test_unreadable_config_is_a_config_error(tmp_path: Path, content: str | None, needle: str) -> None:
    path = tmp_path / "c.yaml"
    if content is not None:
        path.write_text(content)
    res = run("config", "check", str(path))
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("fmt", ["yaml", "json", "table"])
def test_config_check_prints_the_effective_config(fmt: str) -> None:
    res = run("config", "check", str(EXAMPLE), "-o", fmt)
    assert res.returncode == 0, res.stderr
    if fmt == "json":
        assert json.loads(res.stdout)["IPAMConfig"]["PodIfIPCIDR"] == "10.2.1.0/24"
    elif fmt == "yaml":
        assert yaml.safe_load(res.stdout)["TCPNATSessionTimeout"] == "3h"
    else:
        assert "IPAMConfig.PodSubnetCIDR" in res.stdout


def test_config_check_for_a_node(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        EXAMPLE.read_text()
        + "NodeConfig:\n  - NodeName: n1\n    NatExternalTraffic: true\n    Gateway: 192.168.16.1\n"
        + "  - NodeName: n2\n"
    )
    res = run("config", "check", str(cfg), "--node", "n1", "-o", "json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert [n["NodeName"] for n in data["NodeConfig"]] == ["n1"]
    assert data["NodeConfig"][0]["Gateway"] == "192.168.16.1"


@pytest.mark.parametrize(
    "args",
    [[], ["config"], ["ipam"], ["config", "check"], ["ipam", "plan"], ["nonsense"]],
)
def test_bad_usage_exits_2_without_traceback(args: list[str]) -> None:
    res = run(*args)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "usage:" in res.stderr


@pytest.mark.parametrize("args", [[], ["config"], ["config", "check"], ["ipam"], ["ipam", "plan"]])
def test_every_command_has_help(args: list[str]) -> None:
    res = run(*args, "--help")
    assert res.returncode == 0
    assert "usage: contivctl" in res.stdout


def test_version() -> None:
    res = run("--version")
    assert res.returncode == 0
    assert res.stdout.startswith("contivctl ")
