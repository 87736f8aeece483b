"""Kubernetes sources against kmock (a real HTTP server) through kubernetes_asyncio."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kmock
from kubernetes_asyncio import client

from contivctl.events import ManagementIPsChanged, NodeRemoved, NodeUpdated, Post
from contivctl.k8s.reflector import Reflector
from contivctl.k8s.sources import KubernetesSources
from contivctl.model import NodeInfo
from contivctl.testing.vppemu import Emulator
from tests.agent.support import Pods, eventually, vpp_interfaces
from tests.nodes.conftest import needs_root
from tests.nodes.k8s_support import (
    NODECONFIGS,
    Relay,
    api_client_for,
    gone,
    node,
    node_config,
    send,
    watching,
)
from tests.nodes.support import NODE, HostSide, config, routes, running_node, tunnels
from tests.polling import until

RESOURCES = ("v1/nodes", "v1/pods", "nodeconfig.contiv.vpp/v1/nodeconfigs")


def declare(server: Any) -> None:
    for r in RESOURCES:
        server.resources[r] = {}


class Posted:
    """Stands in for the controller where only the posted events matter."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[Any] = asyncio.Queue()

    def post(self, event: Any) -> None:
        self.events.put_nowait(event)

    async def next(self, kind: type, timeout: float = 10.0) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                ev = await self.events.get()
                if isinstance(ev, kind):
                    return ev


@contextlib.asynccontextmanager
async def sources(server: Any, post: Post) -> AsyncIterator[KubernetesSources]:
    src = KubernetesSources(api_client_for(server), NODE, post)
    src.start()
    try:
        yield src
    finally:
        await src.stop()
        await src.close()


def versioned(obj: dict[str, Any], version: str) -> dict[str, Any]:
    """``obj`` at resourceVersion ``version`` (kmock keeps what it is given and versions nothing itself)."""
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": version}}


async def test_relist_after_410(kmock: kmock.KubernetesEmulator) -> None:
    declare(kmock)
    seen: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()

    async def on_change(key: str, old: Any, new: Any) -> None:
        seen.put_nowait((key, new is not None))

    api = api_client_for(kmock)
    reflector = Reflector("nodes", client.CoreV1Api(api).list_node, on_change)
    task = asyncio.create_task(reflector.run())
    try:
        first = await watching(kmock, "/api/v1/nodes")
        await send(kmock, "POST", "/api/v1/nodes", versioned(node("node-b", "10.20.0.2"), "5"))
        assert await asyncio.wait_for(seen.get(), 10) == ("node-b", True)
        assert (reflector.lists, reflector.version) == (1, "5")
        await gone(kmock, first)
        second = await watching(kmock, "/api/v1/nodes", count=2)
        assert reflector.lists == 2  # a fresh list, not the client's retry with the stale version
        assert second.params.get("resourceVersion") == "..."  # the new list's version, not the expired 5
        assert set(reflector.cache) == {"node-b"}
        assert seen.empty()  # the re-list found nothing new
        await send(kmock, "DELETE", "/api/v1/nodes/node-b")
        assert await asyncio.wait_for(seen.get(), 10) == ("node-b", False)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await api.close()


