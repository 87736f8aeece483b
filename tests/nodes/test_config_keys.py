"""Config keys as the running node applies them: TAP ring sizes and checksum offload on the emulator,
CRDNodeConfigurationDisabled against a mock API server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import kmock

from contivctl.agent.agent import Agent
from contivctl.agent.options import AgentOptions
from contivctl.config.model import NodeConfig
from contivctl.dataplane.linux.netns import get_checksum_offload
from contivctl.events import ManagementIPsChanged
from contivctl.k8s.sources import KubernetesSources
from contivctl.render import naming
from contivctl.testing.vppemu import Emulator
from tests.agent.support import Pods, vpp_interfaces
from tests.nodes.conftest import needs_root
from tests.nodes.k8s_support import NODECONFIGS, api_client_for, kubeconfig_for, node, node_config, send, watching
from tests.nodes.support import NODE, HostSide, config, running_node
from tests.nodes.test_k8s import Posted, declare

#: where the reflector lists and watches NodeConfigs (of every namespace)
LISTED = f"{NODECONFIGS}/nodeconfigs"
SPEC = {"mainVPPInterface": {"interfaceName": "GigabitEthernet0/9/0", "ip": "10.9.0.5/24"}}


@needs_root
async def test_tap_ring_size_0_is_vpps_default_and_offload_is_off_on_the_linux_ends(
    emu: Emulator, sockdir: Path, side: HostSide
) -> None:
    cfg = config(TAPv2RxRingSize=0, TAPv2TxRingSize=0, TCPChecksumOffloadDisabled=True)
    async with running_node(emu, sockdir / "a.db", cfg, side) as n:
        pods = Pods()
        try:
            cid, netns = pods.cid(), pods.netns()
            await n.add(cid, netns)
            ifs = await vpp_interfaces(n.vpp)
            taps = {int(t.sw_if_index): t for t in await n.vpp.dump("sw_interface_tap_v2_dump", sw_if_index=0xFFFFFFFF)}
            for name in ("tap-vpp2", naming.vpp_pod_if_name(cid, "eth0")):
                tap = taps[int(ifs[name].sw_if_index)]
                assert (tap.rx_ring_sz, tap.tx_ring_sz) == (256, 256)  # VPP's choice for 0
            assert await get_checksum_offload(side.path, side.host_if) == (False, False)
            assert await get_checksum_offload(netns, "eth0") == (False, False)
            # 0 asked, 256 found: the same thing, so a resync finds nothing to redo
            desired = n.controller.desired()
            record = await n.reconciler.resync_full(desired, trigger="check")
            assert [op for op in record.ops if op.key in desired] == []
            await n.delete(cid)
        finally:
            pods.cleanup()


async def test_sources_without_node_configs_never_ask_for_them(kmock: kmock.KubernetesEmulator) -> None:
    declare(kmock)
    await send(kmock, "POST", f"{NODECONFIGS}/namespaces/default/nodeconfigs", node_config(NODE, SPEC))
    posted = Posted()
    src = KubernetesSources(api_client_for(kmock), NODE, posted.post, node_configs=False)
    src.start()
    try:
        await watching(kmock, "/api/v1/nodes")
        await watching(kmock, "/api/v1/pods")
        await send(kmock, "POST", "/api/v1/nodes", node("node-b", "10.20.0.2"))
        await posted.next(ManagementIPsChanged)
        assert not [r for r in list(kmock) if r.url.path == LISTED]
        assert src.node_config() is None
    finally:
        await src.stop()
        await src.close()


class View:
    """Stands in for the node view: records the inputs the agent sets before the startup resync."""

    def __init__(self) -> None:
        self.inputs = self
        self.applied: list[Any] = []

    def reconfigured(self, crd: NodeConfig | None, lease: object) -> Any:
        return ("reconfigured", crd)

    def set_inputs(self, inputs: Any) -> None:
        self.applied.append(inputs)


class StubNode:
    def __init__(self) -> None:
        self.view = View()
        self.controller = Posted()


async def start_kubernetes(kmock: Any, tmp_path: Path, config_text: str) -> tuple[StubNode, list[str]]:
    """The agent's Kubernetes start against kmock, with a NodeConfig for this node already there."""
    kubeconfig = kubeconfig_for(kmock, tmp_path / "kubeconfig")
    cfg = tmp_path / "contiv.yaml"
    cfg.write_text(config_text)
    agent = Agent(AgentOptions(config=cfg, node_name=NODE, store=tmp_path / "agent.db", kubeconfig=str(kubeconfig)))
    stub = StubNode()
    await agent._start_kubernetes(stub)  # type: ignore[arg-type]
    try:
        await watching(kmock, "/api/v1/nodes")
        return stub, [r.url.path for r in list(kmock) if r.url.path == LISTED]
    finally:
        assert agent.kubernetes is not None
        await agent.kubernetes.stop()
        await agent.kubernetes.close()


