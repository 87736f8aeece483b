"""Services in the VPP dataplane, checked through the emulator's NAT44 dumps."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from contivctl.controller import Controller
from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.events import AddPod, EndpointsUpdated, NodeUpdated, ServiceRemoved, ServiceUpdated
from contivctl.model import NodeInfo, PodRef
from contivctl.render import naming
from contivctl.testing.vppemu import Emulator
from tests.agent.support import Pods
from tests.nodes.support import HostSide, config
from tests.services.conftest import needs_root
from tests.services.support import endpoints, service, vpp_node

pytestmark = needs_root

TWICE_NAT, SELF_TWICE_NAT, OUT2IN_ONLY, INSIDE, OUTSIDE = 1, 2, 4, 32, 16
TAG = "contiv:svc"
NODE_A_IP, NODE_B_IP, NODE_B_MGMT = "192.168.16.5", "192.168.16.6", "10.20.0.6"
NODE_B = NodeInfo(id=6, name="node-b", ip_addresses=(f"{NODE_B_IP}/24",), management_ips=(NODE_B_MGMT,))
POD_VRF = 1


async def lb_mappings(vpp: VPPConnection) -> dict[tuple[str, int], Any]:
    return {(str(d.external_addr), int(d.external_port)): d for d in await vpp.dump("nat44_lb_static_mapping_dump")}


def locals_of(d: Any) -> set[tuple[str, int, int, int]]:
    return {(str(lo.addr), int(lo.port), int(lo.probability), int(lo.vrf_id)) for lo in d.locals}


async def service_statics(vpp: VPPConnection) -> dict[tuple[str, int], Any]:
    found = await vpp.dump("nat44_static_mapping_dump")
    return {(str(d.external_ip_address), int(d.external_port)): d for d in found if d.tag == TAG}


async def test_mappings_per_frontend_and_endpoint_changes(
    emu: Emulator, sockdir: Path, side: HostSide, pods: Pods
) -> None:
    cfg = config(ServiceLocalEndpointWeight=3)
    async with vpp_node(emu, sockdir / "a.db", cfg, side) as node:
        vpp, controller = node.vpp, node.controller
        plan = node.view.inputs.plan

        # what every mapping needs: the plugin, the NAT loopback for twice-NAT, the interfaces' roles
        pool = {(str(d.ip_address), int(d.flags)) for d in await vpp.dump("nat44_address_dump")}
        assert (str(plan.nat_loopback_ip), TWICE_NAT) in pool
        roles = {int(d.sw_if_index): int(d.flags) for d in await vpp.dump("nat44_interface_dump")}
        assert INSIDE | OUTSIDE in roles.values() and OUTSIDE in roles.values()

        pod = await controller.submit(
            AddPod(container_id=pods.cid(), ifname="eth0", netns=pods.netns(), pod=PodRef("default", "web-1"))
        )
        names = {d.tag: int(d.sw_if_index) for d in await vpp.dump("sw_interface_dump")}
        pod_if = names["contiv:" + naming.vpp_pod_if_name(pod.attachment.container_id, "eth0")]
        roles = {int(d.sw_if_index): int(d.flags) for d in await vpp.dump("nat44_interface_dump")}
        assert roles[pod_if] == INSIDE | OUTSIDE  # a pod is a client of services and an endpoint of one

        await controller.submit(NodeUpdated(node=NODE_B))
        local = str(pod.attachment.ip)
        svc = service(node_port=30080, external_ips=(ipaddress.ip_address("192.168.50.5"),), affinity_timeout=600)
        three = endpoints((local, "node-a"), ("10.1.6.2", "node-b"), ("10.1.6.3", "node-b"))
        await controller.submit(ServiceUpdated(service=svc))
        await controller.submit(EndpointsUpdated(slice=three))
        other = service("db", "10.96.0.20", 5432)
        await controller.submit(ServiceUpdated(service=other))
        await controller.submit(
            EndpointsUpdated(slice=endpoints(("10.1.6.7", "node-b"), ("10.1.6.8", "node-b"), service_name="db"))
        )

        found = await lb_mappings(vpp)
        frontends = {("10.96.0.10", 80), ("192.168.50.5", 80), (NODE_A_IP, 30080), (NODE_B_IP, 30080)}
        frontends |= {(NODE_B_MGMT, 30080), ("10.96.0.20", 5432)}
        assert set(found) == frontends
        expected = {(local, 8080, 3, POD_VRF), ("10.1.6.2", 8080, 1, POD_VRF), ("10.1.6.3", 8080, 1, POD_VRF)}
        for frontend in frontends - {("10.96.0.20", 5432)}:
            d = found[frontend]
            assert locals_of(d) == expected, frontend
            assert (d.protocol, int(d.affinity), d.tag) == (6, 600, TAG)
        # cluster IP: self-twice-NAT (a pod sent to itself); node port and external IP: twice-NAT
        assert int(found[("10.96.0.10", 80)].flags) == SELF_TWICE_NAT | OUT2IN_ONLY
        assert int(found[(NODE_A_IP, 30080)].flags) == TWICE_NAT | OUT2IN_ONLY
        assert int(found[("192.168.50.5", 80)].flags) == TWICE_NAT | OUT2IN_ONLY

        # one endpoint leaves: one in-place operation per frontend of that Service, nothing else
        web_keys = {k for k in controller.services.items[svc.ref] if k.startswith("vpp/nat44/lb/")}
        mark = node.last_seq()
        await controller.submit(EndpointsUpdated(slice=endpoints((local, "node-a"), ("10.1.6.3", "node-b"))))
        ops = node.ops_since(mark)
        assert sorted(ops) == sorted(("update", k) for k in web_keys)
        found = await lb_mappings(vpp)
        assert locals_of(found[("10.96.0.10", 80)]) == {(local, 8080, 3, POD_VRF), ("10.1.6.3", 8080, 1, POD_VRF)}
        untouched = {("10.1.6.7", 8080, 1, POD_VRF), ("10.1.6.8", 8080, 1, POD_VRF)}
        assert locals_of(found[("10.96.0.20", 5432)]) == untouched

        # one endpoint left: a plain static mapping of the same frontend
        await controller.submit(EndpointsUpdated(slice=endpoints(("10.1.6.3", "node-b"))))
        assert set(await lb_mappings(vpp)) == {("10.96.0.20", 5432)}
        statics = await service_statics(vpp)
        assert set(statics) == frontends - {("10.96.0.20", 5432)}
        d = statics[("10.96.0.10", 80)]
        assert (str(d.local_ip_address), int(d.local_port), int(d.vrf_id)) == ("10.1.6.3", 8080, POD_VRF)

        # no endpoint: no mapping; the cluster IP answers with ICMP unreachable (path type 5)
        await controller.submit(EndpointsUpdated(slice=endpoints()))
        assert await service_statics(vpp) == {}
        routes = await vpp.dump("ip_route_dump", table={"table_id": POD_VRF, "is_ip6": False})
        unreachable = {str(r.route.prefix) for r in routes if [int(p.type) for p in r.route.paths] == [5]}
        assert unreachable == {"10.96.0.10/32", "192.168.50.5/32", "10.96.0.20/32"}
        await controller.submit(EndpointsUpdated(slice=three))
        assert len(await lb_mappings(vpp)) == len(frontends)


async def test_restart_changes_no_mapping(emu: Emulator, sockdir: Path, side: HostSide) -> None:
    cfg = config()
    web = service(node_port=30080)
    single = service("one", "10.96.0.30", 53)
    slices = [
        endpoints(("10.1.6.2", "node-b"), ("10.1.5.9", "node-a")),
        endpoints(("10.1.6.4", "node-b"), service_name="one"),
    ]

    def known(controller: Controller) -> None:
        controller.node_view.set_node(NODE_B)
        for svc in (web, single):
            controller.services.set_service(svc)
        for sl in slices:
            controller.services.set_slice(sl)

    async with vpp_node(emu, sockdir / "a.db", cfg, side, before_resync=known, teardown=False) as node:
        assert len(await lb_mappings(node.vpp)) == 4  # the cluster IP, and both nodes' addresses
        assert len(await service_statics(node.vpp)) == 1
    async with vpp_node(emu, sockdir / "a.db", cfg, side, before_resync=known) as node:
        (record,) = [r for r in node.reconciler.history() if r.trigger == "startup resync"]
        assert [o.key for o in record.ops if o.key.startswith("vpp/nat44/")] == []
        await node.controller.submit(ServiceRemoved(ref=web.ref))
        assert await lb_mappings(node.vpp) == {}
        assert len(await service_statics(node.vpp)) == 1
