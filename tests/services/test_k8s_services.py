"""Services and EndpointSlices through the Kubernetes watch (kmock: a real HTTP server)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import kmock

from contivctl.events import EndpointsRemoved, EndpointsUpdated, Post, ServiceRemoved, ServiceUpdated
from contivctl.k8s.sources import KubernetesSources
from contivctl.model import Endpoint, EndpointPort, ServicePort, ServiceRef
from contivctl.testing.vppemu import Emulator
from tests.nodes.k8s_support import api_client_for, send, watching
from tests.nodes.support import HostSide, config
from tests.polling import until
from tests.services.conftest import needs_root
from tests.services.support import vpp_node

NODE = "node-a"
RESOURCES = (
    "v1/nodes",
    "v1/pods",
    "nodeconfig.contiv.vpp/v1/nodeconfigs",
    "v1/services",
    "discovery.k8s.io/v1/endpointslices",
)
SERVICES = "/api/v1/namespaces/default/services"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"


class Posted:
    def __init__(self) -> None:
        self.events: asyncio.Queue[Any] = asyncio.Queue()

    def post(self, event: Any) -> None:
        self.events.put_nowait(event)

    async def next(self, timeout: float = 10.0) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                ev = await self.events.get()
                if isinstance(ev, ServiceUpdated | ServiceRemoved | EndpointsUpdated | EndpointsRemoved):
                    return ev


@contextlib.asynccontextmanager
async def sources(server: Any, post: Post) -> AsyncIterator[KubernetesSources]:
    for r in RESOURCES:
        server.resources[r] = {}
    src = KubernetesSources(api_client_for(server), NODE, post, services=True)
    src.start()
    try:
        await watching(server, "/api/v1/services")
        await watching(server, "/apis/discovery.k8s.io/v1/endpointslices")
        yield src
    finally:
        await src.stop()
        await src.close()


def svc_object(name: str = "web", **spec: Any) -> dict[str, Any]:
    body = {
        "type": "NodePort",
        "clusterIP": "10.96.0.10",
        "clusterIPs": ["10.96.0.10"],
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}],
    }
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": body}


def slice_object(name: str, *endpoints: tuple[str, str, bool | None], service: str = "web") -> dict[str, Any]:
    eps = []
    for ip, node, ready in endpoints:
        ep: dict[str, Any] = {"addresses": [ip], "nodeName": node}
        if ready is not None:
            ep["conditions"] = {"ready": ready}
        eps.append(ep)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": eps,
        "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
    }


async def test_services_and_endpoint_slices(kmock: kmock.KubernetesEmulator) -> None:
    posted = Posted()
    async with sources(kmock, posted.post):
        await send(
            kmock,
            "POST",
            SERVICES,
            svc_object(externalTrafficPolicy="Local", sessionAffinity="ClientIP", externalIPs=["192.168.5.5"]),
        )
        ev = await posted.next()
        assert isinstance(ev, ServiceUpdated)
        svc = ev.service
        assert svc.ref == ServiceRef("default", "web")
        assert svc.cluster_ips == (ipaddress.ip_address("10.96.0.10"),)
        assert svc.external_ips == (ipaddress.ip_address("192.168.5.5"),)
        assert svc.ports == (ServicePort("http", "TCP", 80, 8080, 30080),)
        assert (svc.external_local, svc.affinity_timeout) == (True, 10800)

        ready = ("10.1.1.2", NODE, True)
        unknown = ("10.1.2.2", "node-b", None)
        not_ready = ("10.1.3.2", "node-c", False)
        await send(kmock, "POST", SLICES, slice_object("web-abc", ready, unknown, not_ready))
        ev = await posted.next()
        assert isinstance(ev, EndpointsUpdated)
        assert ev.slice.service_ref == svc.ref
        assert ev.slice.ports == (EndpointPort("http", "TCP", 8080),)
        assert ev.slice.endpoints == (  # only those ready to serve; an unknown condition counts as ready
            Endpoint(ipaddress.ip_address("10.1.1.2"), NODE),
            Endpoint(ipaddress.ip_address("10.1.2.2"), "node-b"),
        )

        await send(kmock, "DELETE", f"{SLICES}/web-abc")
        ev = await posted.next()
        assert isinstance(ev, EndpointsRemoved)
        assert (ev.namespace, ev.name) == ("default", "web-abc")

        await send(kmock, "DELETE", f"{SERVICES}/web")
        ev = await posted.next()
        assert isinstance(ev, ServiceRemoved)
        assert ev.ref == svc.ref


async def test_headless_and_external_name_services_are_not_forwarded(kmock: kmock.KubernetesEmulator) -> None:
    posted = Posted()
    async with sources(kmock, posted.post):
        await send(kmock, "POST", SERVICES, svc_object("headless", type="ClusterIP", clusterIP="None", clusterIPs=None))
        await send(kmock, "POST", SERVICES, {**svc_object("ext"), "spec": {"type": "ExternalName"}})
        plain = svc_object("plain", type="ClusterIP", clusterIP="10.96.0.11", clusterIPs=None)
        await send(kmock, "POST", SERVICES, plain)
        ev = await posted.next()
        assert isinstance(ev, ServiceUpdated)
        assert ev.service.ref.name == "plain"  # the two before posted nothing
        assert ev.service.ports[0].node_port == 0  # a ClusterIP Service opens no node port
        assert posted.events.empty()


@needs_root
async def test_from_the_api_server_to_vpp(
    kmock: kmock.KubernetesEmulator, emu: Emulator, sockdir: Path, side: HostSide
) -> None:
    """The whole path: kmock → reflectors → events → the service view → NAT44 mappings in (emulated) VPP."""
    async with vpp_node(emu, sockdir / "a.db", config(), side) as node, sources(kmock, node.controller.post):

        async def mapped() -> set[tuple[str, int]]:
            found = await node.vpp.dump("nat44_lb_static_mapping_dump")
            return {(str(d.external_addr), int(d.external_port)) for d in found}

        await send(kmock, "POST", SERVICES, svc_object())
        endpoints = (("10.1.5.2", NODE, True), ("10.1.6.2", "node-b", True))
        await send(kmock, "POST", SLICES, slice_object("web-abc", *endpoints))
        await until(lambda: mapped_now(mapped, {("10.96.0.10", 80), ("192.168.16.5", 30080)}))
        await send(kmock, "DELETE", f"{SERVICES}/web")
        await until(lambda: mapped_now(mapped, set()))


async def mapped_now(read: Callable[[], Awaitable[set[tuple[str, int]]]], want: set[tuple[str, int]]) -> bool:
    return await read() == want
