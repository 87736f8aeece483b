"""The sweep against Kubernetes (kmock through a relay) on a node with real pod namespaces.

Nothing is taken for gone before the first complete pod list; afterwards
an attachment whose pod Kubernetes does not have (by UID) is removed, and
one whose pod is deleted goes at the next sweep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kmock
from kubernetes_asyncio import client

from contivctl.agent.sweep import Sweeper
from contivctl.events import AddPod, SweepResult
from contivctl.k8s.sources import KubernetesSources
from contivctl.model import PodRef
from contivctl.testing.vppemu import Emulator
from tests.agent.support import Pods, config, running_node
from tests.nodes.conftest import needs_root
from tests.nodes.k8s_support import Relay, send
from tests.nodes.support import NODE
from tests.nodes.test_k8s import declare
from tests.polling import until

pytestmark = needs_root


def pod(name: str, uid: str, node: str = NODE) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "uid": uid}, "spec": {"nodeName": node}}


def pod_lists(server: Any) -> int:
    return len([r for r in list(server) if r.url.path == "/api/v1/pods" and "watch" not in r.params])


async def test_the_sweep_waits_for_the_pod_list_then_removes_what_kubernetes_does_not_have(
    kmock: kmock.KubernetesEmulator, emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    declare(kmock)
    await send(kmock, "POST", "/api/v1/namespaces/default/pods", pod("web", "u-web"))
    await send(kmock, "POST", "/api/v1/namespaces/default/pods", pod("db", "u-db", node="node-b"))
    relay = Relay(kmock.url.host or "127.0.0.1", kmock.url.port or 80)
    await relay.start()
    await relay.cut()  # the API server is away when the agent starts
    api = client.ApiClient(client.Configuration(host=relay.url))
    async with running_node(emu, tmp_path / "store.db", config()) as node:
        src = KubernetesSources(api, NODE, node.controller.post)
        for r in src.reflectors():
            r._backoff = (0.02, 0.2)
        src.start()
        try:
            c = node.controller
            sweep = Sweeper(c.submit, c.ready, lambda: c.pods.attachments.values(), src)
            added = {}
            for name in ("web", "ghost", "db"):  # db: a pod of another node, as far as Kubernetes knows
                ev = AddPod(
                    container_id=pods.cid(),
                    ifname="eth0",
                    netns=pods.netns(),
                    pod=PodRef("default", name),
                    uid=f"u-{name}",
                )
                added[name] = (await c.submit(ev)).attachment

            assert await sweep.sweep() == SweepResult()  # no pod list yet: nobody is taken for gone
            assert len(c.pods) == 3

            await relay.resume()
            await until(lambda: src.pods_now() is not None)
            lists = pod_lists(kmock)
            result = await sweep.sweep()
            assert set(result.removed) == {(added["ghost"].key, "pod-gone"), (added["db"].key, "pod-gone")}
            assert pod_lists(kmock) == lists + 1  # confirmed by a list of its own
            assert [a.pod.name for a in c.pods.attachments.values()] == ["web"]

            await send(kmock, "DELETE", "/api/v1/namespaces/default/pods/web")
            await until(lambda: src.pod("default", "web") is None)
            assert await sweep.sweep() == SweepResult(removed=((added["web"].key, "pod-gone"),))
            assert len(c.pods) == 0 and len(c.pods.allocator) == 0
        finally:
            await src.stop()
            await src.close()
            await relay.cut()
