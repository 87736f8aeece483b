"""The ``contivctl`` command as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import socket
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


def write(tmp_path: Path, text: str, name: str = "contiv.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


CROWDED = """\
IPAMConfig:
  PodSubnetCIDR: 10.1.0.0/16
  VPPHostSubnetCIDR: 10.1.0.0/16
  ServiceCIDR: 10.1.200.0/24
  NodeInterconnectCIDR: 10.1.201.0/24
  VxlanCIDR: 10.1.202.0/24
"""


def test_overlapping_ranges_are_refused_by_check_and_plan(tmp_path: Path) -> None:
    cfg = write(tmp_path, CROWDED)
    check = run("config", "check", str(cfg))
    assert check.returncode == 2
    lines = errors(check.stderr)
    assert lines[0] == (
        "contivctl: IPAMConfig.VPPHostSubnetCIDR: 10.1.0.0/16 overlaps IPAMConfig.PodSubnetCIDR 10.1.0.0/16; "
        "the ranges must not share addresses"
    )
    # one line per pair: the three small ranges lie in both the pod and the VPP-host range
    assert len(lines) == 7, lines
    for key in ("ServiceCIDR", "NodeInterconnectCIDR", "VxlanCIDR"):
        for other in ("PodSubnetCIDR", "VPPHostSubnetCIDR"):
            assert any(ln.startswith(f"contivctl: IPAMConfig.{key}: ") and f"IPAMConfig.{other} " in ln for ln in lines)
    plan = run("ipam", "plan", "--config", str(cfg), "--node-id", "1")
    assert plan.returncode == 2  # no plan where the pod gateway is the VPP end of the host link
    assert errors(plan.stderr) == lines and plan.stdout == ""


def test_what_the_agent_refuses_config_check_refuses(tmp_path: Path) -> None:
    cfg = write(tmp_path, "MTUSize: 1400\nIPAMConfig: {VxlanCIDR: 192.168.30.0/24}\n")
    check = run("config", "check", str(cfg))
    assert check.returncode == 2
    assert errors(check.stderr) == [
        "contivctl: IPAMConfig.NodeInterconnectCIDR: is required unless IPAMConfig.NodeInterconnectDHCP is true or "
        "a node entry sets MainVPPInterface.IP or MainVPPInterface.UseDHCP: no node would get a node IP"
    ]
    # the agent stops at the same check, before it touches anything: same line, same exit status
    agent = run(
        "agent",
        "--config",
        str(cfg),
        "--node-name",
        "n1",
        "--store",
        str(tmp_path / "agent.db"),
        "--no-kubernetes",
        "--vpp-socket",
        str(tmp_path / "none.sock"),
        "--cni-socket",
        str(tmp_path / "cni.sock"),
    )
    assert agent.returncode == 2
    assert errors(agent.stderr) == [
        "contivctl: IPAMConfig.NodeInterconnectCIDR: is required: IPAMConfig.NodeInterconnectDHCP is false and "
        "node 'n1' has no entry in NodeConfig, so the node would have no node IP"
    ]
    assert not (tmp_path / "agent.db").exists()


def test_a_node_with_a_static_ip_needs_no_node_range(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        "NodeConfig:\n  - NodeName: n1\n    MainVPPInterface: {InterfaceName: GigabitEthernet0/8/0, IP: 10.9.0.1/24}\n"
        "  - NodeName: n2\n",
    )
    check = run("config", "check", str(cfg))
    assert check.returncode == 0, check.stderr
    assert "only the nodes whose entry gives them an IP ('n1')" in check.stderr
    assert run("config", "check", str(cfg), "--node", "n1").stderr == ""
    plan = run("ipam", "plan", "--config", str(cfg), "--node-id", "3", "--node", "n1")
    assert plan.returncode == 0 and json.loads(plan.stdout)["nodeIP"] == "10.9.0.1/24"
    other = run("ipam", "plan", "--config", str(cfg), "--node-id", "3", "--node", "n2")
    assert other.returncode == 2
    assert "the entry of node 'n2' sets neither MainVPPInterface.IP" in other.stderr


def test_a_key_written_twice_exits_2(tmp_path: Path) -> None:
    cfg = write(tmp_path, EXAMPLE.read_text() + "MTUSize: 9000\n")
    res = run("config", "check", str(cfg))
    assert res.returncode == 2
    assert errors(res.stderr) == ["contivctl: MTUSize: given twice (at lines 8 and 30); write it once"]


def test_a_node_name_without_an_entry_is_a_warning(tmp_path: Path) -> None:
    cfg = write(tmp_path, EXAMPLE.read_text() + "NodeConfig:\n  - NodeName: k8s-master\n  - NodeName: k8s-worker1\n")
    warning = (
        "contivctl: warning: --node: 'k8s-worker2' matches no node entry (entries: 'k8s-master', 'k8s-worker1'); "
        "the global config applies (a NodeConfig resource, if there is one, is not read here)"
    )
    check = run("config", "check", str(cfg), "--node", "k8s-worker2", "-o", "json")
    assert check.returncode == 0
    assert warning in check.stderr.splitlines()
    assert json.loads(check.stdout)["NodeConfig"] == [
        {
            "NodeName": "k8s-worker2",
            "MainVPPInterface": {"InterfaceName": "", "IP": "", "UseDHCP": False},
            "OtherVPPInterfaces": [],
            "StealInterface": "",
            "Gateway": "",
            "NatExternalTraffic": False,
        }
    ]
    plan = run("ipam", "plan", "--config", str(cfg), "--node-id", "5", "--node", "k8s-worker2")
    assert plan.returncode == 0 and warning in plan.stderr.splitlines()
    assert "--node" not in run("config", "check", str(cfg), "--node", "k8s-worker1").stderr


def test_config_check_prints_warnings_on_stderr_and_passes(tmp_path: Path) -> None:
    cfg = write(tmp_path, EXAMPLE.read_text().replace("PodIfIPCIDR: 10.2.1.0/24", "PodIfIPCIDR: 10.2.1.0/26"))
    res = run("config", "check", str(cfg), "-o", "json")
    assert res.returncode == 0
    assert "contivctl: warning: IPAMConfig.PodIfIPCIDR: 10.2.1.0/26 is smaller than one node's pod subnet" in (
        res.stderr
    )
    assert json.loads(res.stdout)["IPAMConfig"]["PodIfIPCIDR"] == "10.2.1.0/26"


def agent_args(tmp_path: Path, *more: str) -> list[str]:
    return [
        "agent",
        "--config",
        str(EXAMPLE),
        "--node-name",
        "n1",
        "--store",
        str(tmp_path / "agent.db"),
        "--no-kubernetes",
        "--vpp-socket",
        str(tmp_path / "none.sock"),
        "--cni-socket",
        str(tmp_path / "cni.sock"),
        *more,
    ]


def test_a_rest_port_in_use_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = run(*agent_args(tmp_path, "--http", f"127.0.0.1:{port}"))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert [ln for ln in res.stderr.splitlines() if ln.startswith("contivctl:")] == [
        f"contivctl: cannot serve REST on 127.0.0.1:{port}: Address already in use"
    ]


@pytest.mark.parametrize("addr", ["127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", ":0"])
def test_a_rest_address_that_is_not_host_port_is_bad_usage(tmp_path: Path, addr: str) -> None:
    res = run(*agent_args(tmp_path, "--http", addr))
    assert res.returncode == 2
    assert errors(res.stderr) == [f"contivctl: --http: {addr!r} is not host:port (e.g. 127.0.0.1:9999)"]


def test_a_del_queue_that_is_not_an_absolute_path_is_bad_usage(tmp_path: Path) -> None:
    res = run(*agent_args(tmp_path, "--cni-del-queue", "queue"))
    assert res.returncode == 2
    assert errors(res.stderr) == ["contivctl: --cni-del-queue: 'queue' is not an absolute path"]


def test_the_del_queue_is_beside_the_cni_socket_unless_given() -> None:
    from contivctl.agent.options import AgentOptions

    opts = AgentOptions(config=Path("c.yaml"), node_name="n")
    assert opts.del_queue_dir == Path("/var/run/contiv/cni-del-queue")  # cni-plugin's default for the same socket
    assert AgentOptions(config=Path("c"), node_name="n", cni_socket="/run/a/cni.sock").del_queue_dir == Path(
        "/run/a/cni-del-queue"
    )
    given = AgentOptions(config=Path("c"), node_name="n", cni_del_queue="/var/lib/q")
    assert given.del_queue_dir == Path("/var/lib/q")


def test_an_agent_node_id_below_1_is_bad_usage(tmp_path: Path) -> None:
    res = run(*agent_args(tmp_path, "--node-id", "0"))
    assert res.returncode == 2
    assert errors(res.stderr) == ["contivctl: --node-id: 0 is not a node ID: node IDs start at 1"]


async def test_a_cni_socket_that_cannot_be_bound_is_one_error(tmp_path: Path) -> None:
    import asyncio

    from contivctl.cni.server import CNIServer, RemoteCNI
    from contivctl.errors import ContivError

    async def submit(event: object) -> object:
        raise AssertionError("nothing is served")

    long = tmp_path / ("x" * 120) / "cni.sock"  # longer than a unix socket address can be
    server = CNIServer(RemoteCNI(submit, asyncio.Event()), long)  # type: ignore[arg-type]
    with pytest.raises(ContivError, match=f"cannot serve CNI on {long}: AF_UNIX path too long"):
        await server.start()
    assert not long.exists()
    blocked = tmp_path / "file"
    blocked.write_text("")
    server = CNIServer(RemoteCNI(submit, asyncio.Event()), blocked / "cni.sock")  # type: ignore[arg-type]
    with pytest.raises(ContivError, match=f"cannot serve CNI on {blocked / 'cni.sock'}: File exists"):
        await server.start()
