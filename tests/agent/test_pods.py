"""Pod wiring end to end: controller → reconciler → VPP emulator and real namespaces."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any

import pytest

from contivctl.dataplane.linux import channel
from contivctl.errors import PodWiringError
from contivctl.render import naming
from contivctl.testing.vppemu import Emulator
from tests.agent.support import (
    Pods,
    config,
    ip_json,
    link_exists,
    running_node,
    vpp_interfaces,
    vpp_neighbours,
    vpp_routes,
)
from tests.polling import until

GW = "10.1.5.1"

MODES: dict[str, dict[str, Any]] = {
    "veth": {"UseTAPInterfaces": False},
    "tap": {"UseTAPInterfaces": True, "TAPv2RxRingSize": 512, "TAPv2TxRingSize": 512},
    "tcpstack": {"UseTAPInterfaces": False, "TCPstackDisabled": False},
}


def check_pod_side(netns: str, ip: str, vpp_mac: str, pod_mac: str) -> None:
    (eth0,) = ip_json(netns, "link", "show", "eth0")
    assert "UP" in eth0["flags"]
    assert eth0["mtu"] == 1450
    assert eth0["address"] == pod_mac
    addrs = [
        (a["local"], a["prefixlen"])
        for a in ip_json(netns, "addr", "show", "eth0")[0]["addr_info"]
        if a["family"] == "inet"
    ]
    assert addrs == [(ip, 32)]
    routes = {(r["dst"], r.get("gateway"), r.get("scope", "global")) for r in ip_json(netns, "route", "show")}
    assert routes == {(GW, None, "link"), ("default", GW, "global")}
    neigh = ip_json(netns, "neigh", "show", "dev", "eth0")
    assert [(n["dst"], n["lladdr"], n["state"]) for n in neigh] == [(GW, vpp_mac, ["PERMANENT"])]


@pytest.mark.parametrize("mode", sorted(MODES))
async def test_add_wires_both_sides_and_delete_removes_them(
    mode: str, emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    async with running_node(emu, tmp_path / "store.db", config(**MODES[mode])) as node:
        netns, cid = pods.netns(), pods.cid()
        result = await node.add(cid, netns)
        ip = str(result.attachment.ip)
        assert ip == "10.1.5.2"
        assert result.gateway == ipaddress.ip_address(GW)
        vpp_mac = naming.vpp_side_mac(cid, "eth0")
        pod_mac = naming.pod_side_mac(cid, "eth0")
        assert result.mac == pod_mac
        check_pod_side(netns, ip, vpp_mac, pod_mac)

        vpp_if = naming.vpp_pod_if_name(cid, "eth0")
        ifaces = await vpp_interfaces(node.vpp)
        assert vpp_if in ifaces
        pod_if = ifaces[vpp_if]
        assert str(pod_if.l2_address) == vpp_mac
        assert pod_if.flags & 1  # admin up
        host_if = naming.host_veth_name(cid, "eth0")
        if mode == "tap":
            assert not link_exists(None, naming.tap_temp_name(cid, "eth0"))  # moved into the pod
            taps = await node.vpp.dump("sw_interface_tap_v2_dump", sw_if_index=0xFFFFFFFF)
            (tap,) = [t for t in taps if t.sw_if_index == pod_if.sw_if_index]
            assert (tap.rx_ring_sz, tap.tx_ring_sz) == (512, 512)
        else:
            assert link_exists(None, host_if)
            afp = await node.vpp.dump("af_packet_dump")
            assert [a.host_if_name for a in afp if a.sw_if_index == pod_if.sw_if_index] == [host_if]
        table = await node.vpp.call("sw_interface_get_table", sw_if_index=pod_if.sw_if_index, is_ipv6=False)
        assert table.vrf_id == 1
        assert (pod_if.sw_if_index, ip, pod_mac) in await vpp_neighbours(node.vpp)
        routes = await vpp_routes(node.vpp, 1)
        if mode == "tcpstack":
            loop = naming.vpp_pod_loop_name(cid, "eth0")
            assert loop in ifaces
            rules = await node.vpp.dump("stn_rules_dump")
            assert [(str(r.ip_address), r.sw_if_index) for r in rules] == [(ip, pod_if.sw_if_index)]
            proxies = await node.vpp.dump("ip_container_proxy_dump")
            assert [(str(p.prefix), p.sw_if_index) for p in proxies] == [(f"{ip}/32", pod_if.sw_if_index)]
        else:
            assert await node.vpp.dump("ip_container_proxy_dump") == []
            assert f"{ip}/32" in routes

        await node.delete(cid)
        await until(lambda: not link_exists(netns, "eth0"))
        await until(lambda: not link_exists(None, host_if))
        await until(lambda: not link_exists(None, naming.tap_temp_name(cid, "eth0")))
        ifaces = await vpp_interfaces(node.vpp)
        assert vpp_if not in ifaces
        assert naming.vpp_pod_loop_name(cid, "eth0") not in ifaces
        assert f"{ip}/32" not in await vpp_routes(node.vpp, 1)
        assert all(n[1] != ip for n in await vpp_neighbours(node.vpp))
        assert await node.vpp.dump("stn_rules_dump") == []
        assert await node.vpp.dump("ip_container_proxy_dump") == []
        assert len(node.controller.pods.allocator) == 0


@pytest.mark.parametrize(
    ("labels", "tcp_stack"),
    [
        ({"ldpreload": "true", "app": "web"}, True),
        ({"app": "web"}, False),
        ({"ldpreload": "false"}, False),
        (None, False),
    ],
    ids=["labelled", "not-labelled", "label-false", "labels-unknown"],
)
async def test_only_a_pod_labelled_ldpreload_gets_the_tcp_stack(
    labels: dict[str, str] | None, tcp_stack: bool, emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    """The TCP stack is the pod's choice, by its label; every other pod falls back to VETH (here) or TAP."""
    async with running_node(emu, tmp_path / "store.db", config(**MODES["tcpstack"])) as node:
        cid = pods.cid()
        result = await node.add(cid, pods.netns(), labels=labels)
        assert result.attachment.tcp_stack is tcp_stack
        ifaces = await vpp_interfaces(node.vpp)
        assert naming.vpp_pod_if_name(cid, "eth0") in ifaces
        assert (naming.vpp_pod_loop_name(cid, "eth0") in ifaces) is tcp_stack
        assert bool(await node.vpp.dump("stn_rules_dump")) is tcp_stack
        await node.delete(cid)