async def test_a_watch_resumes_from_the_last_version_after_the_api_server_was_away(
    kmock: kmock.KubernetesEmulator,
) -> None:
    declare(kmock)
    relay = Relay(kmock.url.host or "127.0.0.1", kmock.url.port or 80)
    await relay.start()
    seen: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()

    async def on_change(key: str, old: Any, new: Any) -> None:
        seen.put_nowait((key, new is not None))

    api = client.ApiClient(client.Configuration(host=relay.url))
    reflector = Reflector("nodes", client.CoreV1Api(api).list_node, on_change, backoff=(0.02, 0.2))
    task = asyncio.create_task(reflector.run())
    try:
        await watching(kmock, "/api/v1/nodes")
        await send(kmock, "POST", "/api/v1/nodes", versioned(node("node-b", "10.20.0.2"), "41"))
        assert await asyncio.wait_for(seen.get(), 10) == ("node-b", True)
        await until(lambda: reflector.watching)
        await relay.cut()
        await until(lambda: bool(reflector.last_error) and not reflector.watching)
        await relay.resume()
        resumed = await watching(kmock, "/api/v1/nodes", count=2)
        assert resumed.params.get("resourceVersion") == "41"  # from where it was, not from a new list
        assert reflector.lists == 1
        await until(lambda: reflector.watching and not reflector.last_error)
        assert seen.empty()  # what the resumed watch replayed was known already
        await send(kmock, "POST", "/api/v1/nodes", versioned(node("node-c", "10.20.0.3"), "42"))
        assert await asyncio.wait_for(seen.get(), 10) == ("node-c", True)
        assert reflector.version == "42"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await api.close()
        await relay.cut()


async def test_node_objects_and_deletion_hook(kmock: kmock.KubernetesEmulator) -> None:
    declare(kmock)
    posted = Posted()
    removed: list[str] = []

    async def forget(name: str) -> None:
        removed.append(name)

    async with sources(kmock, posted.post) as src:
        src.register_node_removal_hook(forget)
        await watching(kmock, "/api/v1/nodes")
        await send(kmock, "POST", "/api/v1/nodes", node("node-b", "10.20.0.2", "10.20.0.2"))
        ev = await posted.next(ManagementIPsChanged)
        assert (ev.node_name, ev.ips) == ("node-b", ("10.20.0.2",))
        await send(kmock, "DELETE", "/api/v1/nodes/node-b")
        ev = await posted.next(NodeRemoved)
        assert ev.node_name == "node-b"
        assert removed == ["node-b"]  # the hook ran before the event was posted


async def test_pods_of_this_node(kmock: kmock.KubernetesEmulator) -> None:
    declare(kmock)
    async with sources(kmock, Posted().post) as src:
        assert src.pod_exists("default", "web") is None  # not listed yet: unknown
        await watching(kmock, "/api/v1/pods")
        pod = {
            "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "labels": {"ldpreload": "true"}},
            "spec": {"nodeName": NODE},
        }
        other = {"metadata": {"name": "db", "namespace": "default", "uid": "u-2"}, "spec": {"nodeName": "node-b"}}
        await send(kmock, "POST", "/api/v1/namespaces/default/pods", pod)
        await send(kmock, "POST", "/api/v1/namespaces/default/pods", other)

        async def listed() -> bool:
            return src.pod("default", "web") is not None

        await eventually(listed)
        info = src.pod("default", "web")
        assert info is not None and (info.uid, info.labels) == ("u-1", {"ldpreload": "true"})
        assert src.pod_exists("default", "db") is False  # on another node
        await send(kmock, "DELETE", "/api/v1/namespaces/default/pods/web")

        async def deleted() -> bool:
            return src.pod_exists("default", "web") is False

        await eventually(deleted)


async def test_pod_labels_from_the_index_else_from_the_api_server(kmock: kmock.KubernetesEmulator) -> None:
    """An ADD asks for its pod's labels: the watch mostly has them, a read covers a pod it has not brought yet."""
    from contivctl.model import PodRef

    declare(kmock)
    async with sources(kmock, Posted().post) as src:
        await watching(kmock, "/api/v1/pods")
        here = {
            "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "labels": {"ldpreload": "true"}},
            "spec": {"nodeName": NODE},
        }
        await send(kmock, "POST", "/api/v1/namespaces/default/pods", here)

        async def listed() -> bool:
            return src.pod("default", "web") is not None

        await eventually(listed)
        assert await src.pod_labels(PodRef("default", "web")) == {"ldpreload": "true"}
        # not in the index (bound elsewhere, as a pod the watch has not brought looks): read from the API
        elsewhere = {
            "metadata": {"name": "db", "namespace": "default", "uid": "u-2", "labels": {"app": "db"}},
            "spec": {"nodeName": "node-b"},
        }
        await send(kmock, "POST", "/api/v1/namespaces/default/pods", elsewhere)
        assert await src.pod_labels(PodRef("default", "db")) == {"app": "db"}
        assert any(r.url.path == "/api/v1/namespaces/default/pods/db" for r in list(kmock))
        assert await src.pod_labels(PodRef("default", "nobody")) is None  # 404: not known


