"""Pod address allocation: the original's round robin, plus properties."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contivctl.errors import IPAMError, PoolExhausted
from contivctl.ipam import PodIPAllocator

SUBNET = ipaddress.ip_network("10.1.5.0/24")
ip = ipaddress.ip_address


def test_a_slash_24_holds_exactly_252_pods() -> None:
    alloc = PodIPAllocator(SUBNET)
    got = [alloc.allocate(f"pod-{i}") for i in range(252)]
    assert got[0] == ip("10.1.5.2")
    assert got[-1] == ip("10.1.5.253")
    assert len(set(got)) == 252
    with pytest.raises(PoolExhausted, match="252"):
        alloc.allocate("one-too-many")


def test_released_address_is_reused_only_after_the_pool_wraps() -> None:
    alloc = PodIPAllocator(SUBNET)
    first = alloc.allocate("a")
    alloc.allocate("b")
    alloc.release("a")
    assert alloc.allocate("c") == ip("10.1.5.4")
    for i in range(249):
        alloc.allocate(f"fill-{i}")  # now .5 … .253 are taken
    assert alloc.allocate("wrapped") == first


def test_repeated_allocation_for_the_same_pod_returns_its_address() -> None:
    alloc = PodIPAllocator(SUBNET)
    a = alloc.allocate("ns/pod/eth0")
    alloc.allocate("other")
    assert alloc.allocate("ns/pod/eth0") == a
    assert len(alloc) == 2


def test_release_of_unknown_or_empty_key_is_a_no_op() -> None:
    alloc = PodIPAllocator(SUBNET)
    alloc.allocate("a")
    assert alloc.release("nope") is None
    assert alloc.release("") is None
    assert alloc.release("a") == ip("10.1.5.2")
    assert alloc.release("a") is None
    assert len(alloc) == 0


def test_empty_key_cannot_allocate() -> None:
    with pytest.raises(IPAMError, match="empty"):
        PodIPAllocator(SUBNET).allocate("")


def test_restore_puts_the_cursor_at_the_highest_address_in_use() -> None:
    alloc = PodIPAllocator(SUBNET)
    for key in "abcd":
        alloc.allocate(key)
    alloc.release("d")  # .5 free again, but not reused before the wrap
    alloc.release("b")
    restored = PodIPAllocator.from_state(SUBNET, json.loads(json.dumps(alloc.to_state())))
    assert restored.allocations() == alloc.allocations()
    assert restored.cursor == 4  # .4 ("c") is the highest in use: as the original restored it
    assert restored.allocate("e") == ip("10.1.5.5")


def test_restore_drops_entries_outside_the_subnet() -> None:
    state = {"allocations": {"a": "10.1.5.9", "b": "10.1.6.9", "c": "10.1.5.1", "d": "junk"}}
    restored = PodIPAllocator.from_state(SUBNET, state)
    assert restored.allocations() == {"a": ip("10.1.5.9")}
    assert restored.dropped == {"b": "10.1.6.9", "c": "10.1.5.1", "d": "junk"}


def test_ipv6_allocation_skips_reserved_and_scales() -> None:
    alloc = PodIPAllocator(ipaddress.ip_network("fd00:1::/64"))
    assert alloc.allocate("a") == ip("fd00:1::2")
    assert alloc.capacity == 2**64 - 4


def test_too_small_subnet_is_refused() -> None:
    with pytest.raises(IPAMError, match="too small"):
        PodIPAllocator(ipaddress.ip_network("10.0.0.0/31"))


ops = st.lists(
    st.tuples(st.sampled_from(["alloc", "release"]), st.integers(min_value=0, max_value=40)),
    max_size=120,
)


@settings(max_examples=200, deadline=None)
@given(ops=ops, prefix=st.sampled_from([26, 27, 28, 29]))
def test_allocations_never_collide_or_leave_the_usable_range(ops: list[tuple[str, int]], prefix: int) -> None:
    subnet = ipaddress.ip_network(f"10.1.5.0/{prefix}")
    reserved = {subnet.network_address, subnet.network_address + 1, subnet.broadcast_address - 1}
    reserved.add(subnet.broadcast_address)
    alloc = PodIPAllocator(subnet)
    model: dict[str, ipaddress.IPv4Address | ipaddress.IPv6Address] = {}
    for op, n in ops:
        key = f"pod-{n}"
        if op == "alloc":
            try:
                got = alloc.allocate(key)
            except PoolExhausted:
                assert len(model) == alloc.capacity
                continue
            if key in model:
                assert got == model[key]
            model[key] = got
            assert got in subnet
            assert got not in reserved
        else:
            assert alloc.release(key) == model.pop(key, None)
        assert len(set(model.values())) == len(model)
        assert alloc.allocations() == model
        restored = PodIPAllocator.from_state(subnet, json.loads(json.dumps(alloc.to_state())))
        assert restored.allocations() == model
        assert not restored.dropped