async def test_a_deleted_pod_namespace_is_not_kept_open(emu: Emulator, pods: Pods, tmp_path: Path) -> None:
    """The agent's netlink socket into a pod's namespace goes with the pod: it would keep the namespace alive."""

    async with running_node(emu, tmp_path / "s.db", config()) as node:
        netns, cid = pods.netns(), pods.cid()

        async def is_open() -> bool:
            return await channel.run(lambda channels: netns in channels)

        async def closed() -> bool:
            return not await is_open()

        await node.add(cid, netns)
        assert await is_open()
        await node.delete(cid)
        await until(closed)


async def test_repeated_add_returns_the_stored_result(emu: Emulator, pods: Pods, tmp_path: Path) -> None:
    async with running_node(emu, tmp_path / "s.db", config()) as node:
        netns, cid = pods.netns(), pods.cid()
        first = await node.add(cid, netns)
        ops_before = len(node.reconciler.history())
        again = await node.add(cid, netns)
        assert again == first
        assert len(node.reconciler.history()) == ops_before


async def test_a_new_container_of_a_wired_pod_replaces_the_old_attachment(
    emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    async with running_node(emu, tmp_path / "s.db", config()) as node:
        old_ns, old_cid = pods.netns(), pods.cid()
        new_ns, new_cid = pods.netns(), pods.cid()
        await node.add(old_cid, old_ns, pod="web")
        await node.add(new_cid, new_ns, pod="web")
        await until(lambda: not link_exists(old_ns, "eth0"))
        await until(lambda: not link_exists(None, naming.host_veth_name(old_cid, "eth0")))
        assert link_exists(new_ns, "eth0")
        assert [str(k) for k in node.controller.pods.attachments] == [f"{new_cid}/eth0"]
        assert len(node.controller.pods.allocator) == 1


async def test_a_taken_interface_name_fails_and_leaves_nothing(emu: Emulator, pods: Pods, tmp_path: Path) -> None:
    import subprocess

    async with running_node(emu, tmp_path / "s.db", config()) as node:
        netns, cid = pods.netns(), pods.cid()
        subprocess.run(
            ["ip", "-n", netns.rsplit("/", 1)[1], "link", "add", "eth0", "type", "veth", "peer", "p0"], check=True
        )
        with pytest.raises(PodWiringError, match="already exists"):
            await node.add(cid, netns)
        await until(lambda: not link_exists(None, naming.host_veth_name(cid, "eth0")))
        assert naming.vpp_pod_if_name(cid, "eth0") not in await vpp_interfaces(node.vpp)
        assert len(node.controller.pods.allocator) == 0
        assert node.controller.pods.attachments == {}
        assert await node.store.list("/contiv/") == {}


async def test_delete_of_unknown_or_repeated_succeeds(emu: Emulator, pods: Pods, tmp_path: Path) -> None:
    async with running_node(emu, tmp_path / "s.db", config()) as node:
        await node.delete("no-such-container")
        netns, cid = pods.netns(), pods.cid()
        await node.add(cid, netns)
        await node.delete(cid)
        await node.delete(cid)
        assert node.controller.pods.attachments == {}


async def test_delete_with_the_netns_gone_still_cleans_vpp_and_releases_the_ip(
    emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    async with running_node(emu, tmp_path / "s.db", config()) as node:
        netns, cid = pods.netns(), pods.cid()
        await node.add(cid, netns)
        pods.remove_netns(netns)
        await node.delete(cid)
        assert naming.vpp_pod_if_name(cid, "eth0") not in await vpp_interfaces(node.vpp)
        await until(lambda: not link_exists(None, naming.host_veth_name(cid, "eth0")))
        assert "10.1.5.2/32" not in await vpp_routes(node.vpp, 1)
        assert len(node.controller.pods.allocator) == 0
        assert await node.store.list("/contiv/") == {}


@pytest.mark.parametrize(
    ("message", "mode"),
    [
        ("af_packet_create_v3", "veth"),
        ("ip_route_add_del", "veth"),
        ("tap_create_v3", "tap"),
        ("ip_neighbor_add_del", "tap"),
    ],
)
async def test_a_vpp_failure_rolls_back_everything(
    message: str, mode: str, emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    async with running_node(emu, tmp_path / "s.db", config(**MODES[mode])) as node:
        before_ifaces = set(await vpp_interfaces(node.vpp))
        before_routes = await vpp_routes(node.vpp, 1)
        netns, cid = pods.netns(), pods.cid()
        emu.faults.fail(message, -1)
        with pytest.raises(PodWiringError):
            await node.add(cid, netns)
        assert set(await vpp_interfaces(node.vpp)) == before_ifaces
        assert await vpp_routes(node.vpp, 1) == before_routes
        assert ip_json(netns, "link", "show")  # the namespace itself is left alone
        await until(lambda: not link_exists(netns, "eth0"))
        assert ip_json(netns, "route", "show") == []
        assert ip_json(netns, "neigh", "show") == []
        await until(lambda: not link_exists(None, naming.host_veth_name(cid, "eth0")))
        await until(lambda: not link_exists(None, naming.tap_temp_name(cid, "eth0")))
        assert len(node.controller.pods.allocator) == 0
        assert await node.store.list("/contiv/") == {}
        # and the next pod gets wired normally
        ok = await node.add(pods.cid(), pods.netns())
        assert str(ok.attachment.ip) == "10.1.5.3"  # round robin: .2 is reused only after the wrap


async def test_missing_netns_fails_cleanly(emu: Emulator, pods: Pods, tmp_path: Path) -> None:
    async with running_node(emu, tmp_path / "s.db", config()) as node:
        cid = pods.cid()
        with pytest.raises(PodWiringError, match="does not exist"):
            await node.add(cid, str(tmp_path / "gone"))
        assert not (tmp_path / "gone").exists()
        assert naming.vpp_pod_if_name(cid, "eth0") not in await vpp_interfaces(node.vpp)
        await until(lambda: not link_exists(None, naming.host_veth_name(cid, "eth0")))
        assert len(node.controller.pods.allocator) == 0


async def test_a_burst_shares_transactions_and_a_failing_pod_fails_alone(
    emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    import asyncio

    async with running_node(emu, tmp_path / "s.db", config()) as node:
        good = [(pods.cid(), pods.netns()) for _ in range(6)]
        bad_cid = pods.cid()
        calls = [node.add(cid, ns) for cid, ns in good[:3]]
        calls.append(node.add(bad_cid, str(tmp_path / "no-such-netns")))
        calls += [node.add(cid, ns) for cid, ns in good[3:]]
        results = await asyncio.gather(*calls, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        assert len(failed) == 1 and isinstance(failed[0], PodWiringError)
        assert "does not exist" in str(failed[0])
        for _cid, ns in good:
            assert link_exists(ns, "eth0")
        assert len(node.controller.pods.allocator) == len(good)
        assert naming.vpp_pod_if_name(bad_cid, "eth0") not in await vpp_interfaces(node.vpp)
        await until(lambda: not link_exists(None, naming.host_veth_name(bad_cid, "eth0")))
        assert any(" pod events from " in r.trigger for r in node.reconciler.history())
        # and a burst of deletes
        await asyncio.gather(*(node.delete(cid) for cid, _ in good))
        assert node.controller.pods.attachments == {}
        assert len(node.controller.pods.allocator) == 0
        await until(lambda: not any(link_exists(ns, "eth0") for _cid, ns in good))


async def test_a_pod_goes_ahead_of_a_backlog_of_other_nodes(emu: Emulator, pods: Pods, tmp_path: Path) -> None:
    """A pod's ADD does not wait behind a thousand other nodes joining: it is served first."""
    from contivctl.events import NodeUpdated
    from contivctl.model import NodeInfo

    async with running_node(emu, tmp_path / "s.db", config()) as node:
        joins = [NodeUpdated(node=NodeInfo(i, f"peer{i}", (f"192.168.16.{i}/24",))) for i in range(10, 210)]
        for ev in joins:
            node.controller.post(ev)
        await node.add(pods.cid(), pods.netns())
        # at most one batch of node events can have run meanwhile
        assert sum(not ev.reply.done() for ev in joins) >= len(joins) - 64
        await asyncio.gather(*(ev.reply for ev in joins))
        assert len(node.controller.node_view.nodes) == len(joins)
