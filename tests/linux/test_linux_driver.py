"""The Linux driver against real namespaces, through the real reconciler.

A "vswitch" namespace stands in for the host side and a "pod" namespace for
a pod, so nothing touches the machine's own interfaces.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from contivctl.dataplane.linux import channel, linux_descriptors
from contivctl.dataplane.linux.netns import get_checksum_offload
from contivctl.dataplane.linux.reaper import graveyard_group
from contivctl.errors import NetnsNotFound
from contivctl.items.linux import LINK_GROUP, Address, Neighbour, Route, TapPodSide, Veth
from contivctl.reconcile import Mode, Reconciler
from contivctl.reconcile.item import ItemState
from contivctl.testing.memory import MemoryDataplane, MemoryDescriptor, Thing
from tests.polling import until

net = ipaddress.ip_network
iface = ipaddress.ip_interface
ip = ipaddress.ip_address
GW = ip("10.1.1.1")
GW_MAC = "02:fe:00:00:00:01"
POD_MAC = "02:fe:00:00:00:02"


def nsname(path: str) -> str:
    return os.path.basename(path)


def ip_json(netns: str, *args: str) -> Any:
    """``ip -j`` output; a device that does not exist reads as an empty list."""
    out = subprocess.run(["ip", "-n", nsname(netns), "-j", *args], capture_output=True, text=True)
    if out.returncode != 0:
        assert "does not exist" in out.stderr, out.stderr
        return []
    return json.loads(out.stdout or "[]")


def pod_items(vswitch: str, pod: str, *, ifname: str = "eth0", mtu: int = 1450) -> dict[str, Any]:
    veth = Veth(name="veth-p1", netns=vswitch, peer_name=ifname, peer_netns=pod, mtu=mtu, peer_mac=POD_MAC)
    link = veth.key
    gw_route = Route(netns=pod, dst=net(f"{GW}/32"), dev=ifname, link=link)
    items: list[Any] = [
        veth,
        Address(netns=pod, ifname=ifname, address=iface("10.1.1.2/32"), link=link),
        gw_route,
        Route(netns=pod, dst=net("0.0.0.0/0"), dev=ifname, link=link, via=GW, requires=(gw_route.key,)),
        Neighbour(netns=pod, ifname=ifname, ip=GW, mac=GW_MAC, link=link),
    ]
    return {i.key: i for i in items}


@pytest.fixture
def reconciler() -> Reconciler:
    return Reconciler(linux_descriptors())


async def test_pod_wiring_is_created_read_back_and_removed(
    reconciler: Reconciler, make_netns: Callable[[], str]
) -> None:
    vswitch, pod = make_netns(), make_netns()
    items = pod_items(vswitch, pod)
    record = await reconciler.apply(items, mode=Mode.REVERT, trigger="add pod")
    assert record.error is None
    assert all(s.state is ItemState.CONFIGURED for s in reconciler.states().values())

    (eth0,) = ip_json(pod, "link", "show", "eth0")
    assert eth0["mtu"] == 1450
    assert eth0["address"] == POD_MAC
    assert "UP" in eth0["flags"]
    assert eth0["ifalias"].startswith("contiv:linux/veth/")
    (host_end,) = ip_json(vswitch, "link", "show", "veth-p1")
    assert "UP" in host_end["flags"]
    addrs = ip_json(pod, "addr", "show", "eth0")[0]["addr_info"]
    assert [(a["local"], a["prefixlen"]) for a in addrs if a["family"] == "inet"] == [("10.1.1.2", 32)]
    routes = {(r["dst"], r.get("gateway"), r.get("scope")) for r in ip_json(pod, "route", "show")}
    assert ("10.1.1.1", None, "link") in routes
    assert ("default", "10.1.1.1", None) in routes or ("default", "10.1.1.1", "global") in routes
    neigh = ip_json(pod, "neigh", "show", "dev", "eth0")
    assert [(n["dst"], n["lladdr"], n["state"]) for n in neigh] == [("10.1.1.1", GW_MAC, ["PERMANENT"])]

    await reconciler.apply({k: None for k in items}, mode=Mode.REVERT, trigger="del pod")
    # retired at once (no longer ours), deleted by the kernel a moment later
    await until(
        lambda: ip_json(pod, "link", "show", "eth0") == [] and ip_json(vswitch, "link", "show", "veth-p1") == []
    )


async def test_full_resync_with_nothing_changed_does_nothing(
    reconciler: Reconciler, make_netns: Callable[[], str]
) -> None:
    vswitch, pod = make_netns(), make_netns()
    items = pod_items(vswitch, pod)
    await reconciler.apply(items, mode=Mode.REVERT)
    fresh = Reconciler(linux_descriptors())  # a restarted agent: nothing cached
    record = await fresh.resync_full(items)
    assert record.ops == ()
    assert all(s.state is ItemState.CONFIGURED for s in fresh.states().values())


async def test_resync_repairs_exactly_what_drifted(reconciler: Reconciler, make_netns: Callable[[], str]) -> None:
    vswitch, pod = make_netns(), make_netns()
    items = pod_items(vswitch, pod)
    await reconciler.apply(items, mode=Mode.REVERT)
    subprocess.run(["ip", "-n", nsname(pod), "route", "del", "default"], check=True)
    subprocess.run(["ip", "-n", nsname(pod), "neigh", "del", str(GW), "dev", "eth0"], check=True)
    record = await reconciler.resync_full(items)
    touched = sorted(op.key for op in record.ops)
    default = next(k for k, v in items.items() if isinstance(v, Route) and v.via is not None)
    neighbour = next(k for k, v in items.items() if isinstance(v, Neighbour))
    assert touched == sorted([default, neighbour])
    assert any(r["dst"] == "default" for r in ip_json(pod, "route", "show"))
    again = await reconciler.resync_full(items)
    assert again.ops == ()


async def test_a_deleted_veth_is_rewired_by_resync(reconciler: Reconciler, make_netns: Callable[[], str]) -> None:
    vswitch, pod = make_netns(), make_netns()
    items = pod_items(vswitch, pod)
    await reconciler.apply(items, mode=Mode.REVERT)
    subprocess.run(["ip", "-n", nsname(vswitch), "link", "del", "veth-p1"], check=True)
    await reconciler.resync_full(items)
    assert all(s.state is ItemState.CONFIGURED for s in reconciler.states().values())
    assert ip_json(pod, "link", "show", "eth0")[0]["address"] == POD_MAC
    assert any(r["dst"] == "default" for r in ip_json(pod, "route", "show"))


async def test_foreign_links_in_the_pod_namespace_are_left_alone(
    reconciler: Reconciler, make_netns: Callable[[], str]
) -> None:
    vswitch, pod = make_netns(), make_netns()
    subprocess.run(["ip", "-n", nsname(pod), "link", "add", "other0", "type", "veth", "peer", "other1"], check=True)
    subprocess.run(["ip", "-n", nsname(pod), "addr", "add", "10.9.0.1/24", "dev", "other0"], check=True)
    await reconciler.resync_full(pod_items(vswitch, pod))
    await reconciler.resync_full({})
    assert ip_json(pod, "link", "show", "other0") != []
    await until(lambda: ip_json(pod, "link", "show", "eth0") == [])
    assert ip_json(pod, "addr", "show", "other0")[0]["addr_info"][0]["local"] == "10.9.0.1"


async def test_names_still_held_by_a_retired_pair_are_taken_back(
    reconciler: Reconciler, make_netns: Callable[[], str]
) -> None:
    """The same attachment added back before its retired pair is deleted: the retired holder goes at once."""
    vswitch, pod = make_netns(), make_netns()
    grave = str(graveyard_group(LINK_GROUP))
    pair = f"veth-p1 group {grave} type veth peer name eth0 netns {nsname(pod)} group {grave}"
    subprocess.run(["ip", "-n", nsname(vswitch), "link", "add", *pair.split()], check=True)
    record = await reconciler.apply(pod_items(vswitch, pod), mode=Mode.REVERT)
    assert record.error is None
    (eth0,) = ip_json(pod, "link", "show", "eth0")
    assert (eth0["group"], eth0["address"]) == (str(LINK_GROUP), POD_MAC)
    assert ip_json(pod, "route", "show", "default")


async def test_a_taken_interface_name_in_the_pod_is_an_error_and_nothing_is_left(
    reconciler: Reconciler, make_netns: Callable[[], str]
) -> None:
    vswitch, pod = make_netns(), make_netns()
    subprocess.run(["ip", "-n", nsname(pod), "link", "add", "eth0", "type", "veth", "peer", "x0"], check=True)
    with pytest.raises(Exception, match="already exists"):
        await reconciler.apply(pod_items(vswitch, pod), mode=Mode.REVERT)
    assert ip_json(vswitch, "link", "show", "veth-p1") == []
    (eth0,) = ip_json(pod, "link", "show", "eth0")
    assert "ifalias" not in eth0


async def test_missing_netns_is_an_error_and_is_never_created(
    reconciler: Reconciler, make_netns: Callable[[], str], tmp_path: Any
) -> None:
    vswitch = make_netns()
    missing = str(tmp_path / "no-such-ns")
    with pytest.raises(Exception, match="does not exist"):
        await reconciler.apply(pod_items(vswitch, missing), mode=Mode.REVERT)
    assert not os.path.exists(missing)
    assert ip_json(vswitch, "link", "show", "veth-p1") == []
    with pytest.raises(NetnsNotFound):
        await channel.run(lambda channels: channels(missing))


async def test_checksum_offload_off(reconciler: Reconciler, make_netns: Callable[[], str]) -> None:
    vswitch, pod = make_netns(), make_netns()
    veth = Veth(name="veth-c", netns=vswitch, peer_name="eth0", peer_netns=pod, checksum_offload=False)
    await reconciler.apply({veth.key: veth}, mode=Mode.REVERT)
    assert await get_checksum_offload(pod, "eth0") == (False, False)
    assert await get_checksum_offload(vswitch, "veth-c") == (False, False)


async def test_mtu_change_is_applied_in_place(reconciler: Reconciler, make_netns: Callable[[], str]) -> None:
    vswitch, pod = make_netns(), make_netns()
    items = pod_items(vswitch, pod)
    await reconciler.apply(items, mode=Mode.REVERT)
    index_before = ip_json(pod, "link", "show", "eth0")[0]["ifindex"]
    changed = pod_items(vswitch, pod, mtu=1400)
    record = await reconciler.apply(changed, mode=Mode.REVERT, replace=True)
    assert [op.op for op in record.ops if op.outcome == "ok"] == ["update"]
    (eth0,) = ip_json(pod, "link", "show", "eth0")
    assert (eth0["mtu"], eth0["ifindex"]) == (1400, index_before)


async def test_tap_pod_side_is_moved_renamed_and_handed_back(make_netns: Callable[[], str]) -> None:
    pod = make_netns()
    memory = MemoryDataplane()
    rec = Reconciler([*linux_descriptors(), MemoryDescriptor("vpp/", memory)])
    temp = f"tap{os.getpid() % 100000}"
    subprocess.run(["ip", "tuntap", "add", "dev", temp, "mode", "tap"], check=True)
    try:
        tap = TapPodSide(temp_name=temp, netns=pod, ifname="eth0", vpp_tap="vpp/interface/tap-1", mtu=1400, mac=POD_MAC)
        addr = Address(netns=pod, ifname="eth0", address=iface("10.1.1.3/32"), link=tap.key)
        await rec.apply({tap.key: tap, addr.key: addr}, mode=Mode.BEST_EFFORT)
        assert rec.state(tap.key).state is ItemState.PENDING  # type: ignore[union-attr]
        await rec.apply({"vpp/interface/tap-1": Thing("tap")}, mode=Mode.REVERT)
        (eth0,) = ip_json(pod, "link", "show", "eth0")
        assert (eth0["mtu"], eth0["address"]) == (1400, POD_MAC)
        assert ip_json(pod, "addr", "show", "eth0")[0]["addr_info"][0]["local"] == "10.1.1.3"
        assert (await rec.resync_full({tap.key: tap, addr.key: addr, "vpp/interface/tap-1": Thing("tap")})).ops == ()
        await rec.apply({tap.key: None, addr.key: None}, mode=Mode.REVERT)
        assert ip_json(pod, "link", "show", "eth0") == []
        subprocess.run(["ip", "link", "show", temp], check=True, capture_output=True)
    finally:
        subprocess.run(["ip", "link", "del", temp], capture_output=True)


async def test_a_tap_pod_side_already_ours_is_taken_again_by_a_create(make_netns: Callable[[], str]) -> None:
    """A create planned from a picture that missed the device: it carries this item's mark, so it is adopted."""
    pod = make_netns()
    temp = f"tap{os.getpid() % 100000}"
    subprocess.run(["ip", "tuntap", "add", "dev", temp, "mode", "tap"], check=True)
    try:
        tap = TapPodSide(temp_name=temp, netns=pod, ifname="eth0", vpp_tap="vpp/interface/tap-1", mtu=1400, mac=POD_MAC)
        vpp = {"vpp/interface/tap-1": Thing("tap")}
        first = Reconciler([*linux_descriptors(), MemoryDescriptor("vpp/", MemoryDataplane())])
        await first.apply({**vpp, tap.key: tap}, mode=Mode.REVERT)
        (before,) = ip_json(pod, "link", "show", "eth0")
        # a reconciler that knows nothing and reads nothing before it creates (apply trusts what it knows)
        again = Reconciler([*linux_descriptors(), MemoryDescriptor("vpp/", MemoryDataplane())])
        await again.apply({**vpp, tap.key: tap}, mode=Mode.REVERT)
        assert again.state(tap.key).state is ItemState.CONFIGURED  # type: ignore[union-attr]
        (after,) = ip_json(pod, "link", "show", "eth0")
        assert after["ifindex"] == before["ifindex"]
        await again.apply({tap.key: None}, mode=Mode.REVERT)
    finally:
        subprocess.run(["ip", "link", "del", temp], capture_output=True)


