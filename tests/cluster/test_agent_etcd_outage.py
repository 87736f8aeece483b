"""The whole agent through an etcd outage and an etcd that lost its data (the real etcd-server).

While etcd is stopped, ADD and DEL arrive over the agent's CNI socket and
are answered, and the node stays ready; once etcd is back, a node joining
reaches the agent's VPP as a tunnel; after etcd lost every key, the agent
writes its record back under its own ID, so a node joining then gets
another one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contivctl.agent.cluster import cluster_node_id
from contivctl.cluster.nodeid import allocate_node_id
from contivctl.cluster.record import decode, id_key
from contivctl.errors import StoreError
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import etcd_config
from contivctl.testing.etcd import EtcdServer
from contivctl.testing.vppemu import Emulator
from tests.agent.inprocess import options, running_agent
from tests.agent.support import Pods, link_exists
from tests.cluster.conftest import MemoryStore, store_for, wait_until
from tests.cni.client import cni_call
from tests.nodes.support import NODE, tunnels
from tests.polling import until

if os.geteuid() != 0:
    pytest.skip("pod wiring tests need root", allow_module_level=True)


async def joins(etcd: EtcdServer, name: str, ip: str) -> int:
    other = store_for(etcd)
    try:
        return await allocate_node_id(other, MemoryStore(), name, ip_addresses=(f"{ip}/24",))
    finally:
        await other.close()


async def test_pods_are_served_through_an_etcd_outage_and_the_node_id_survives_data_loss(
    etcd: EtcdServer, store: EtcdStore, emu: Emulator, pods: Pods, sockdir: Path, tmp_path: Path
) -> None:
    opts = await cluster_node_id(
        options(
            emu,
            sockdir,
            tmp_path,
            etcd=etcd_config([etcd.endpoint], dial_timeout=0.5, op_timeout=0.5),
            allocate_node_id=True,
        )
    )
    async with running_agent(opts) as run:
        agent, vpp = run.agent, run.vpp
        my_id = agent.opts.node_id
        assert my_id == 1  # the first: the ID a newcomer would get if etcd forgot whose it is

        async def tunnel_to(ip: str) -> bool:
            return any(dst == ip for _s, dst, _v in (await tunnels(vpp)).values())

        await joins(etcd, "node-b", "192.168.16.9")
        await wait_until(lambda: tunnel_to("192.168.16.9"))

        etcd.stop()
        netns, cid = pods.netns(), pods.cid()
        added = await cni_call(agent.opts.cni_socket, "Add", cid, netns)
        assert added.result == 0 and added.interfaces[0].ip_addresses[0].address.startswith("10.1.")  # type: ignore[attr-defined]
        assert link_exists(netns, "eth0")
        assert agent.readiness() == (True, "ready")  # etcd away is no reason to turn pods away
        deleted = await cni_call(agent.opts.cni_socket, "Delete", cid, netns)
        assert deleted.result == 0  # type: ignore[attr-defined]
        await until(lambda: not link_exists(netns, "eth0"))
        assert len(agent.node.controller.pods.allocator) == 0  # type: ignore[union-attr]

        etcd.start()
        await joins(etcd, "node-c", "192.168.16.10")
        await wait_until(lambda: tunnel_to("192.168.16.10"), timeout=20)  # node events follow again

        etcd.wipe()

        async def mine_again() -> bool:
            try:
                raw = await store.get(id_key(my_id))
            except StoreError:
                return False
            return raw is not None and decode(raw).name == NODE

        await wait_until(mine_again, timeout=40)  # the publisher's periodic look at its record, at the latest
        newcomer = await joins(etcd, "node-d", "192.168.16.11")
        assert newcomer != my_id  # the smallest free ID is no longer ours
        assert agent.cluster.conflict is None and agent.readiness()[0]
