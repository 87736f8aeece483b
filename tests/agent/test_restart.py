"""Restart is resync: the store rebuilds the view, the dataplane is diffed, only drift is fixed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from contivctl.errors import PodWiringError, VPPError
from contivctl.reconcile import ItemState
from contivctl.render import naming
from contivctl.testing.vppemu import Emulator
from tests.agent.support import (
    MODES_FOR_RESTART,
    Pods,
    config,
    eventually,
    ip_json,
    link_exists,
    make_node,
    stop_node,
    vpp_interfaces,
    vpp_routes,
)
from tests.polling import until


def startup_record(node: object) -> object:
    history = node.reconciler.history()  # type: ignore[attr-defined]
    (record,) = [r for r in history if r.trigger == "startup resync"]
    return record


@pytest.mark.parametrize("mode", MODES_FOR_RESTART)
async def test_a_clean_restart_performs_zero_operations(mode: str, emu: Emulator, pods: Pods, tmp_path: Path) -> None:
    cfg = config(**MODES_FOR_RESTART[mode])
    node = await make_node(emu, tmp_path / "s.db", cfg)
    try:
        for _ in range(3):
            await node.add(pods.cid(), pods.netns())
    finally:
        await stop_node(node)
    again = await make_node(emu, tmp_path / "s.db", cfg)
    try:
        record = startup_record(again)
        assert record.ops == (), [(o.op, o.key) for o in record.ops]  # type: ignore[attr-defined]
        assert len(again.controller.pods.attachments) == 3
        assert len(again.controller.pods.allocator) == 3
    finally:
        await stop_node(again)


async def test_a_pod_deleted_after_a_restart_leaves_nothing_in_vpp(
    emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    """After a restart the pod's route (which looks like the one VPP makes for its neighbour) is still the agent's."""
    cfg = config()
    node = await make_node(emu, tmp_path / "s.db", cfg)
    cid = pods.cid()
    try:
        added = await node.add(cid, pods.netns())
    finally:
        await stop_node(node)
    again = await make_node(emu, tmp_path / "s.db", cfg)
    try:
        await again.delete(cid)
        assert f"{added.attachment.ip}/32" not in await vpp_routes(again.vpp, 1)
        assert not [n for n in await vpp_interfaces(again.vpp) if n.startswith("pod-") and n != "pod-gw-loop"]
    finally:
        await stop_node(again)


async def test_a_pod_interface_left_half_made_by_a_failed_add_goes_with_the_pod(
    emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    """The af_packet made but neither tagged nor taken away again (VPP failed twice): the DEL removes it."""
    node = await make_node(emu, tmp_path / "s.db", config())
    cid = pods.cid()
    try:
        emu.faults.fail("sw_interface_tag_add_del", retval=-1)
        emu.faults.fail("af_packet_delete", retval=-1)
        with pytest.raises(PodWiringError):
            await node.add(cid, pods.netns())
        left = [d.interface_name for d in await node.vpp.dump("sw_interface_dump") if not d.tag]
        assert f"host-{naming.host_veth_name(cid, 'eth0')}" in left  # what the failed ADD left
        # found when the ADD was undone, and removed by a retry (the ADD's answer does not wait for it)
        assert node.reconciler.state(f"vpp/interface/{naming.vpp_pod_if_name(cid, 'eth0')}") is not None
        await node.delete(cid)

        async def none_left() -> bool:
            names = [str(d.interface_name) for d in await node.vpp.dump("sw_interface_dump")]
            return not [n for n in names if n.startswith("host-cv")]

        await until(none_left, timeout=20)
    finally:
        await stop_node(node)


async def test_an_untagged_af_packet_on_a_pod_host_link_is_removed_at_start(
    emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    """What an agent killed between making a pod's AF_PACKET and tagging it left: the next start removes it."""
    host_link = naming.host_veth_name(pods.cid(), "eth0")
    subprocess.run(["ip", "link", "add", host_link, "type", "veth", "peer", "name", f"{host_link[:13]}p"], check=True)
    try:
        node = await make_node(emu, tmp_path / "s.db", config(), start=False)
        try:
            await node.vpp.call("af_packet_create_v3", host_if_name=host_link, use_random_hw_addr=True, mode=1)
            await node.controller.start()
            names = {str(d.interface_name) for d in await node.vpp.dump("sw_interface_dump")}
            assert f"host-{host_link}" not in names
        finally:
            await stop_node(node)
    finally:
        subprocess.run(["ip", "link", "del", host_link], check=False, capture_output=True)