@needs_root
async def test_node_config_applied_changed_deleted(
    kmock: kmock.KubernetesEmulator, emu: Emulator, sockdir: Path, side: HostSide
) -> None:
    declare(kmock)
    path = f"{NODECONFIGS}/namespaces/default/nodeconfigs"
    async with (
        running_node(emu, sockdir / "a.db", config(), side) as n,
        sources(kmock, n.controller.post),
    ):
        await watching(kmock, f"{NODECONFIGS}/nodeconfigs")
        spec = {
            "mainVPPInterface": {"interfaceName": "GigabitEthernet0/9/0", "ip": "10.9.0.5/24"},
            "gateway": "10.9.0.1",
        }
        await send(kmock, "POST", path, node_config(NODE, spec))
        await send(kmock, "POST", path, node_config("someone-else", {"gateway": "10.9.9.9"}))

        async def main_is(nic: str, address: str, gw: str | None) -> bool:
            ifs = await vpp_interfaces(n.vpp)
            if nic not in ifs:
                return False
            found = await n.vpp.dump("ip_address_dump", sw_if_index=ifs[nic].sw_if_index, is_ipv6=False)
            default = (await routes(n.vpp, 0)).get("0.0.0.0/0", set())
            return {str(a.prefix) for a in found} == {address} and (gw in default if gw else not default - {"0.0.0.0"})

        await eventually(lambda: main_is("GigabitEthernet0/9/0", "10.9.0.5/24", "10.9.0.1"))
        assert "GigabitEthernet0/8/0" not in await vpp_interfaces(n.vpp)  # the old main NIC is released

        await send(kmock, "PATCH", f"{path}/{NODE}", {"spec": {"gateway": "10.9.0.254"}})
        await eventually(lambda: main_is("GigabitEthernet0/9/0", "10.9.0.5/24", "10.9.0.254"))

        await send(kmock, "DELETE", f"{path}/{NODE}")
        await eventually(lambda: main_is("GigabitEthernet0/8/0", "192.168.16.5/24", None))
        assert "GigabitEthernet0/9/0" not in await vpp_interfaces(n.vpp)
        assert n.view.inputs.eff.source == "none"


@needs_root
async def test_api_server_gone_pods_still_wired(
    kmock: kmock.KubernetesEmulator, emu: Emulator, sockdir: Path, side: HostSide
) -> None:
    declare(kmock)
    relay = Relay(kmock.url.host or "127.0.0.1", kmock.url.port or 80)
    await relay.start()
    try:
        async with running_node(emu, sockdir / "a.db", config(UseTAPInterfaces=False), side) as n:
            api = client.ApiClient(client.Configuration(host=relay.url))
            src = KubernetesSources(api, NODE, n.controller.post)
            src.start()
            try:
                await watching(kmock, "/api/v1/nodes")
                await relay.cut()

                async def noticed() -> bool:
                    return bool(src.nodes.last_error)

                await eventually(noticed)
                pods = Pods()
                try:
                    result = await n.add(pods.cid(), pods.netns())
                    assert str(result.attachment.ip).startswith("10.1.5.")
                    await n.controller.submit(NodeUpdated(node=NodeInfo(2, "node-b", ("192.168.16.2/24",))))
                    assert "vxlan2" in await tunnels(n.vpp)
                finally:
                    pods.cleanup()
            finally:
                await src.stop()
                await src.close()
    finally:
        await relay.cut()