async def test_a_link_cut_short_by_a_crash_is_still_ours(make_netns: Callable[[], str]) -> None:
    """Created (with the agent's device group) but killed before its alias was set.

    Nothing desired or known names it: it is found because the namespace of
    the vswitch ends is read on every resync (the agent's own, in production).
    """
    from contivctl.items.linux import LINK_GROUP

    vswitch, pod = make_netns(), make_netns()
    reconciler = Reconciler(linux_descriptors(always=(vswitch,)))
    subprocess.run(
        [
            "ip",
            "-n",
            nsname(vswitch),
            "link",
            "add",
            "cvhalfmade",
            "group",
            str(LINK_GROUP),
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            nsname(pod),
        ],
        check=True,
    )
    subprocess.run(
        ["ip", "-n", nsname(vswitch), "link", "add", "foreign0", "type", "veth", "peer", "foreign1"], check=True
    )
    record = await reconciler.resync_full({})
    assert [(op.op, op.key) for op in record.ops] == [("delete", f"linux/veth/{vswitch}/cvhalfmade")]
    # retired at once, deleted (its far end with it) a moment later, in a batch
    await until(
        lambda: ip_json(vswitch, "link", "show", "cvhalfmade") == [] and ip_json(pod, "link", "show", "eth0") == []
    )
    assert ip_json(vswitch, "link", "show", "foreign0") != []
