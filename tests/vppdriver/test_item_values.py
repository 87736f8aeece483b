"""VPP items hold ipaddress values, yet keys and requests are what they were when they held text.

A restarted agent finds its items again by key, so a key must not depend on
whether a caller gave an address as text or as a value; and VPP must get
the same bytes as when the descriptors handed papi text.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from contivctl.dataplane.vpp import descriptors as D
from contivctl.iptypes import IPAddress, IPNetwork
from contivctl.items import vpp as I
from contivctl.reconcile import Descriptor
from contivctl.testing.vppemu import apidefs

A = ipaddress.ip_address
IF = ipaddress.ip_interface
NET = ipaddress.ip_network


def _items(text: bool) -> list[Any]:
    """The same items, built from text or from ipaddress values."""

    def a(s: str) -> Any:
        return s if text else A(s)

    def ifa(s: str) -> Any:
        return s if text else IF(s)

    def net(s: str) -> Any:
        return s if text else NET(s)

    return [
        I.Interface("vxlan2", I.Vxlan(a("192.168.16.1"), a("192.168.16.2"), 10)),
        I.Address("GigabitEthernet0/8/0", ifa("192.168.16.1/24")),
        I.Address("loop-pod", ifa("fd00:1::7/128")),
        I.Route(1, net("10.1.2.0/24"), next_hop=a("192.168.30.2"), interface="vxlanBVI"),
        I.Route(0, net("::/0"), next_hop=a("fd00::1"), interface="GigabitEthernet0/8/0"),
        I.Route(1, net("10.1.0.0/16"), drop=True),
        I.Neighbor("vxlanBVI", a("192.168.30.2"), "12:2b:00:00:00:02"),
        I.Nat44Address(a("10.9.0.1")),
        I.Nat44StaticMapping(a("10.1.1.5"), a("10.9.0.1"), I.NatProtocol.TCP, 8080, 80),
        I.Nat44IdentityMapping(a("10.9.0.1"), I.NatProtocol.UDP, 4789, vrf=0),
        I.StnRule(a("10.1.1.7"), "tap-vpp2"),
        I.ProxyArpRange(a("192.168.16.1"), a("192.168.16.254")),
        I.ProxyArpInterface("tap-vpp2"),
        I.PuntRedirect("tap-vpp2", a("192.168.16.5")),
    ]


KEYS = [
    "vpp/interface/vxlan2",
    "vpp/address/GigabitEthernet0/8/0/192.168.16.1/24",
    "vpp/address/loop-pod/fd00:1::7/128",
    "vpp/route/1/10.1.2.0/24",
    "vpp/route/0/::/0",
    "vpp/route/1/10.1.0.0/16",
    "vpp/neighbor/vxlanBVI/192.168.30.2",
    "vpp/nat44/address/10.9.0.1",
    "vpp/nat44/static/tcp/10.9.0.1:80",
    "vpp/nat44/identity/0/udp/10.9.0.1:4789",
    "vpp/stn/10.1.1.7",
    "vpp/proxyarp/range/0/192.168.16.1-192.168.16.254",
    "vpp/proxyarp/interface/tap-vpp2",
    "vpp/punt/ip4/any",
]


@pytest.mark.parametrize("text", [True, False], ids=["text", "values"])
def test_keys_are_pinned_whichever_form_the_addresses_come_in(text: bool) -> None:
    assert [i.key for i in _items(text)] == KEYS


def test_text_is_parsed_into_the_same_values() -> None:
    assert _items(True) == _items(False)
    r = I.Route(0, "FD00:0:0::/48", next_hop="FD00::0001", interface="x")
    assert (r.dst, r.next_hop) == (NET("fd00::/48"), A("fd00::1"))
    assert r.key == "vpp/route/0/fd00::/48"
    assert I.Address("x", "10.1.1.7/24").address == IF("10.1.1.7/24")  # host bits kept


def test_an_interface_address_is_not_an_address() -> None:
    # IPv4Interface subclasses IPv4Address: it must be refused as its text is
    with pytest.raises(ValueError):
        I.Neighbor("x", IF("10.1.1.2/24"), "02:00:00:00:00:01")
    with pytest.raises(ValueError):
        I.Neighbor("x", "10.1.1.2/24", "02:00:00:00:00:01")
    with pytest.raises(ValueError):
        I.Route(0, "10.1.1.2/24", drop=True)  # host bits in a prefix


def test_the_address_family_picks_the_ipv6_vrf() -> None:
    v6 = I.Interface("vx", I.Vxlan(A("fd00::1"), A("fd00::2"), 10, encap_vrf=3))
    assert [d.target for d in v6.deps()] == ["vpp/vrf/3/ip6"]
    v4 = I.Interface("vx", I.Vxlan(A("10.0.0.1"), A("10.0.0.2"), 10, encap_vrf=3))
    assert [d.target for d in v4.deps()] == ["vpp/vrf/3"]
    assert I.Route(2, NET("fd00::/64"), drop=True).ipv6
    assert [d.target for d in I.Route(2, NET("fd00::/64"), lookup_vrf=4).deps()] == ["vpp/vrf/2/ip6", "vpp/vrf/4/ip6"]
    assert not I.Route(2, NET("10.0.0.0/8"), drop=True).ipv6


class _Recorder:
    """Takes the requests a descriptor sends and answers each with a bare success."""

    epoch = writes = 0

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def call(self, name: str, check: bool = True, **fields: Any) -> Any:
        self.sent.append((name, fields))
        return SimpleNamespace(sw_if_index=7, retval=0)

    async def call_many(self, reqs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        return [await self.call(name, **fields) for name, fields in reqs]


class _Ctx:
    def metadata(self, key: str) -> Any:
        return 5

    def exists(self, key: str) -> bool:
        return True


def _as_text(fields: Any) -> Any:
    if isinstance(fields, dict):
        return {k: _as_text(v) for k, v in fields.items()}
    if isinstance(fields, list):
        return [_as_text(v) for v in fields]
    if isinstance(fields, IPAddress | IPNetwork):
        return str(fields)  # the interfaces too: IPv4Interface is an IPv4Address
    return fields


def _descriptor_of(item: Any, vpp: Any) -> Descriptor[Any]:
    kinds = [k for k in D.ALL_KINDS if item.key.startswith(k.prefix)]
    assert len(kinds) == 1, item.key
    return kinds[0](vpp)


async def test_papi_packs_the_values_as_it_packed_their_text() -> None:
    defs = apidefs.load()
    vpp, ctx = _Recorder(), _Ctx()
    for item in _items(False):
        d = _descriptor_of(item, vpp)
        await d.create(ctx, item.key, item)  # type: ignore[arg-type]
        await d.delete(ctx, item.key, item, 7)  # type: ignore[arg-type]
    assert len(vpp.sent) > 2 * len(KEYS)
    for name, fields in vpp.sent:
        spec = defs.by_name[name]
        head = {"_vl_msg_id": spec.msg_id, "client_index": 0, "context": 1}
        assert spec.msg.pack({**fields, **head}) == spec.msg.pack({**_as_text(fields), **head}), name
