"""What a Contiv-VPP v2.0 peer needs of this node's etcd record: its management IPs; and v2.0's BVI MACs."""

from __future__ import annotations

import asyncio
import ipaddress
import types
from pathlib import Path

import attrs

from contivctl.agent.etcd import EtcdCluster
from contivctl.agent.options import AgentOptions
from contivctl.cluster.record import decode, id_key
from contivctl.config import parse_config
from contivctl.controller import NodeView
from contivctl.events import Event
from contivctl.ipam import node_setup
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.etcdconf import etcd_config
from contivctl.render import kernel as kernel_render
from contivctl.render import naming
from contivctl.render.inputs import VswitchInputs
from contivctl.testing.etcd import EtcdServer
from tests.cluster.conftest import wait_until

CFG = parse_config({"IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24"}})


def view(host_ips: tuple[str, ...] = ()) -> NodeView:
    setup = node_setup(CFG, "node-a", 3)
    inputs = VswitchInputs(eff=setup.eff, plan=setup.plan, host_ips=tuple(ipaddress.ip_address(i) for i in host_ips))
    return NodeView(inputs, kernel_render.RENDERERS)


async def record_of(store: EtcdStore, node_id: int) -> object:
    raw = await store.get(id_key(node_id))
    return None if raw is None else decode(raw, id_key(node_id))


async def test_the_record_carries_management_ips_and_follows_kubernetes(
    etcd: EtcdServer, store: EtcdStore, tmp_path: Path
) -> None:
    opts = AgentOptions(
        config=tmp_path / "unused.yaml", node_name="node-a", node_id=3, etcd=etcd_config([etcd.endpoint])
    )
    cluster = EtcdCluster(opts)
    v = view(host_ips=("10.20.0.3",))
    posted: list[Event] = []
    controller = types.SimpleNamespace(node_view=v, post=posted.append)
    await cluster.join(controller)  # type: ignore[arg-type]
    try:

        async def has(ips: tuple[str, ...]) -> bool:
            rec = await record_of(store, 3)
            return rec is not None and rec.management_ips == ips  # type: ignore[attr-defined]

        # before Kubernetes says anything: the host's own addresses
        await wait_until(lambda: has(("10.20.0.3",)))
        # Kubernetes reports this node's InternalIP/ExternalIP: those, in the record v2.0 peers read
        assert v.set_management_ips("node-a", ("10.20.0.30", "1.2.3.4")) == {}
        await wait_until(lambda: has(("10.20.0.30", "1.2.3.4")))
        rec = await record_of(store, 3)
        assert rec.ip_addresses == ("192.168.16.3/24",)  # type: ignore[attr-defined]
        # another node's management IPs are not ours
        v.set_management_ips("node-b", ("10.20.0.99",))
        await asyncio.sleep(0)
        assert await has(("10.20.0.30", "1.2.3.4"))
    finally:
        await cluster.leave()


def test_legacy_bvi_macs_are_v2_0s() -> None:
    assert naming.bvi_mac(5, legacy=True) == "1a:2b:3c:4d:5e:05"
    assert naming.bvi_mac(255, legacy=True) == "1a:2b:3c:4d:5e:ff"
    assert naming.bvi_mac(256, legacy=True) == naming.bvi_mac(256) == "12:2b:00:00:01:00"
    assert naming.bvi_mac(5) == "12:2b:00:00:00:05"


def test_legacy_bvi_macs_reach_the_renderers() -> None:
    from contivctl.model import NodeInfo
    from contivctl.render.remote import overlay_plan
    from contivctl.render.vpp.nodes import render_node, render_overlay_base

    legacy = attrs.evolve(CFG, legacy_bvi_macs=True)
    setup = node_setup(legacy, "node-a", 3)
    plan = overlay_plan(VswitchInputs(eff=setup.eff, plan=setup.plan))
    base = render_overlay_base(plan)
    assert base["vpp/interface/vxlanBVI"].mac == "1a:2b:3c:4d:5e:03"  # type: ignore[union-attr]
    peer = render_node(plan, NodeInfo(7, "node-g", ("192.168.16.7/24",)))
    assert peer["vpp/l2fib/vxlanBD/1a:2b:3c:4d:5e:07"] is not None
