"""Two nodes, each with its own emulated VPP, meet through one etcd and build the overlay.

This is the whole path of a node joining and leaving: etcd records →
membership watch → node events → the controller's renderers → VXLAN
tunnels in VPP — and back when a node is removed from the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contivctl.cluster.admin import remove_node
from contivctl.cluster.membership import Membership
from contivctl.cluster.nodeid import allocate_node_id
from contivctl.kv.etcd import EtcdStore
from contivctl.model import NodeInfo
from contivctl.testing.etcd import EtcdServer
from contivctl.testing.vppemu import running_emulator
from tests.cluster.conftest import MemoryStore, store_for, wait_until
from tests.nodes.support import ClusterNode, config, host_side, running_node, tunnels

DHCP = {"IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24", "NodeInterconnectDHCP": True}}

if os.geteuid() != 0:
    pytest.skip("needs root (network namespaces, taps)", allow_module_level=True)


@contextlib.asynccontextmanager
async def member(
    name: str, etcd: EtcdServer, cluster: EtcdStore, work: Path, *, dhcp: bool = False
) -> AsyncIterator[ClusterNode]:
    """One node: its ID from etcd, its emulated VPP and host side, its controller, its membership.

    As in the agent, a change of the node's IP (a DHCP lease) is published to etcd.
    """
    node_id = await allocate_node_id(cluster, MemoryStore(), name)
    sock_dir = Path(tempfile.mkdtemp(prefix="ctl2n-", dir="/tmp"))
    try:
        async with (
            running_emulator(sock_dir, nics=["GigabitEthernet0/8/0"]) as emu,
            contextlib.AsyncExitStack() as stack,
        ):
            side = stack.enter_context(host_side())
            node = await stack.enter_async_context(
                running_node(emu, work / name / "agent.db", config(**(DHCP if dhcp else {})), side, node_id=node_id)
            )
            plan = node.view.inputs.plan
            me = NodeInfo(node_id, name, () if plan.node_ip is None else (str(plan.node_ip),))
            membership = Membership(store_for(etcd), me, node.controller.post)
            await membership.start()
            publishing: set[asyncio.Task[None]] = set()

            def publish(ip: object | None) -> None:
                task = asyncio.get_running_loop().create_task(membership.publish(() if ip is None else (str(ip),)))
                publishing.add(task)
                task.add_done_callback(publishing.discard)

            node.view.add_node_ip_listener(publish)
            try:
                yield node
            finally:
                await membership.stop()
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


async def test_two_nodes_build_tunnels_to_each_other_and_tear_them_down(
    etcd: EtcdServer, store: EtcdStore, tmp_path: Path
) -> None:
    async with member("node-a", etcd, store, tmp_path) as a:
        a_ip = str(a.view.inputs.plan.node_ip.ip)  # type: ignore[union-attr]

        async def a_tunnels_to(ip: str) -> bool:
            return any(dst == ip for _src, dst, _vni in (await tunnels(a.vpp)).values())

        async with member("node-b", etcd, store, tmp_path) as b:
            b_ip = str(b.view.inputs.plan.node_ip.ip)  # type: ignore[union-attr]
            assert a_ip != b_ip

            async def a_reaches_b() -> bool:
                return await a_tunnels_to(b_ip)

            async def b_reaches_a() -> bool:
                return any(dst == a_ip for _src, dst, _vni in (await tunnels(b.vpp)).values())

            await wait_until(a_reaches_b)
            await wait_until(b_reaches_a)
            assert {vni for _s, _d, vni in (await tunnels(a.vpp)).values()} == {10}

        # node-b is gone (its agent stopped, which keeps its ID); an operator removes it
        assert await a_tunnels_to(b_ip)
        await remove_node(store, "node-b")

        async def a_forgot_b() -> bool:
            return not await a_tunnels_to(b_ip)

        await wait_until(a_forgot_b)


async def test_a_dhcp_lease_is_published_and_the_other_node_reroutes(
    etcd: EtcdServer, store: EtcdStore, tmp_path: Path
) -> None:
    async with (
        member("node-a", etcd, store, tmp_path) as a,
        member("node-b", etcd, store, tmp_path, dhcp=True) as b,
    ):
        assert b.view.inputs.plan.node_ip is None
        nic = next(d for d in await b.vpp.dump("sw_interface_dump") if d.interface_name == "GigabitEthernet0/8/0")
        for leased in ("192.168.16.77", "192.168.16.78"):
            b.emu.dhcp_lease(int(nic.sw_if_index), f"{leased}/24", "192.168.16.1")

            async def a_tunnels_to_lease(ip: str = leased) -> bool:
                return any(dst == ip for _src, dst, _vni in (await tunnels(a.vpp)).values())

            await wait_until(a_tunnels_to_lease)
        a_to_b = [dst for _src, dst, _vni in (await tunnels(a.vpp)).values()]
        assert "192.168.16.77" not in a_to_b  # re-routed, not added beside the old one
