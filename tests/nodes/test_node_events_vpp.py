"""Node events through the controller: exactly the node's VPP items appear, change and disappear."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

from contivctl.events import DhcpLeased, NodeRemoved, NodeUpdated
from contivctl.items.vpp import interface_key
from contivctl.model import DhcpLease, NodeInfo
from contivctl.testing.vppemu import Emulator
from tests.agent.support import eventually, vpp_interfaces, vpp_neighbours
from tests.nodes.conftest import needs_root
from tests.nodes.support import HostSide, config, routes, running_node, tunnels

pytestmark = needs_root

N2 = NodeInfo(2, "node-b", ("192.168.16.2/24",), ("10.20.0.2",))
N3 = NodeInfo(3, "node-c", ("192.168.16.3/24",))


async def l2fib(node: object) -> set[str]:
    return {str(e.mac) for e in await node.vpp.dump("l2_fib_table_dump", bd_id=1)}  # type: ignore[attr-defined]


async def test_vxlan_join_change_leave(emu: Emulator, sockdir: Path, side: HostSide) -> None:
    async with running_node(emu, sockdir / "a.db", config(), side) as node:
        c = node.controller
        await c.submit(NodeUpdated(node=N2))
        await c.submit(NodeUpdated(node=N3))
        assert await tunnels(node.vpp) == {
            "vxlan2": ("192.168.16.5", "192.168.16.2", 10),
            "vxlan3": ("192.168.16.5", "192.168.16.3", 10),
        }
        pod_routes = await routes(node.vpp, 1)
        assert pod_routes["10.1.2.0/24"] == {"192.168.30.2"}
        assert pod_routes["172.30.2.0/24"] == {"192.168.30.2"}
        assert pod_routes["10.20.0.2/32"] == {"192.168.30.2"}
        assert pod_routes["10.1.3.0/24"] == {"192.168.30.3"}
        assert "10.20.0.2/32" in await routes(node.vpp, 0)  # main → pod lookup for the management IP
        assert await l2fib(node) == {"12:2b:00:00:00:02", "12:2b:00:00:00:03"}
        bvi = (await vpp_interfaces(node.vpp))["vxlanBVI"]
        neigh = {(ip, mac) for idx, ip, mac in await vpp_neighbours(node.vpp) if idx == bvi.sw_if_index}
        assert neigh == {("192.168.30.2", "12:2b:00:00:00:02"), ("192.168.30.3", "12:2b:00:00:00:03")}

        # Node 2 moves: only its tunnel is replaced, node 3 is not touched.
        before = len(node.reconciler.history())
        await c.submit(NodeUpdated(node=NodeInfo(2, "node-b", ("192.168.16.12/24",), ("10.20.0.2",))))
        assert (await tunnels(node.vpp))["vxlan2"] == ("192.168.16.5", "192.168.16.12", 10)
        touched = {op.key for r in node.reconciler.history()[before:] for op in r.ops}
        assert any(k.endswith("/vxlan2") for k in touched)
        assert not any("vxlan3" in k or "10.1.3.0" in k or "192.168.30.3" in k for k in touched), touched

        # Node 2 leaves (Kubernetes knows it by name only).
        await c.submit(NodeRemoved(node_id=0, node_name="node-b"))
        assert set(await tunnels(node.vpp)) == {"vxlan3"}
        pod_routes = await routes(node.vpp, 1)
        assert "10.1.2.0/24" not in pod_routes and "10.20.0.2/32" not in pod_routes
        assert "10.1.3.0/24" in pod_routes
        assert await l2fib(node) == {"12:2b:00:00:00:03"}


async def test_l2_mode_routes_via_node_ip(emu: Emulator, sockdir: Path, side: HostSide) -> None:
    async with running_node(emu, sockdir / "a.db", config(UseL2Interconnect=True), side) as node:
        await node.controller.submit(NodeUpdated(node=N2))
        main = await routes(node.vpp, 0)
        assert main["10.1.2.0/24"] == {"192.168.16.2"}
        assert main["172.30.2.0/24"] == {"192.168.16.2"}
        assert main["10.20.0.2/32"] == {"192.168.16.2"}
        assert await tunnels(node.vpp) == {}
        assert "vxlanBVI" not in await vpp_interfaces(node.vpp)
        await node.controller.submit(NodeRemoved(node_id=2))
        assert "10.1.2.0/24" not in await routes(node.vpp, 0)


async def test_dhcp_lease_sets_node_ip_and_reroutes(emu: Emulator, sockdir: Path, side: HostSide) -> None:
    cfg = config(IPAMConfig={"NodeInterconnectDHCP": True})
    async with running_node(emu, sockdir / "a.db", cfg, side) as node:
        seen: asyncio.Queue[object] = asyncio.Queue()
        node.view.add_node_ip_listener(seen.put_nowait)
        assert node.view.node_ip is None
        await node.controller.submit(NodeUpdated(node=N2))
        assert await tunnels(node.vpp) == {}  # no own address yet: no tunnel

        nic = (await vpp_interfaces(node.vpp))["GigabitEthernet0/8/0"]
        clients = await node.vpp.dump("dhcp_client_dump")
        assert [int(d.client.sw_if_index) for d in clients] == [nic.sw_if_index]
        emu.dhcp_lease(nic.sw_if_index, "192.168.16.77/24", "192.168.16.1")
        assert str(await asyncio.wait_for(seen.get(), 10)) == "192.168.16.77/24"

        async def rerouted() -> bool:
            return (await tunnels(node.vpp)).get("vxlan2") == ("192.168.16.77", "192.168.16.2", 10)

        await eventually(rerouted)
        assert str(node.view.inputs.dhcp_gateway) == "192.168.16.1"

        # A new lease with another address moves the tunnel's source again.
        emu.dhcp_lease(nic.sw_if_index, "192.168.16.78/24", "192.168.16.1")
        assert str(await asyncio.wait_for(seen.get(), 10)) == "192.168.16.78/24"
        await eventually(lambda: _src_is(node, "192.168.16.78"))


async def _src_is(node: object, src: str) -> bool:
    return (await tunnels(node.vpp)).get("vxlan2", ("",))[0] == src  # type: ignore[attr-defined]


async def test_lease_ignored_with_static_ip(emu: Emulator, sockdir: Path, side: HostSide) -> None:
    async with running_node(emu, sockdir / "a.db", config(), side) as node:
        main = node.reconciler.metadata(interface_key("GigabitEthernet0/8/0"))
        lease = DhcpLease(main, ipaddress.IPv4Interface("192.168.16.99/24"), ipaddress.IPv4Address("192.168.16.1"))
        await node.controller.submit(DhcpLeased(lease=lease))
        assert str(node.view.node_ip) == "192.168.16.5/24"
