"""kubelet's path through a node installed as the chart installs it: CRI → containerd → contiv-cni → the agent.

The node is made of real parts: Debian's containerd with its CRI plugin
(its own config and directories, never the machine's), the CNI
directories filled by the chart's init-container command
(``contivctl install-cni`` with the conflist the chart renders), and the
agent in the kernel dataplane, started with the environment the chart's
DaemonSet gives it, whose vswitch is a network namespace of the test. The
test plays kubelet, through a CRI client generated from cri-api's
api.proto (protobuf messages and gRPC stubs on a ``grpc.aio`` channel to
containerd's socket, as kubelet's own client): a pod sandbox is run, a container in it looks at its network,
the sandbox is stopped and removed, and after each step the node is
checked for what must (and must not) be there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from contivctl.config import parse_config
from tests.agent.test_agent_command import free_port, get
from tests.install.containerd import IMAGE, Containerd, build_pause, image_archive
from tests.install.cri.generated import api_pb2 as v1
from tests.install.cri.generated.api_pb2_grpc import RuntimeServiceStub
from tests.install.support import CHART, ROOT, SYSTEM_PLUGINS, contiv_cni, require, tool
from tests.kernel.support import UNDERLAY, Lab, ip_json
from tests.polling import until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (containerd, network namespaces)")

#: seconds each CRI call may take (containerd's RunPodSandbox runs the whole CNI chain)
CRI_TIMEOUT = 60


@pytest.fixture
def top() -> Iterator[Path]:
    """Short: unix socket paths must stay under 108 bytes."""
    d = Path(tempfile.mkdtemp(prefix="ctlcri-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def render(top: Path, port: int) -> list[dict[str, Any]]:
    sets = [
        "dataplane=kernel",
        f"agent.httpPort={port}",
        f"agent.cniSocket={top}/run/cni.sock",
        f"agent.stateDir={top}/state",
        f"cni.logFile={top}/cni.log",
        "config.MTUSize=1400",
        "config.NatExternalTraffic=false",
        f"config.IPAMConfig.NodeInterconnectCIDR={UNDERLAY}",
        "config.IPAMConfig.VxlanCIDR=10.78.0.0/24",
    ]
    args = [tool("helm", "HELM"), "template", "contiv", str(CHART), "--namespace", "kube-system"]
    for s in sets:
        args += ["--set", s]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


class Node:
    """The chart's files on a node of the test's: the ConfigMap's data, the init container, the agent."""

    def __init__(self, top: Path, docs: list[dict[str, Any]]) -> None:
        self.top = top
        (self.config_map,) = [d for d in docs if d["kind"] == "ConfigMap"]
        (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
        spec = ds["spec"]["template"]["spec"]
        (self.init,) = spec["initContainers"]
        (self.agent,) = spec["containers"]
        self.cni_bin = top / "cni" / "bin"
        self.cni_conf = top / "cni" / "net.d"
        # the pod's mounts, each a directory of the test (the state and socket directories are
        # the test's already: the chart was given them)
        self.mapped = {
            "/etc/contiv": top / "etc",
            "/host/opt/cni/bin": self.cni_bin,
            "/host/etc/cni/net.d": self.cni_conf,
        }
        for d in [*self.mapped.values(), top / "state", top / "run", top / "logs"]:
            d.mkdir(parents=True, exist_ok=True)
        for key, text in self.config_map["data"].items():
            (top / "etc" / key).write_text(text)

    def local(self, arg: str) -> str:
        for path, d in self.mapped.items():
            arg = arg.replace(path, str(d))
        return arg

    def path_env(self) -> dict[str, str]:
        """contiv-cni on PATH, where the image has it."""
        return {**os.environ, "PATH": f"{contiv_cni().parent}:{os.environ['PATH']}"}

    def install_cni(self) -> None:
        command = [self.local(a) for a in self.init["command"]]
        assert command[:2] == ["contivctl", "install-cni"]
        done = subprocess.run(
            [sys.executable, "-m", "contivctl", *command[1:]],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=self.path_env(),
        )
        assert done.returncode == 0, done.stderr

    def agent_env(self, vswitch_netns: str) -> dict[str, str]:
        env = {e["name"]: self.local(e["value"]) for e in self.agent["env"] if "value" in e}
        env.update(NODE_NAME="knode1", CONTIV_NODE_ID="1", CONTIV_NO_KUBERNETES="1", CONTIV_VSWITCH_NETNS=vswitch_netns)
        return {**os.environ, **env}

    def store_mentions(self, ip: str) -> list[str]:
        """Keys of the agent's store whose value names ``ip`` (its attachment, its address)."""
        db = sqlite3.connect(f"file:{self.top / 'state' / 'agent.db'}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT key, value FROM kv").fetchall()
        finally:
            db.close()
        return [k for k, v in rows if f'"{ip}"' in bytes(v).decode(errors="replace")]


@pytest.fixture
async def agent(top: Path) -> AsyncIterator[tuple[Node, Any, str]]:
    require((SYSTEM_PLUGINS / "portmap").exists(), "Debian's containernetworking-plugins is not installed")
    port = free_port()
    node = Node(top, render(top, port))
    node.install_cni()
    lab = Lab()
    try:
        cfg = parse_config(yaml.safe_load(node.config_map["data"]["contiv.yaml"]))
        ns = lab.node(cfg, 1)
        log = (top / "agent.log").open("wb")
        command = node.agent["command"]
        assert command == ["contivctl", "agent"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "contivctl", *command[1:]],
            cwd=ROOT,
            env=node.agent_env(ns.path),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                assert proc.poll() is None, (top / "agent.log").read_text()
                try:
                    return get(f"{base}/readiness")[0] == 200
                except OSError:
                    return False

            await until(ready, timeout=60, step=0.05)
            yield node, ns, base
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    finally:
        lab.cleanup()


@pytest.fixture
async def runtime(top: Path, agent: tuple[Node, Any, str]) -> AsyncIterator[tuple[Containerd, grpc.aio.Channel]]:
    require(shutil.which("containerd") is not None, "containerd is not installed")
    node = agent[0]
    runtime_dir = top / "containerd"
    runtime_dir.mkdir()
    c = Containerd(runtime_dir, node.cni_bin, node.cni_conf)
    channel: grpc.aio.Channel | None = None
    try:
        pause = build_pause(top / "pause")
        c.start()
        c.import_image(image_archive(pause, top / "pause.tar"))
        channel = grpc.aio.insecure_channel(f"unix:{c.sock}")
        yield c, channel
    finally:
        if channel is not None:
            await channel.close()
        c.cleanup()
        _remove_cgroups(CGROUP_PARENT)


#: the sandboxes' cgroup parent, one of the test's own, removed afterwards
CGROUP_PARENT = f"/contiv-test-{uuid.uuid4().hex[:8]}"


def _remove_cgroups(parent: str) -> None:
    root = Path("/sys/fs/cgroup")
    for d in [root, *(p for p in root.iterdir() if p.is_dir())]:
        path = d / parent.lstrip("/")
        if path.is_dir():
            for sub in sorted(path.rglob("*"), key=lambda p: len(str(p)), reverse=True):
                if sub.is_dir():
                    sub.rmdir()
            path.rmdir()


def pod_config(top: Path, name: str) -> v1.PodSandboxConfig:
    uid = str(uuid.uuid4())
    logs = top / "logs" / name
    logs.mkdir(parents=True)
    return v1.PodSandboxConfig(
        metadata=v1.PodSandboxMetadata(name=name, uid=uid, namespace="default", attempt=0),
        hostname=name,
        log_directory=str(logs),
        labels={"app": name},
        linux=v1.LinuxPodSandboxConfig(
            cgroup_parent=CGROUP_PARENT,
            security_context=v1.LinuxSandboxSecurityContext(
                namespace_options=v1.NamespaceOption(
                    network=v1.NamespaceMode.POD, pid=v1.NamespaceMode.POD, ipc=v1.NamespaceMode.POD
                )
            ),
        ),
    )


def read_log(path: Path) -> str:
    """The container's stdout from its CRI log: ``<time> <stream> <tag> <text>`` per line."""
    lines = []
    for line in path.read_text().splitlines():
        _time, stream, _tag, text = line.split(" ", 3)
        if stream == "stdout":
            lines.append(text)
    return "\n".join(lines)


def veths(netns: str) -> set[str]:
    return {
        link["ifname"]
        for link in ip_json(netns, "-d", "link", "show")
        if link.get("linkinfo", {}).get("info_kind") == "veth"
    }


async def test_run_a_pod_sandbox_see_its_network_stop_and_remove_it(
    top: Path, agent: tuple[Node, Any, str], runtime: tuple[Containerd, grpc.aio.Channel]
) -> None:
    node, vswitch, base = agent
    containerd, channel = runtime
    rt = RuntimeServiceStub(channel)
    version: v1.VersionResponse = await rt.Version(v1.VersionRequest(version="v1"), timeout=CRI_TIMEOUT)
    assert (version.runtime_name, version.runtime_api_version) == ("containerd", "v1")

    async def network_ready() -> bool:
        status: v1.StatusResponse = await rt.Status(v1.StatusRequest(), timeout=CRI_TIMEOUT)
        assert status.HasField("status")
        return any(c.type == "NetworkReady" and c.status for c in status.status.conditions)

    await until(network_ready, timeout=30, step=0.05)  # the runtime found the conflist install-cni wrote
    before = veths(vswitch.path)

    # RunPodSandbox: containerd makes the namespace and runs the chain: contiv-cni, then portmap
    config = pod_config(top, "web")
    ran: v1.RunPodSandboxResponse = await rt.RunPodSandbox(v1.RunPodSandboxRequest(config=config), timeout=CRI_TIMEOUT)
    sandbox = ran.pod_sandbox_id
    status: v1.PodSandboxStatusResponse = await rt.PodSandboxStatus(
        v1.PodSandboxStatusRequest(pod_sandbox_id=sandbox, verbose=True), timeout=CRI_TIMEOUT
    )
    assert status.HasField("status") and status.status.HasField("network")
    ip = status.status.network.ip
    info = json.loads(status.info["info"])
    netns = next(n["path"] for n in info["runtimeSpec"]["linux"]["namespaces"] if n["type"] == "network")
    containerd.netns.add(netns)
    assert status.status.state == v1.PodSandboxState.SANDBOX_READY
    assert ip.startswith("10.1.1."), ip  # node 1's pod subnet of the chart's config
    assert node.store_mentions(ip), "the agent has no record of the pod's address"
    assert len(veths(vswitch.path) - before) == 1  # the pod's end in the vswitch
    log = (top / "cni.log").read_text()
    assert f"ADD {sandbox} eth0 {netns}: ok" in log

    # a container of the pod sees eth0 with the pod's address and the default route through it
    created: v1.CreateContainerResponse = await rt.CreateContainer(
        v1.CreateContainerRequest(
            pod_sandbox_id=sandbox,
            config=v1.ContainerConfig(
                metadata=v1.ContainerMetadata(name="netinfo", attempt=0),
                image=v1.ImageSpec(image=IMAGE),
                command=["/pause", "netinfo"],
                log_path="netinfo.log",
            ),
            sandbox_config=config,
        ),
        timeout=CRI_TIMEOUT,
    )
    cid = created.container_id
    await rt.StartContainer(v1.StartContainerRequest(container_id=cid), timeout=CRI_TIMEOUT)

    async def exited() -> bool:
        got: v1.ContainerStatusResponse = await rt.ContainerStatus(
            v1.ContainerStatusRequest(container_id=cid), timeout=CRI_TIMEOUT
        )
        return got.HasField("status") and got.status.state == v1.ContainerState.CONTAINER_EXITED

    await until(exited, timeout=30, step=0.05)
    got: v1.ContainerStatusResponse = await rt.ContainerStatus(
        v1.ContainerStatusRequest(container_id=cid), timeout=CRI_TIMEOUT
    )
    assert got.HasField("status")
    st = got.status
    seen = json.loads(read_log(Path(config.log_directory) / "netinfo.log"))
    assert st.exit_code == 0, seen
    assert seen["interfaces"]["eth0"][0] == f"{ip}/32"
    assert set(seen["interfaces"]) == {"lo", "eth0"}
    (default,) = [r for r in seen["routes"] if r["dst"] == "0.0.0.0" and r["mask"] == "0.0.0.0"]
    assert default["iface"] == "eth0" and default["gateway"] != "0.0.0.0"

    # StopPodSandbox: the runtime's DEL; the agent releases the address, the wiring goes
    await rt.StopPodSandbox(v1.StopPodSandboxRequest(pod_sandbox_id=sandbox), timeout=CRI_TIMEOUT)
    assert node.store_mentions(ip) == []
    # the kernel destroys the pair with the pod's namespace, a moment after it is gone
    await until(lambda: veths(vswitch.path) == before, timeout=10, step=0.02)
    assert f"DEL {sandbox} eth0" in (top / "cni.log").read_text()
    status = await rt.PodSandboxStatus(v1.PodSandboxStatusRequest(pod_sandbox_id=sandbox), timeout=CRI_TIMEOUT)
    assert status.HasField("status") and status.status.state == v1.PodSandboxState.SANDBOX_NOTREADY

    # RemovePodSandbox: nothing of the pod is left, in the runtime, the kernel or the agent
    await rt.RemovePodSandbox(v1.RemovePodSandboxRequest(pod_sandbox_id=sandbox), timeout=CRI_TIMEOUT)
    assert list((await rt.ListPodSandbox(v1.ListPodSandboxRequest(), timeout=CRI_TIMEOUT)).items) == []
    assert list((await rt.ListContainers(v1.ListContainersRequest(), timeout=CRI_TIMEOUT)).containers) == []
    assert containerd.ctr("containers", "list", "--quiet").stdout.split() == []
    assert containerd.ctr("tasks", "list", "--quiet").stdout.split() == []
    assert not Path(netns).exists()
    assert containerd.mounts() == []
    assert containerd.shims() == []
    assert get(f"{base}/readiness")[0] == 200
    assert [k for k in node.store_mentions(ip)] == []
    assert veths(vswitch.path) == before


def test_the_cri_client_is_what_the_committed_proto_makes() -> None:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "cri" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
