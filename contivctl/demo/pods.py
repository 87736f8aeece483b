"""Pods through the real CNI executable, as a container runtime calls it: CNI env, netconf on stdin.

The plugin is ``bin/contiv-cni``, the static Go executable kubelet/containerd
would run, built from ``cni-plugin/`` when it is missing (see
``contivctl.demo.cni_binary``), talking gRPC to the node's agent.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from contivctl.demo import cni_binary
from contivctl.demo.procs import child_env
from contivctl.demo.sh import DemoError
from contivctl.demo.state import PodRecord

NETWORK_NAME = "contiv-demo"
CNI_VERSION = "1.0.0"
IFNAME = "eth0"


def cni_command() -> list[str]:
    try:
        return [cni_binary.ensure()]
    except cni_binary.PluginUnavailable as exc:
        raise DemoError(str(exc)) from None


def _call(command: list[str], op: str, pod: PodRecord, timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
    env = child_env()
    env.update(
        CNI_COMMAND=op,
        CNI_CONTAINERID=pod.container_id,
        CNI_NETNS=f"/var/run/netns/{pod.netns}",
        CNI_IFNAME=IFNAME,
        CNI_PATH="/opt/cni/bin",
        CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={pod.name}",
    )
    netconf = {"cniVersion": CNI_VERSION, "name": NETWORK_NAME, "type": "contiv-cni", "grpcServer": pod.cni_socket}
    return subprocess.run(command, input=json.dumps(netconf).encode(), env=env, capture_output=True, timeout=timeout)


def _error(op: str, pod: PodRecord, done: subprocess.CompletedProcess[bytes]) -> DemoError:
    try:
        err: Any = json.loads(done.stdout)
        text = f"{err.get('msg', '')} (code {err.get('code')}) {err.get('details', '')}".strip()
    except ValueError:
        text = (done.stdout + done.stderr).decode(errors="replace").strip()
    return DemoError(f"CNI {op} of {pod.name} on {pod.node}: {text}")


def cni_add(command: list[str], pod: PodRecord) -> str:
    """ADD; the pod's IP address (without prefix) from the CNI result."""
    done = _call(command, "ADD", pod)
    if done.returncode != 0:
        raise _error("ADD", pod, done)
    result = json.loads(done.stdout)
    ips = result.get("ips") or []
    if not ips:
        raise DemoError(f"CNI ADD of {pod.name}: the result has no IP address: {result}")
    return str(ips[0]["address"]).split("/")[0]


def cni_del(command: list[str], pod: PodRecord) -> str | None:
    """DEL; an error message, or None."""
    try:
        done = _call(command, "DEL", pod, timeout=30.0)
    except subprocess.TimeoutExpired:
        return f"CNI DEL of {pod.name}: no answer within 30s"
    return None if done.returncode == 0 else str(_error("DEL", pod, done))
