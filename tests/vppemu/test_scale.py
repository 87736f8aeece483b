"""The emulator's work per request does not grow with the number of objects it holds.

Benchmarks against the emulator must measure the agent, so a request may
not walk every interface, neighbour or FIB entry. Timing cannot show that
reliably on a busy machine; counting can. These tests count the bytecode
instructions the emulator's own code executes for one batch of requests
while it holds few objects, and for the same batch while it holds many
times more: the counts must stay about equal. A walk over all tunnels per
request (a list scan, a comprehension, a generator) is Python code in the
emulator and shows up at once as work that grows with the number of objects.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Any

from contivctl.testing import vppemu

from .helpers import AsyncClient, call, dump, path, route

ALL = 0xFFFFFFFF
POD_VRF = 1
BD = 10
EMULATOR_CODE = str(Path(vppemu.__file__).resolve().parent)
FEW, MANY, BATCH = 50, 800, 40
#: allowed growth of the batch's work for 16x the objects: hash tables resize, nothing else grows
GROWTH = 1.25


class OpcodeCounter:
    """Counts the bytecode instructions run in the emulator's source files while active."""

    def __init__(self) -> None:
        self.count = 0

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        if not frame.f_code.co_filename.startswith(EMULATOR_CODE):
            return None
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return self._step

    def _step(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            self.count += 1
        return self._step

    async def measure(self, work: Callable[[], Awaitable[None]]) -> int:
        previous = sys.gettrace()
        self.count = 0
        sys.settrace(self._call)
        try:
            await work()
        finally:
            sys.settrace(previous)
        return self.count


def _peer(k: int) -> dict[str, Any]:
    n = k + 2  # 10.30.0.1 is this node
    return {
        "node": f"10.30.{n >> 8}.{n & 0xFF}",
        "nh": f"172.16.{n >> 8}.{n & 0xFF}",
        "mac": f"12:2b:00:00:{n >> 8:02x}:{n & 0xFF:02x}",
        "pods": f"10.{64 + (n >> 8)}.{n & 0xFF}.0/24",
        "hosts": f"100.{64 + (n >> 8)}.{n & 0xFF}.0/24",
    }


def _tunnel(p: dict[str, Any], is_add: bool) -> dict[str, Any]:
    return {
        "is_add": is_add,
        "instance": ALL,
        "src_address": "10.30.0.1",
        "dst_address": p["node"],
        "mcast_sw_if_index": ALL,
        "encap_vrf_id": 0,
        "decap_next_index": ALL,
        "vni": 10,
    }


class Overlay:
    """A node's VXLAN overlay, built and torn down through the API as the agent does it."""

    def __init__(self, vpp: AsyncClient) -> None:
        self.vpp = vpp
        self.bvi = 0
        self.tunnels: dict[int, int] = {}

    async def base(self) -> None:
        vpp = self.vpp
        await call(vpp, "ip_table_add_del", is_add=True, table={"table_id": POD_VRF})
        self.bvi = (await call(vpp, "create_loopback", mac_address="12:2b:00:00:00:01")).sw_if_index
        await call(vpp, "sw_interface_set_table", sw_if_index=self.bvi, vrf_id=POD_VRF)
        await call(vpp, "sw_interface_add_del_address", sw_if_index=self.bvi, is_add=True, prefix="172.16.0.1/16")
        await call(vpp, "sw_interface_set_flags", sw_if_index=self.bvi, flags=1)
        await call(vpp, "bridge_domain_add_del_v2", bd_id=BD, forward=True, is_add=True)
        await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=self.bvi, bd_id=BD, port_type=1, shg=1)

    def _routes(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        via = path(nh=p["nh"], sw_if_index=self.bvi)
        return [
            route(p["pods"], via, table_id=POD_VRF),
            route(p["hosts"], via, table_id=POD_VRF),
            route(f"{p['node']}/32", via, table_id=POD_VRF),
            route(f"{p['node']}/32", path(table_id=POD_VRF), table_id=0),
        ]

    def _neighbor(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"sw_if_index": self.bvi, "flags": 1, "mac_address": p["mac"], "ip_address": p["nh"]}

    async def add(self, peers: range) -> None:
        vpp = self.vpp
        for n in peers:
            p = _peer(n)
            r = await call(vpp, "vxlan_add_del_tunnel_v3", **_tunnel(p, True))
            assert r.retval == 0, r
            idx = self.tunnels[n] = r.sw_if_index
            await call(vpp, "sw_interface_tag_add_del", is_add=True, sw_if_index=idx, tag=f"contiv:vxlan{n}")
            await call(vpp, "sw_interface_set_flags", sw_if_index=idx, flags=1)
            assert (await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=idx, bd_id=BD, shg=1)).retval == 0
            nb = self._neighbor(p)
            assert (await call(vpp, "ip_neighbor_add_del", is_add=True, neighbor=nb)).retval == 0
            fib = {"bd_id": BD, "mac": p["mac"], "sw_if_index": idx, "static_mac": True, "is_add": True}
            assert (await call(vpp, "l2fib_add_del", **fib)).retval == 0
            for rt in self._routes(p):
                assert (await call(vpp, "ip_route_add_del", is_add=True, route=rt)).retval == 0
            (one,) = await dump(vpp, "vxlan_tunnel_v2_dump", sw_if_index=idx)
            assert one.sw_if_index == idx

    async def remove(self, peers: range) -> None:
        vpp = self.vpp
        for n in peers:
            p = _peer(n)
            idx = self.tunnels.pop(n)
            for rt in self._routes(p):
                assert (await call(vpp, "ip_route_add_del", is_add=False, route=rt)).retval == 0
            fib = {"bd_id": BD, "mac": p["mac"], "sw_if_index": idx, "is_add": False}
            assert (await call(vpp, "l2fib_add_del", **fib)).retval == 0
            nb = self._neighbor(p)
            assert (await call(vpp, "ip_neighbor_add_del", is_add=False, neighbor=nb)).retval == 0
            left = await call(vpp, "sw_interface_set_l2_bridge", rx_sw_if_index=idx, bd_id=BD, enable=False)
            assert left.retval == 0
            assert (await call(vpp, "vxlan_add_del_tunnel_v3", **_tunnel(p, False))).retval == 0


