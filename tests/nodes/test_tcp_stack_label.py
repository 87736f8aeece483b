"""The ldpreload label in the running agent: from the pod in Kubernetes, through a CNI ADD, to the TCP stack in VPP."""

from __future__ import annotations

from pathlib import Path

import kmock

from contivctl.agent.agent import Agent
from contivctl.agent.options import AgentOptions
from contivctl.render import naming
from contivctl.testing.vppemu import Emulator
from tests.agent.support import API_DIR, Pods, vpp_interfaces
from tests.agent.test_metrics import free_port
from tests.cni.client import cni_call
from tests.nodes.conftest import needs_root
from tests.nodes.k8s_support import kubeconfig_for, send
from tests.nodes.support import NODE
from tests.nodes.test_k8s import declare


@needs_root
async def test_the_label_of_the_pod_in_kubernetes_decides_its_tcp_stack(
    kmock: kmock.KubernetesEmulator, emu: Emulator, sockdir: Path, tmp_path: Path
) -> None:
    declare(kmock)
    kubeconfig = kubeconfig_for(kmock, tmp_path / "kubeconfig")
    cfg = tmp_path / "contiv.yaml"
    # TAP: the host end is the emulated VPP's, gone with it (a veth would stay in this namespace)
    cfg.write_text(
        "TCPstackDisabled: false\nUseTAPInterfaces: true\nCRDNodeConfigurationDisabled: true\n"
        "IPAMConfig: {NodeInterconnectCIDR: 192.168.16.0/24}\n"
    )
    for name, labels in (("web", {"ldpreload": "true"}), ("db", {"app": "db"})):
        pod = {"metadata": {"name": name, "namespace": "default", "uid": f"u-{name}", "labels": labels}}
        await send(kmock, "POST", "/api/v1/namespaces/default/pods", {**pod, "spec": {"nodeName": NODE}})
    socket = str(sockdir / "cni.sock")
    agent = Agent(
        AgentOptions(
            config=cfg,
            node_name=NODE,
            store=tmp_path / "agent.db",
            vpp_socket=emu.socket_path,
            vpp_api_dir=API_DIR,
            cni_socket=socket,
            http=f"127.0.0.1:{free_port()}",
            kubeconfig=str(kubeconfig),
            no_services=True,
        )
    )
    pods = Pods()
    await agent.start()
    try:
        # without Services or the CRD, Kubernetes would start after readiness; the labels need it first
        assert agent.kubernetes is not None
        wired = {}
        for name in ("web", "db"):
            cid = pods.cid()
            reply = await cni_call(socket, "Add", cid, pods.netns(), name)
            assert reply.result == 0, reply.error
            wired[name] = cid
        ifaces = await vpp_interfaces(emu_vpp(agent))
        assert naming.vpp_pod_loop_name(wired["web"], "eth0") in ifaces
        assert naming.vpp_pod_loop_name(wired["db"], "eth0") not in ifaces
        rules = await emu_vpp(agent).dump("stn_rules_dump")
        tap_web = ifaces[naming.vpp_pod_if_name(wired["web"], "eth0")]
        assert [r.sw_if_index for r in rules] == [tap_web.sw_if_index]
        for name, cid in wired.items():
            await cni_call(socket, "Delete", cid, "", name)
    finally:
        await agent.stop()
        pods.cleanup()


def emu_vpp(agent: Agent):  # type: ignore[no-untyped-def]
    from contivctl.agent.vpp import VppParts

    assert isinstance(agent.parts, VppParts)
    return agent.parts.vpp