async def test_the_agent_reads_no_node_config_resource_when_told_not_to(
    kmock: kmock.KubernetesEmulator, tmp_path: Path
) -> None:
    declare(kmock)
    await send(kmock, "POST", f"{NODECONFIGS}/namespaces/default/nodeconfigs", node_config(NODE, SPEC))
    ipam = "IPAMConfig: {NodeInterconnectCIDR: 192.168.16.0/24}\n"
    disabled, asked = await asyncio.wait_for(
        start_kubernetes(kmock, tmp_path, "CRDNodeConfigurationDisabled: true\n" + ipam), 10
    )
    assert asked == [] and disabled.view.applied == []
    # without the key a contiv.yaml file reads it, as v2.0 did: the startup resync applies it
    enabled, asked = await asyncio.wait_for(start_kubernetes(kmock, tmp_path, ipam), 10)
    assert asked and set(asked) == {LISTED}  # listed, and maybe watched already
    ((what, crd),) = enabled.view.applied
    assert what == "reconfigured" and crd.main_vpp_interface.interface_name == "GigabitEthernet0/9/0"


async def test_without_the_crd_kubernetes_starts_after_readiness(
    kmock: kmock.KubernetesEmulator, emu: Emulator, sockdir: Path, tmp_path: Path
) -> None:
    """Nothing of Kubernetes is needed before the startup resync then (no Services, no TCP stack): it comes later."""
    from tests.agent.support import API_DIR
    from tests.agent.test_metrics import free_port

    declare(kmock)
    kubeconfig = kubeconfig_for(kmock, tmp_path / "kubeconfig")
    cfg = tmp_path / "contiv.yaml"
    # TAP: the host end is the emulated VPP's, gone with it (a veth would stay in this namespace)
    cfg.write_text(
        "CRDNodeConfigurationDisabled: true\nUseTAPInterfaces: true\nTCPstackDisabled: true\n"
        "IPAMConfig: {NodeInterconnectCIDR: 192.168.16.0/24}\n"
    )
    agent = Agent(
        AgentOptions(
            config=cfg,
            node_name=NODE,
            store=tmp_path / "agent.db",
            vpp_socket=emu.socket_path,
            vpp_api_dir=API_DIR,
            cni_socket=str(sockdir / "cni.sock"),
            http=f"127.0.0.1:{free_port()}",
            kubeconfig=str(kubeconfig),
            no_services=True,
        )
    )
    await agent.start()
    try:
        assert agent.readiness()[0] and agent.kubernetes is None  # ready first
        await asyncio.wait_for(watching(kmock, "/api/v1/nodes"), 20)
        assert agent.kubernetes is not None and agent.api is not None and agent.api.kubernetes is agent.kubernetes
        await send(kmock, "POST", "/api/v1/nodes", node("node-b", "10.20.0.2"))

        async def known() -> bool:
            return agent.node is not None and "node-b" in agent.node.view.management_ips

        from tests.agent.support import eventually

        await eventually(known)
    finally:
        await agent.stop()
