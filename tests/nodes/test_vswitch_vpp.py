"""The vswitch base config applied to the emulator and real namespaces, read back with dumps and netlink."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import attrs
import pytest

from contivctl.controller.nodes import item_changes
from contivctl.render.vpp.base import render_vswitch_base
from contivctl.testing.vppemu import Emulator
from tests.agent.support import vpp_interfaces
from tests.nodes.conftest import needs_root
from tests.nodes.support import HostSide, config, ip_json, routes, running_node

pytestmark = needs_root


@pytest.mark.parametrize("tap", [True, False], ids=["tap", "veth"])
async def test_host_interconnect_and_main_nic(emu: Emulator, sockdir: Path, side: HostSide, tap: bool) -> None:
    cfg = config(UseTAPInterfaces=tap, RouteServiceCIDRToVPP=True)
    async with running_node(emu, sockdir / "a.db", cfg, side) as node:
        ifs = await vpp_interfaces(node.vpp)
        vpp_if = "tap-vpp2" if tap else "afpacket-vpp2"
        assert {vpp_if, "GigabitEthernet0/8/0", "vxlanBVI"} <= set(ifs)
        assert "GigabitEthernet0/9/0" not in ifs  # not configured: not touched
        mac = str(ifs[vpp_if].l2_address)
        assert mac == "12:3c:00:00:00:05"
        addrs = {
            str(a.prefix)
            for a in await node.vpp.dump("ip_address_dump", sw_if_index=ifs[vpp_if].sw_if_index, is_ipv6=False)
        }
        assert addrs == {"172.30.5.1/24"}
        nic_addrs = {
            str(a.prefix)
            for a in await node.vpp.dump(
                "ip_address_dump", sw_if_index=ifs["GigabitEthernet0/8/0"].sw_if_index, is_ipv6=False
            )
        }
        assert nic_addrs == {"192.168.16.5/24"}

        link = ip_json(side.name, "addr", "show", side.host_if)
        assert link, "host end of the interconnect is missing"
        assert {(a["local"], a["prefixlen"]) for a in link[0]["addr_info"] if a["family"] == "inet"} == {
            ("172.30.5.2", 24)
        }
        host_routes = {r["dst"]: r.get("gateway") for r in ip_json(side.name, "route", "show", "proto", "199")}
        assert host_routes == {"10.1.0.0/16": "172.30.5.1", "10.96.0.0/12": "172.30.5.1"}

        # Nothing left to do: a full resync of the same view plans no operation on our items.
        # (Only ours: the host namespace is shared with whatever else runs on the machine.)
        desired = node.controller.desired()
        record = await node.reconciler.resync_full(desired, trigger="check")
        assert [op for op in record.ops if op.key in desired] == []


async def test_routes_to_host_addresses(emu: Emulator, sockdir: Path, side: HostSide) -> None:
    async with running_node(emu, sockdir / "a.db", config(), side) as node:
        inputs = attrs.evolve(node.view.inputs, host_ips=(ipaddress.IPv4Address("10.77.0.5"),))
        changes = item_changes(node.view.base_items, render_vswitch_base(inputs))
        assert set(changes) == {"vpp/route/0/10.77.0.5/32"}
        await node.reconciler.apply(changes)
        assert "172.30.5.2" in (await routes(node.vpp, 0))["10.77.0.5/32"]


async def test_switching_the_interconnect_from_veth_to_tap_across_a_restart(
    emu: Emulator, sockdir: Path, side: HostSide
) -> None:
    """The TAP's host end takes the name the veth frees: it is created after the veth is gone, in one resync."""
    from contivctl.agent.node import assemble
    from contivctl.agent.vpp import HostStack, VppParts
    from contivctl.dataplane.vpp.connection import Backoff, VPPConnection
    from contivctl.kv.local import LocalStore
    from contivctl.reconcile import ItemState
    from tests.agent.support import API_DIR

    store_path = sockdir / "a.db"
    host = HostStack(netns=side.path, host_if=side.host_if, vswitch_if=side.vswitch_if)

    async def start(tap: bool):  # type: ignore[no-untyped-def]
        vpp = VPPConnection(emu.socket_path, api_dir=API_DIR, timeout=2.0, backoff=Backoff(initial=0.01, maximum=0.1))
        parts = VppParts(vpp, scope=str(store_path), state_dir=store_path.parent, host=host, wait=5)
        store = await LocalStore.open(store_path)
        built = await assemble(parts, config(UseTAPInterfaces=tap), "node-a", 5, store)
        await built.controller.start()
        return built, vpp, store

    veth_node, vpp, store = await start(tap=False)
    assert ip_json(side.name, "link", "show", side.host_if)[0].get("link_type") == "ether"
    await veth_node.controller.stop()  # as a crash would: everything stays
    await veth_node.reconciler.aclose()
    await vpp.close()
    await store.close()

    node, vpp, store = await start(tap=True)
    try:
        (record,) = [r for r in node.reconciler.history() if r.kind.value.startswith("resync")][-1:]
        assert [(op.key, op.error) for op in record.ops if op.outcome != "ok"] == []
        ifs = await vpp_interfaces(vpp)
        assert "tap-vpp2" in ifs and "afpacket-vpp2" not in ifs
        (link,) = ip_json(side.name, "-d", "link", "show", side.host_if)
        assert link.get("linkinfo", {}).get("info_kind") == "tun"
        assert {
            (a["local"], a["prefixlen"])
            for a in ip_json(side.name, "addr", "show", side.host_if)[0]["addr_info"]
            if a["family"] == "inet"
        } == {("172.30.5.2", 24)}
        counts = node.reconciler.count_states()
        assert counts[ItemState.FAILED] + counts[ItemState.RETRYING] == 0
    finally:
        await node.controller.stop()
        await node.reconciler.apply({k: None for k in node.controller.desired()}, trigger="test teardown")
        await node.reconciler.aclose()
        await vpp.close()
        await store.close()
