"""What the emulator does to the real kernel: tap devices and af_packet host links (root)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pyroute2 import IPRoute

from contivctl.testing.vppemu import Emulator

from .helpers import AsyncClient, call, dump

pytestmark = pytest.mark.usefixtures("root")


def _name() -> str:
    return f"vemu{uuid.uuid4().hex[:8]}"


def _link_sync(name: str, netns: str | None = None) -> dict[str, object] | None:
    kw = {"netns": f"/var/run/netns/{netns}", "flags": 0} if netns else {}
    with IPRoute(**kw) as ipr:
        idx = ipr.link_lookup(ifname=name)
        if not idx:
            return None
        link = ipr.get_links(idx[0])[0]
        return {"mac": link.get("IFLA_ADDRESS"), "mtu": link.get("IFLA_MTU"), "up": bool(link["flags"] & 1)}


async def _link(name: str, netns: str | None = None) -> dict[str, object] | None:
    """pyroute2's sync IPRoute runs its own loop, so it gets a thread of its own."""
    return await asyncio.to_thread(_link_sync, name, netns)


def _addrs_sync(name: str, netns: str) -> list[str]:
    with IPRoute(netns=f"/var/run/netns/{netns}", flags=0) as ipr:
        return [a.get("IFA_ADDRESS") for a in ipr.get_addr(label=name)]


def _tap(host: str, **kw: object) -> dict[str, object]:
    args: dict[str, object] = {
        "id": 0xFFFFFFFF,
        "use_random_mac": True,
        "host_if_name_set": True,
        "host_if_name": host,
        "rx_ring_sz": 256,
        "tx_ring_sz": 256,
    }
    args.update(kw)
    return args


async def test_tap_in_host_namespace(emu: Emulator, vpp: AsyncClient) -> None:
    host = _name()
    r = await call(
        vpp,
        "tap_create_v3",
        **_tap(
            host,
            host_mac_addr_set=True,
            host_mac_addr="02:aa:bb:cc:dd:01",
            host_mtu_set=True,
            host_mtu_size=1450,
        ),
    )
    assert r.retval == 0
    assert await _link(host) == {"mac": "02:aa:bb:cc:dd:01", "mtu": 1450, "up": True}
    (d,) = await dump(vpp, "sw_interface_tap_v2_dump")
    assert (d.sw_if_index, d.host_if_name, d.host_mtu_size, str(d.host_mac_addr)) == (
        r.sw_if_index,
        host,
        1450,
        "02:aa:bb:cc:dd:01",
    )
    names = {x.sw_if_index: x for x in await dump(vpp, "sw_interface_dump")}
    assert (names[r.sw_if_index].interface_name, names[r.sw_if_index].interface_dev_type) == (
        "tap0",
        "virtio",
    )
    assert (await call(vpp, "tap_delete_v2", sw_if_index=r.sw_if_index)).retval == 0
    assert await _link(host) is None
    assert await dump(vpp, "sw_interface_tap_v2_dump") == []


async def test_tap_in_pod_namespace_with_address(emu: Emulator, vpp: AsyncClient, netns: str) -> None:
    host = _name()
    r = await call(
        vpp,
        "tap_create_v3",
        **_tap(
            host,
            host_namespace_set=True,
            host_namespace=netns,
            host_ip4_prefix_set=True,
            host_ip4_prefix="10.60.0.2/24",
        ),
    )
    assert r.retval == 0
    assert await _link(host) is None
    link = await _link(host, netns)
    assert link is not None and link["up"]
    addrs = await asyncio.to_thread(_addrs_sync, host, netns)
    assert addrs == ["10.60.0.2"]
    assert (await call(vpp, "tap_delete_v2", sw_if_index=r.sw_if_index)).retval == 0
    assert await _link(host, netns) is None


async def test_tap_refusals(emu: Emulator, vpp: AsyncClient) -> None:
    host = _name()
    first = await call(vpp, "tap_create_v3", **_tap(host, id=3))
    assert first.retval == 0
    assert (await call(vpp, "tap_create_v3", **_tap(_name(), id=3))).retval == -71  # id in use
    assert (await call(vpp, "tap_create_v3", **_tap(host))).retval == -12  # host name taken
    missing = _tap(_name(), host_namespace_set=True, host_namespace="vppemu-no-such-ns")
    assert (await call(vpp, "tap_create_v3", **missing)).retval == -145
    assert (await call(vpp, "tap_create_v3", **_tap(_name(), rx_ring_sz=300))).retval == -7
    assert (await call(vpp, "tap_delete_v2", sw_if_index=1)).retval == -2  # not a tap
    assert (await call(vpp, "tap_delete_v2", sw_if_index=99)).retval == -2
    assert len(emu.kernel.taps) == 1


async def test_a_host_name_taken_in_the_target_namespace_is_refused(
    emu: Emulator, vpp: AsyncClient, netns: str
) -> None:
    """As VPP's TUNSETIFF in that namespace fails: a refusal (SYSCALL_ERROR_2), not a crash, and no tap left."""
    import subprocess

    host = _name()
    subprocess.run(["ip", "-n", netns, "link", "add", host, "type", "veth", "peer", "name", host + "p"], check=True)
    taken = _tap(host, host_namespace_set=True, host_namespace=netns)
    assert (await call(vpp, "tap_create_v3", **taken)).retval == -12
    assert emu.kernel.taps == {} and await _link(host) is None
    subprocess.run(["ip", "-n", netns, "link", "del", host], check=True)
    assert (await call(vpp, "tap_create_v3", **taken)).retval == 0


async def test_af_packet(emu: Emulator, vpp: AsyncClient) -> None:
    missing = _name()
    r = await call(vpp, "af_packet_create_v3", host_if_name=missing, use_random_hw_addr=True)
    assert r.retval == -71
    host = _name()
    await call(vpp, "tap_create_v3", **_tap(host))  # any host link will do
    r = await call(vpp, "af_packet_create_v3", host_if_name=host, hw_addr="02:00:00:00:0a:01")
    assert r.retval == 0
    dup = await call(vpp, "af_packet_create_v3", host_if_name=host, use_random_hw_addr=True)
    assert (dup.retval, dup.sw_if_index) == (-79, r.sw_if_index)
    assert [(d.sw_if_index, d.host_if_name) for d in await dump(vpp, "af_packet_dump")] == [(r.sw_if_index, host)]
    names = {x.sw_if_index: x for x in await dump(vpp, "sw_interface_dump")}
    assert names[r.sw_if_index].interface_name == f"host-{host}"
    assert str(names[r.sw_if_index].l2_address) == "02:00:00:00:0a:01"
    assert (await call(vpp, "af_packet_delete", host_if_name=host)).retval == 0
    assert (await call(vpp, "af_packet_delete", host_if_name=host)).retval == -11


async def test_restart_and_stop_remove_taps(emu: Emulator, vpp: AsyncClient, netns: str) -> None:
    a, b = _name(), _name()
    await call(vpp, "tap_create_v3", **_tap(a))
    await call(vpp, "tap_create_v3", **_tap(b, host_namespace_set=True, host_namespace=netns))
    assert await _link(a) is not None and await _link(b, netns) is not None
    await emu.restart()
    assert await _link(a) is None and await _link(b, netns) is None
    assert emu.kernel.taps == {}
