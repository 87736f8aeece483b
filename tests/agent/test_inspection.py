"""The inspection commands against a running agent: status, pods, ipam, dump, vpp, bugtool."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from contivctl.inspection import brief
from contivctl.testing.vppemu import Emulator
from tests.agent.support import Pods
from tests.agent.test_metrics import agent_of
from tests.cni.support import cni_env, netconf, run

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def contivctl(port: int, *args: str) -> tuple[int, str, str]:
    """The command as a user runs it (a process), while the agent goes on in this loop."""
    http = ("--http", f"127.0.0.1:{port}")
    # `vpp` takes the rest of the line as VPP's command: options go before it
    argv = [args[0], *http, *args[1:]] if args[0] == "vpp" else [*args, *http]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "contivctl",
        *argv,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def as_json(port: int, *args: str) -> Any:
    rc, out, err = await contivctl(port, *args, "-o", "json")
    assert rc == 0, err
    return json.loads(out)


async def test_what_a_user_sees_of_a_wired_pod(
    emu: Emulator, sockdir: Path, tmp_path: Path, pods: Pods, contiv_cni: str
) -> None:
    async with agent_of(emu, sockdir, tmp_path) as (_agent, port):
        cid, netns = pods.cid(), pods.netns()
        added = await run(cni_env("ADD", cid, netns), netconf(str(sockdir / "cni.sock")))
        assert added.rc == 0, added.stderr
        ip = added.json["ips"][0]["address"].split("/")[0]

        status = await as_json(port, "status")
        assert status["ready"] and status["pods"] == 1 and status["itemsFailed"] == 0
        assert status["dataplane"]["name"] == "vpp" and status["dataplane"]["connected"]
        assert status["startupResync"]["done"] and status["lastTransaction"]["trigger"].startswith("add ")
        rc, line, _ = await contivctl(port, "status", "--brief")
        assert rc == 0 and line.startswith("ready: 1 pods") and len(line.splitlines()) == 1

        (pod,) = await as_json(port, "pods")
        assert (pod["containerId"], pod["ip"], pod["netns"], pod["mode"], pod["state"]) == (
            cid,
            ip,
            netns,
            "tap",
            "wired",
        )
        rc, table, _ = await contivctl(port, "pods")
        assert rc == 0 and table.split()[:4] == ["NAMESPACE", "NAME", "CONTAINER_ID", "IFNAME"]

        ipam = await as_json(port, "ipam", "show")
        assert ipam["inUse"] == 1 and [a["ip"] for a in ipam["allocations"]] == [ip]
        rc, _, _ = await contivctl(port, "ipam", "check")
        assert rc == 0

        desired = await as_json(port, "dump", "--view", "desired", "--kind", "vpp/interface/")
        assert any(k.startswith("vpp/interface/pod-") for k in desired["items"])
        assert all(k.startswith("vpp/interface/") for k in desired["items"])
        diff = await as_json(port, "dump")
        assert diff["items"] == []

        rc, out, err = await contivctl(port, "vpp", "show", "version")
        assert rc == 0 and " v26" in out, err

        tarball = tmp_path / "bug.tar.gz"
        rc, out, err = await contivctl(
            port, "bugtool", "--out", str(tarball), "--config", str(ROOT / "examples" / "contiv.yaml")
        )
        assert rc == 0, err
        with tarfile.open(tarball) as tar:
            names = {n.split("/", 1)[1] for n in tar.getnames()}
        assert {"status.json", "pods.json", "txn.json", "items-desired.json", "agent.log", "contiv.yaml"} <= names
        assert "vpp/show-version-verbose.txt" in names
        assert tarball.stat().st_mode & 0o077 == 0

        # the pod's namespace deleted behind the agent's back: a leak the check names
        pods.remove_netns(netns)
        rc, out, _ = await contivctl(port, "ipam", "check", "-o", "json")
        assert rc == 1 and "is gone" in json.loads(out)["problems"][0]["problem"]


def test_status_brief_of_no_agent_is_one_line_and_exit_1() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "contivctl", "status", "--brief", "--http", f"127.0.0.1:{free_port()}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 1 and res.stdout.startswith("NOT ready") and len(res.stdout.splitlines()) == 1
    assert "Traceback" not in res.stderr


def test_the_brief_line() -> None:
    status = {"ready": False, "reason": "VPP is not connected", "dataplane": {"name": "vpp", "connected": False}}
    assert brief(status) == (
        "NOT ready (VPP is not connected): 0 pods, 0 other nodes, 0 items failed; VPP ? NOT connected"
    )