async def test_overlay_requests_do_not_walk_all_tunnels(vpp: AsyncClient) -> None:
    overlay = Overlay(vpp)
    await overlay.base()
    counter = OpcodeCounter()
    await overlay.add(range(FEW))
    add_few = await counter.measure(lambda: overlay.add(range(FEW, FEW + BATCH)))
    remove_few = await counter.measure(lambda: overlay.remove(range(FEW, FEW + BATCH)))
    await overlay.add(range(FEW, MANY))
    add_many = await counter.measure(lambda: overlay.add(range(MANY, MANY + BATCH)))
    remove_many = await counter.measure(lambda: overlay.remove(range(MANY, MANY + BATCH)))
    assert add_few > 0 and remove_few > 0
    assert add_many <= GROWTH * add_few, (add_few, add_many)
    assert remove_many <= GROWTH * remove_few, (remove_few, remove_many)
    # what stays is exactly what was added and not removed
    tunnels = await dump(vpp, "vxlan_tunnel_v2_dump", sw_if_index=ALL)
    assert sorted(t.sw_if_index for t in tunnels) == sorted(overlay.tunnels.values())
    (bd,) = await dump(vpp, "bridge_domain_dump", bd_id=BD)
    assert bd.n_sw_ifs == MANY + 1
    assert len(await dump(vpp, "l2_fib_table_dump", bd_id=BD)) == MANY
    assert len(await dump(vpp, "ip_neighbor_dump", sw_if_index=ALL, af=0)) == MANY


async def test_loopback_numbering_does_not_walk_all_loopbacks(vpp: AsyncClient) -> None:
    """Pods' loopbacks: a free instance number, an address of their own or a borrowed one, deletion."""
    gw = (await call(vpp, "create_loopback")).sw_if_index
    await call(vpp, "sw_interface_add_del_address", sw_if_index=gw, is_add=True, prefix="10.1.1.1/24")
    made: list[int] = []

    async def add(k: int) -> None:
        for _ in range(k):
            idx = (await call(vpp, "create_loopback")).sw_if_index
            r = await call(vpp, "sw_interface_set_unnumbered", sw_if_index=gw, unnumbered_sw_if_index=idx, is_add=True)
            assert r.retval == 0
            pod_ip = f"10.2.{idx >> 8}.{idx & 0xFF}/32"  # a TCP-stack pod's address on its loopback
            r = await call(vpp, "sw_interface_add_del_address", sw_if_index=idx, is_add=True, prefix=pod_ip)
            assert r.retval == 0
            made.append(idx)

    async def remove(k: int) -> None:
        for _ in range(k):
            assert (await call(vpp, "delete_loopback", sw_if_index=made.pop())).retval == 0

    counter = OpcodeCounter()
    await add(FEW)
    add_few = await counter.measure(lambda: add(BATCH))
    remove_few = await counter.measure(lambda: remove(BATCH))
    await add(MANY - FEW)
    add_many = await counter.measure(lambda: add(BATCH))
    remove_many = await counter.measure(lambda: remove(BATCH))
    assert add_many <= GROWTH * add_few, (add_few, add_many)
    assert remove_many <= GROWTH * remove_few, (remove_few, remove_many)
    unnumbered = await dump(vpp, "ip_unnumbered_dump", sw_if_index=ALL)
    assert sorted(u.sw_if_index for u in unnumbered) == sorted(made)
    names = {d.sw_if_index: d.interface_name for d in await dump(vpp, "sw_interface_dump")}
    assert sorted(names[i] for i in made) == sorted(f"loop{n}" for n in range(1, MANY + 1))
