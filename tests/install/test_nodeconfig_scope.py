"""The NodeConfig CRD is cluster-scoped (k8s/nodeconfig-crd.yaml): the agent reads such objects.

An API server serves a CRD in one scope only, so once the manifest says
``Cluster`` there are no namespaced NodeConfigs left to read; what is left
to check is that the agent's reflector finds the cluster-scoped object of
its node and hands its spec to the controller.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kmock

import tests.nodes.conftest  # noqa: F401  (kubernetes_asyncio's watch=True, which kmock needs fixed)
from contivctl.events import NodeConfigChanged
from contivctl.k8s.sources import KubernetesSources
from tests.nodes.k8s_support import NODECONFIGS, api_client_for, send, watching

NODE = "k8s-worker1"


async def test_a_cluster_scoped_node_config_reaches_the_controller(kmock: kmock.KubernetesEmulator) -> None:
    for r in ("v1/nodes", "v1/pods", "nodeconfig.contiv.vpp/v1/nodeconfigs"):
        kmock.resources[r] = {}
    events: asyncio.Queue[Any] = asyncio.Queue()
    src = KubernetesSources(api_client_for(kmock), NODE, events.put_nowait)
    src.start()
    try:
        await watching(kmock, f"{NODECONFIGS}/nodeconfigs")
        for name, gateway in (("someone-else", "10.9.9.9"), (NODE, "10.9.0.1")):
            obj = {
                "apiVersion": "nodeconfig.contiv.vpp/v1",
                "kind": "NodeConfig",
                "metadata": {"name": name},
                "spec": {"mainVPPInterface": {"interfaceName": "GigabitEthernet0/9/0"}, "gateway": gateway},
            }
            await send(kmock, "POST", f"{NODECONFIGS}/nodeconfigs", obj)
        async with asyncio.timeout(10):
            while not isinstance(ev := await events.get(), NodeConfigChanged):
                pass
        assert ev.node_config is not None and str(ev.node_config.gateway) == "10.9.0.1"
        found = src.node_config()
        assert found is not None and found.main_vpp_interface.interface_name == "GigabitEthernet0/9/0"
    finally:
        await src.stop()
        await src.close()
