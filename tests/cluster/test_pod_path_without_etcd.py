"""etcd stopped under a running node: pods are still wired and unwired; the record follows when etcd is back.

A real controller with the VPP emulator and real network namespaces (the
harness of tests/agent), the node ID claimed as the agent claims it, and a
running Membership. Nothing on the pod path may wait for etcd.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contivctl.cluster.membership import Membership
from contivctl.cluster.nodeid import claim_node_id
from contivctl.cluster.record import decode, id_key
from contivctl.errors import StoreError
from contivctl.events import Event
from contivctl.kv.etcdwatch import RetryDelay
from contivctl.kv.local import LocalStore
from contivctl.model import NodeInfo
from contivctl.testing.etcd import EtcdServer
from contivctl.testing.vppemu import Emulator
from tests.agent.support import NODE, Pods, config, link_exists, make_node, stop_node
from tests.cluster.conftest import store_for, wait_until
from tests.polling import until

if os.geteuid() != 0:
    pytest.skip("pod wiring tests need root", allow_module_level=True)


async def test_pods_are_wired_while_etcd_is_down(etcd: EtcdServer, emu: Emulator, pods: Pods, sockdir: Path) -> None:
    store_path = sockdir / "agent.db"
    local = await LocalStore.open(store_path)
    cluster = store_for(etcd)
    try:
        claim = await claim_node_id(cluster, local, NODE)
    finally:
        await cluster.close()
        await local.close()
    assert claim.confirmed
    node = await make_node(emu, store_path, config(), node_id=claim.id)
    posted: list[Event] = []
    member = Membership(
        store_for(etcd, dial=0.5, op=0.5), NodeInfo(claim.id, NODE), posted.append, retry=RetryDelay(0.02, 0.2)
    )
    await member.start()
    try:
        await member.wait_published()
        etcd.stop()

        # A restart now would start with the remembered ID.
        unreachable = store_for(etcd, dial=0.3, op=0.3)
        try:
            again = await claim_node_id(unreachable, node.store, NODE)
        finally:
            await unreachable.close()
        assert (again.id, again.confirmed) == (claim.id, False)

        # The pod path: ADD, a second ADD, DEL, all answered without etcd.
        netns = pods.netns()
        first = await node.add(pods.cid(), netns)
        second = await node.add(pods.cid(), pods.netns())
        assert first.attachment.ip != second.attachment.ip
        assert link_exists(netns, "eth0")
        await node.delete(first.attachment.container_id)
        await until(lambda: not link_exists(netns, "eth0"))

        await member.publish(["192.168.16.5/24"])  # returns at once, lands later
        etcd.start()
        await member.wait_published()

        async def republished() -> bool:
            try:
                raw = await member.store.get(id_key(claim.id))
            except StoreError:
                return False
            return raw is not None and decode(raw, id_key(claim.id)).ip_addresses == ("192.168.16.5/24",)

        await wait_until(republished)
    finally:
        await member.stop()
        await member.store.close()
        await stop_node(node)