async def test_a_pod_interface_that_lost_its_tag_is_tagged_again_at_start(
    emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    """Configured but untagged (its tag refused while the rest went through): the next start tags it."""
    cfg = config()
    node = await make_node(emu, tmp_path / "s.db", cfg)
    cid = pods.cid()
    name = naming.vpp_pod_if_name(cid, "eth0")
    try:
        await node.add(cid, pods.netns())
        idx = node.reconciler.metadata(f"vpp/interface/{name}")
        await node.vpp.call("sw_interface_tag_add_del", is_add=False, sw_if_index=idx, tag="")
    finally:
        await stop_node(node)
    again = await make_node(emu, tmp_path / "s.db", cfg)
    try:
        assert name in await vpp_interfaces(again.vpp)
        ops = {(o.op, o.key) for o in startup_record(again).ops}  # type: ignore[attr-defined]
        # updated in place, not made again; its neighbour, read under VPP's name, is written once more
        assert ("update", f"vpp/interface/{name}") in ops and not [op for op, _ in ops if op == "delete"], ops
    finally:
        await stop_node(again)
    third = await make_node(emu, tmp_path / "s.db", cfg)
    try:
        assert startup_record(third).ops == ()  # type: ignore[attr-defined]
    finally:
        await stop_node(third)


async def test_a_pod_whose_veth_was_deleted_is_rewired(emu: Emulator, pods: Pods, tmp_path: Path) -> None:
    cfg = config()
    node = await make_node(emu, tmp_path / "s.db", cfg)
    netns, cid = pods.netns(), pods.cid()
    try:
        first = await node.add(cid, netns)
    finally:
        await stop_node(node)
    subprocess.run(["ip", "link", "del", naming.host_veth_name(cid, "eth0")], check=True)
    assert not link_exists(netns, "eth0")
    again = await make_node(emu, tmp_path / "s.db", cfg)
    try:
        assert link_exists(netns, "eth0")
        addrs = ip_json(netns, "addr", "show", "eth0")[0]["addr_info"]
        assert str(first.attachment.ip) in [a["local"] for a in addrs]
        assert any(r["dst"] == "default" for r in ip_json(netns, "route", "show"))
        assert naming.vpp_pod_if_name(cid, "eth0") in await vpp_interfaces(again.vpp)
        ops = {(o.op, o.key.split("/", 2)[1]) for o in startup_record(again).ops}  # type: ignore[attr-defined]
        assert ops  # something was repaired
    finally:
        await stop_node(again)


async def test_pods_wired_by_veth_are_rewired_by_tap_when_a_restart_switches_the_mode(
    emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    """The pod's eth0 is a retired veth end until it is deleted: the TAP that takes the name waits for that."""
    node = await make_node(emu, tmp_path / "s.db", config(UseTAPInterfaces=False))
    netns, cid = pods.netns(), pods.cid()
    try:
        first = await node.add(cid, netns)
    finally:
        await stop_node(node)
    again = await make_node(emu, tmp_path / "s.db", config(UseTAPInterfaces=True))
    try:
        record = startup_record(again)
        assert [(o.key, o.error) for o in record.ops if o.outcome != "ok"] == []  # type: ignore[attr-defined]
        (eth0,) = ip_json(netns, "-d", "link", "show", "eth0")
        assert eth0.get("linkinfo", {}).get("info_kind") == "tun"
        addrs = ip_json(netns, "addr", "show", "eth0")[0]["addr_info"]
        assert str(first.attachment.ip) in [a["local"] for a in addrs]
        assert not link_exists(None, naming.host_veth_name(cid, "eth0"))
        await again.delete(cid)
    finally:
        await stop_node(again)


async def test_pods_whose_netns_is_gone_are_dropped_and_their_ips_freed(
    emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    cfg = config()
    node = await make_node(emu, tmp_path / "s.db", cfg)
    keep_ns, keep_cid = pods.netns(), pods.cid()
    gone_ns, gone_cid = pods.netns(), pods.cid()
    try:
        await node.add(keep_cid, keep_ns)
        gone = await node.add(gone_cid, gone_ns)
    finally:
        await stop_node(node)
    pods.remove_netns(gone_ns)
    again = await make_node(emu, tmp_path / "s.db", cfg)
    try:
        assert [k.container_id for k in again.controller.pods.attachments] == [keep_cid]
        assert len(again.controller.pods.allocator) == 1
        ifaces = await vpp_interfaces(again.vpp)
        assert naming.vpp_pod_if_name(gone_cid, "eth0") not in ifaces
        assert naming.vpp_pod_if_name(keep_cid, "eth0") in ifaces
        # its route too: it looks like the one VPP makes for a neighbour, and would point at nothing
        assert f"{gone.attachment.ip}/32" not in await vpp_routes(again.vpp, 1)
        await until(lambda: not link_exists(None, naming.host_veth_name(gone_cid, "eth0")))
        keys = await again.store.list("/contiv/")
        assert all(gone_cid not in k for k in keys)
    finally:
        await stop_node(again)


@pytest.mark.parametrize("mode", MODES_FOR_RESTART)
async def test_vpp_restart_leads_to_a_full_resync_that_rewires_pods_with_the_same_addresses(
    mode: str, emu: Emulator, pods: Pods, tmp_path: Path
) -> None:
    node = await make_node(emu, tmp_path / "s.db", config(**MODES_FOR_RESTART[mode]))
    try:
        wired = {}
        for _ in range(2):
            netns, cid = pods.netns(), pods.cid()
            wired[cid] = (netns, str((await node.add(cid, netns)).attachment.ip))
        allocations = node.controller.pods.allocator.allocations()
        before = set(await vpp_interfaces(node.vpp))
        await emu.restart()  # VPP forgets everything; the agent sees it on reconnect

        async def rewired() -> bool:
            try:
                return set(await vpp_interfaces(node.vpp)) == before
            except VPPError:  # the connection is still being re-established
                return False

        await eventually(rewired)
        await until(lambda: any(r.trigger.startswith("VPP restarted") and r.done for r in node.reconciler.history()))
        (resync,) = [r for r in node.reconciler.history() if r.trigger.startswith("VPP restarted")]
        assert {o.op for o in resync.ops} >= {"create"} and all(o.outcome == "ok" for o in resync.ops)
        assert node.controller.pods.allocator.allocations() == allocations  # the same addresses
        for cid, (netns, ip) in wired.items():
            found = ip_json(netns, "addr", "show", "eth0")[0]["addr_info"]
            addrs = [a["local"] for a in found if a["family"] == "inet"]
            assert addrs == [ip], (cid, addrs)
            assert {link["ifname"] for link in ip_json(netns, "link", "show")} == {"lo", "eth0"}
            assert not link_exists(None, naming.tap_temp_name(cid, "eth0"))
        tagged = [d.tag for d in await node.vpp.dump("sw_interface_dump") if d.tag.startswith("contiv:")]
        assert len(tagged) == len(before)  # one of each, none twice
        # Nothing of before is left over, and nothing is left to fix: another full resync does nothing.
        record = await node.reconciler.resync_full(node.controller.desired(), trigger="check")
        assert record.ops == (), [(o.op, o.key) for o in record.ops]
        states = node.reconciler.count_states()
        assert states[ItemState.FAILED] == states[ItemState.RETRYING] == 0
    finally:
        await stop_node(node)

