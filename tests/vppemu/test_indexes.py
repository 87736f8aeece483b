"""The emulator's indexes answer what a walk over every object would answer.

VPP refuses an interface address that overlaps another in the same VRF
(either one's address inside the other's prefix), unless it is a second
address of the same prefix on the same interface; it numbers a new
loopback, BVI, tunnel or tap with the lowest free instance. The emulator
answers both through indexes, so that thousands of objects cost no walk;
here they are checked against those definitions applied to every object,
over random additions and removals.
"""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from contivctl.testing.vppemu.state.interfaces import InstancePool
from contivctl.testing.vppemu.state.ip import IPInterface, IpState

IFACES = range(3)
VRFS = range(2)


def _v4(draw: st.DrawFn) -> IPInterface:
    ip = ipaddress.IPv4Address("10.0.0.0") + draw(st.integers(0, 63))
    return ipaddress.IPv4Interface((ip, draw(st.sampled_from([8, 26, 28, 30, 31, 32]))))


def _v6(draw: st.DrawFn) -> IPInterface:
    ip = ipaddress.IPv6Address("2001:db8::") + draw(st.integers(0, 63))
    return ipaddress.IPv6Interface((ip, draw(st.sampled_from([32, 122, 124, 126, 127, 128]))))


@st.composite
def addresses(draw: st.DrawFn) -> IPInterface:
    return _v6(draw) if draw(st.booleans()) else _v4(draw)


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[str, int, int, IPInterface]]:
    n = draw(st.integers(1, 40))
    return [
        (
            draw(st.sampled_from(["add", "add", "remove"])),
            draw(st.sampled_from(IFACES)),
            draw(st.sampled_from(VRFS)),
            draw(addresses()),
        )
        for _ in range(n)
    ]


def _overlaps(a: IPInterface, b: IPInterface) -> bool:
    return a.version == b.version and (a.ip in b.network or b.ip in a.network)


def _refused(placed: dict[tuple[int, IPInterface], int], idx: int, vrf: int, addr: IPInterface) -> bool:
    for (other, existing), other_vrf in placed.items():
        if other_vrf != vrf or not _overlaps(addr, existing):
            continue
        sibling = other == idx and existing.network.prefixlen == addr.network.prefixlen and existing.ip != addr.ip
        if not sibling:
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(steps())
def test_conflicts_match_a_walk_over_every_address(todo: list[tuple[str, int, int, IPInterface]]) -> None:
    ip = IpState()
    vrf_of = {idx: {4: 0, 6: 0} for idx in IFACES}
    placed: dict[tuple[int, IPInterface], int] = {}
    for op, idx, vrf, addr in todo:
        if op == "remove":
            mine = [a for (i, a) in placed if i == idx]
            if mine:
                victim = mine[vrf % len(mine)]
                ip.remove_address(idx, victim)
                del placed[(idx, victim)]
            continue
        if not any(i == idx and a.version == addr.version for (i, a) in placed):
            vrf_of[idx][addr.version] = vrf  # an interface changes VRF only while it has no address of the family
        vrf = vrf_of[idx][addr.version]
        found = ip.conflict(idx, vrf, addr)
        assert (found is not None) == _refused(placed, idx, vrf, addr), (idx, vrf, addr, found)
        if found is not None:
            other, existing = found
            assert placed.get((other, existing)) == vrf and _overlaps(addr, existing)
            continue
        ip.add_address(idx, vrf, addr)
        placed[(idx, addr)] = vrf
    assert {(i, a) for i, lst in ip.addresses.items() for a in lst} == set(placed)
    for idx in IFACES:
        ip.drop_addresses(idx)
    assert ip.addresses == {}
    assert all(ip.conflict(0, vrf, a) is None for vrf in VRFS for (_, a) in placed)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["auto", "auto", "wanted", "free"]), st.integers(0, 40)), max_size=80))
def test_lowest_free_instance_matches_a_walk(todo: list[tuple[str, int]]) -> None:
    pool = InstancePool()
    used: set[int] = set()
    for op, n in todo:
        lowest = next(i for i in range(len(used) + 1) if i not in used)
        assert pool.lowest_free() == lowest
        if op == "auto":
            pool.take(lowest)
            used.add(lowest)
        elif op == "wanted" and n not in used:
            pool.take(n)
            used.add(n)
        elif op == "free" and used:
            victim = sorted(used)[n % len(used)]
            pool.give_back(victim)
            used.discard(victim)
        assert all((i in pool) == (i in used) for i in range(42))
