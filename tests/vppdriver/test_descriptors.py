"""Every descriptor against the emulator over the real socket: create, retrieve, update, delete."""

from __future__ import annotations

import subprocess

from contivctl.dataplane.vpp import descriptors as D
from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.items import vpp as I
from contivctl.testing.vppemu import Emulator

from .conftest import NIC
from .support import Ctx, found, roundtrip


async def test_loopback_settings_and_update(vpp: VPPConnection) -> None:
    d, ctx = D.InterfaceDescriptor(vpp), Ctx()
    await ctx.create(D.VrfDescriptor(vpp), I.Vrf(5))
    lo = I.Interface("gw", I.Loopback(), mac="02:00:00:00:00:aa", mtu=1400, vrf=5)
    changed = I.Interface("gw", I.Loopback(), mac="02:00:00:00:00:bb", mtu=1300, vrf=5, enabled=False)
    await roundtrip(d, ctx, lo, changed)


async def test_tag_makes_loopback_owned_and_named(vpp: VPPConnection, emu: Emulator) -> None:
    d, ctx = D.InterfaceDescriptor(vpp), Ctx()
    idx = await ctx.create(d, I.Interface("pod-gw", I.Loopback()))
    assert emu.state.interfaces.by_index[idx].tag == "contiv:pod-gw"
    foreign = await vpp.call("create_loopback")  # someone else's
    got = {r.key: r for r in await d.retrieve(ctx, {})}
    assert got["vpp/interface/pod-gw"].owned is True
    assert got["vpp/interface/loop1"].owned is False
    assert f"vpp/interface/{NIC}" not in got  # an unconfigured NIC is adopted when desired, never reported
    assert "vpp/interface/local0" not in got
    assert got["vpp/interface/loop1"].metadata == foreign.sw_if_index


async def test_bvi_and_vxlan(vpp: VPPConnection) -> None:
    d, ctx = D.InterfaceDescriptor(vpp), Ctx()
    await roundtrip(d, ctx, I.Interface("vxlanBVI", I.Bvi(), mac="12:2b:00:00:00:01"))
    tunnel = I.Interface("vxlan2", I.Vxlan("10.10.0.1", "10.10.0.2", 10))
    await roundtrip(d, ctx, tunnel, I.Interface("vxlan2", I.Vxlan("10.10.0.1", "10.10.0.3", 10)))


async def test_unnumbered_and_physical_nic(vpp: VPPConnection, emu: Emulator) -> None:
    d, ctx = D.InterfaceDescriptor(vpp), Ctx()
    await ctx.create(d, I.Interface("gw", I.Loopback()))
    nic = I.Interface(NIC, I.Physical(NIC), mtu=1500, unnumbered_to="gw")
    idx = await ctx.create(d, nic)
    r = await found(d, ctx, nic.key)
    assert r is not None and r.owned and d.equivalent(nic, r.value)
    await ctx.update(d, nic, I.Interface(NIC, I.Physical(NIC), mtu=1500))
    assert emu.state.interfaces.by_index[idx].unnumbered_to is None
    await ctx.delete(d, I.Interface(NIC, I.Physical(NIC), mtu=1500))
    nic_state = emu.state.interfaces.by_index[idx]  # adopted, configured, released: never deleted
    assert not nic_state.admin_up and nic_state.tag == ""
    assert await found(d, ctx, nic.key) is None


async def test_rx_mode_is_read_back(vpp: VPPConnection) -> None:
    d, ctx = D.InterfaceDescriptor(vpp), Ctx()
    nic = I.Interface(NIC, I.Physical(NIC), rx_mode=I.RxMode.INTERRUPT)
    await ctx.create(d, nic)
    r = await found(d, ctx, nic.key)
    assert r is not None and r.value.rx_mode is I.RxMode.INTERRUPT
    polling = I.Interface(NIC, I.Physical(NIC), rx_mode=I.RxMode.POLLING)
    assert not d.equivalent(polling, r.value)
    await ctx.update(d, nic, polling)
    r = await found(d, ctx, nic.key)
    assert r is not None and r.value.rx_mode is I.RxMode.POLLING


async def test_tap_in_a_namespace(vpp: VPPConnection, netns: str) -> None:
    d, ctx = D.InterfaceDescriptor(vpp), Ctx()
    tap = I.Interface(
        "tap-pod1",
        I.Tap("vd-pod1", host_mac="02:fe:00:00:00:02", host_mtu=1450, host_netns=netns, rx_ring_size=512),
        mtu=1450,
    )
    await ctx.create(d, tap)
    out = subprocess.run(["ip", "-n", netns, "-o", "link", "show", "vd-pod1"], capture_output=True, text=True)
    assert "02:fe:00:00:00:02" in out.stdout and "mtu 1450" in out.stdout
    r = await found(d, ctx, tap.key)
    assert r is not None and d.equivalent(tap, r.value)
    await ctx.delete(d, tap)
    gone = subprocess.run(["ip", "-n", netns, "link", "show", "vd-pod1"], capture_output=True)
    assert gone.returncode != 0
    assert await found(d, ctx, tap.key) is None


async def test_af_packet(vpp: VPPConnection, veth: str) -> None:
    d, ctx = D.InterfaceDescriptor(vpp), Ctx()
    await roundtrip(
        d,
        ctx,
        I.Interface("afp1", I.AfPacket(veth), mac="02:fe:aa:00:00:01"),
        I.Interface("afp1", I.AfPacket(veth), mac="02:fe:aa:00:00:01", mtu=1400),
    )


async def test_vrf(vpp: VPPConnection) -> None:
    await roundtrip(D.VrfDescriptor(vpp), Ctx(), I.Vrf(7))
    await roundtrip(D.VrfDescriptor(vpp), Ctx(), I.Vrf(7, ipv6=True))


async def test_address(vpp: VPPConnection) -> None:
    ctx = Ctx()
    await ctx.create(D.InterfaceDescriptor(vpp), I.Interface("lo1", I.Loopback()))
    await roundtrip(D.AddressDescriptor(vpp), ctx, I.Address("lo1", "10.5.0.1/24"))


async def test_routes_of_every_kind(vpp: VPPConnection) -> None:
    ctx, rd = Ctx(), D.RouteDescriptor(vpp)
    await ctx.create(D.VrfDescriptor(vpp), I.Vrf(1))
    await ctx.create(D.InterfaceDescriptor(vpp), I.Interface("lo1", I.Loopback(), vrf=1))
    await ctx.create(D.AddressDescriptor(vpp), I.Address("lo1", "10.1.1.1/24"))
    await roundtrip(
        rd,
        ctx,
        I.Route(1, "10.2.0.0/16", next_hop="10.1.1.2", interface="lo1"),
        I.Route(1, "10.2.0.0/16", next_hop="10.1.1.3", interface="lo1"),
    )
    await roundtrip(rd, ctx, I.Route(1, "10.3.0.5/32", interface="lo1"))
    await roundtrip(rd, ctx, I.Route(0, "10.1.0.0/16", lookup_vrf=1))
    await roundtrip(rd, ctx, I.Route(1, "10.0.0.0/8", drop=True), I.Route(1, "10.0.0.0/8", lookup_vrf=0))


async def test_route_retrieve_hides_what_vpp_made(vpp: VPPConnection) -> None:
    ctx = Ctx()
    await ctx.create(D.InterfaceDescriptor(vpp), I.Interface("lo1", I.Loopback()))
    await ctx.create(D.AddressDescriptor(vpp), I.Address("lo1", "10.1.1.1/24"))
    await ctx.create(D.NeighborDescriptor(vpp), I.Neighbor("lo1", "10.1.1.9", "02:00:00:00:00:09"))
    got = {r.key: r for r in await D.RouteDescriptor(vpp).retrieve(ctx, {})}
    owned = [k for k, r in got.items() if r.owned]
    assert owned == []  # special, connected, local, edge and neighbour routes are VPP's
    assert got["vpp/route/0/10.1.1.9/32"].owned is False


async def test_neighbor_and_config(vpp: VPPConnection) -> None:
    ctx = Ctx()
    await ctx.create(D.InterfaceDescriptor(vpp), I.Interface("lo1", I.Loopback()))
    await roundtrip(
        D.NeighborDescriptor(vpp),
        ctx,
        I.Neighbor("lo1", "10.1.1.2", "00:00:00:00:00:02"),
        I.Neighbor("lo1", "10.1.1.2", "00:00:00:00:00:03"),
    )
    await roundtrip(D.NeighborConfigDescriptor(vpp), ctx, I.NeighborConfig(max_age=4), I.NeighborConfig(max_age=8))


async def test_bridge_domain_members_and_l2fib(vpp: VPPConnection) -> None:
    ctx, ifd = Ctx(), D.InterfaceDescriptor(vpp)
    await ctx.create(ifd, I.Interface("vxlanBVI", I.Bvi()))
    await ctx.create(ifd, I.Interface("vxlan2", I.Vxlan("10.10.0.1", "10.10.0.2", 10)))
    bd = I.BridgeDomain("vxlanBD", 1)
    await roundtrip(D.BridgeDomainDescriptor(vpp), ctx, bd)
    await ctx.create(D.BridgeDomainDescriptor(vpp), bd)
    await roundtrip(
        D.BridgeDomainMemberDescriptor(vpp), ctx, I.BridgeDomainMember("vxlanBD", "vxlanBVI", bvi=True, shg=1)
    )
    member = I.BridgeDomainMember("vxlanBD", "vxlan2", shg=1)
    await ctx.create(D.BridgeDomainMemberDescriptor(vpp), member)
    await roundtrip(D.L2FibDescriptor(vpp), ctx, I.L2FibEntry("vxlanBD", "12:2b:00:00:00:02", "vxlan2"))


async def test_nat44(vpp: VPPConnection) -> None:
    ctx = Ctx()
    await ctx.create(D.InterfaceDescriptor(vpp), I.Interface(NIC, I.Physical(NIC)))
    await ctx.create(D.InterfaceDescriptor(vpp), I.Interface("lo1", I.Loopback()))
    g = D.Nat44GlobalDescriptor(vpp)
    assert await g.retrieve(ctx, {}) == []
    await roundtrip(g, ctx, I.Nat44Global())
    await ctx.create(g, I.Nat44Global())
    await roundtrip(D.Nat44InterfaceDescriptor(vpp), ctx, I.Nat44Interface(NIC, output=True))
    await roundtrip(
        D.Nat44InterfaceDescriptor(vpp),
        ctx,
        I.Nat44Interface("lo1", inside=True),
        I.Nat44Interface("lo1", inside=True, outside=True),
    )
    await roundtrip(D.Nat44AddressDescriptor(vpp), ctx, I.Nat44Address("10.9.0.1"))
    await roundtrip(D.Nat44AddressDescriptor(vpp), ctx, I.Nat44Address("10.9.0.2", twice_nat=True))
    await roundtrip(
        D.Nat44StaticMappingDescriptor(vpp),
        ctx,
        I.Nat44StaticMapping("10.1.1.5", "10.9.0.1", I.NatProtocol.TCP, 8080, 80),
        I.Nat44StaticMapping("10.1.1.6", "10.9.0.1", I.NatProtocol.TCP, 8080, 80),
    )
    await roundtrip(D.Nat44StaticMappingDescriptor(vpp), ctx, I.Nat44StaticMapping("10.1.1.7", "10.9.0.7"))
    await roundtrip(
        D.Nat44IdentityMappingDescriptor(vpp), ctx, I.Nat44IdentityMapping("10.9.0.1", I.NatProtocol.UDP, 4789)
    )
    await roundtrip(D.Nat44IdentityMappingDescriptor(vpp), ctx, I.Nat44IdentityMapping("10.9.0.1", vrf=0))


async def test_nat44_enable_when_enabled_is_not_an_error(vpp: VPPConnection) -> None:
    await vpp.call("nat44_ed_plugin_enable_disable", enable=True, flags=1)
    ctx, g = Ctx(), D.Nat44GlobalDescriptor(vpp)
    await ctx.create(g, I.Nat44Global())
    assert [r.key for r in await g.retrieve(ctx, {})] == ["vpp/nat44/global"]


async def test_stn(vpp: VPPConnection) -> None:
    ctx = Ctx()
    await ctx.create(D.InterfaceDescriptor(vpp), I.Interface("tap-vpp2", I.Loopback()))
    await roundtrip(D.StnRuleDescriptor(vpp), ctx, I.StnRule("10.1.1.5", "tap-vpp2"))


async def test_proxy_arp(vpp: VPPConnection) -> None:
    ctx = Ctx()
    await ctx.create(D.InterfaceDescriptor(vpp), I.Interface("tap-vpp2", I.Loopback()))
    await roundtrip(D.ProxyArpRangeDescriptor(vpp), ctx, I.ProxyArpRange("10.1.1.1", "10.1.1.254"))
    await roundtrip(D.ProxyArpInterfaceDescriptor(vpp), ctx, I.ProxyArpInterface("tap-vpp2"))


async def test_punt_redirect(vpp: VPPConnection) -> None:
    ctx = Ctx()
    await ctx.create(D.InterfaceDescriptor(vpp), I.Interface("tap-vpp2", I.Loopback()))
    await ctx.create(D.InterfaceDescriptor(vpp), I.Interface("other", I.Loopback()))
    d = D.PuntRedirectDescriptor(vpp)
    await roundtrip(d, ctx, I.PuntRedirect("tap-vpp2", "10.1.1.5"), I.PuntRedirect("other", "10.1.1.6"))
    await roundtrip(d, ctx, I.PuntRedirect("tap-vpp2", "fd00::5", rx_interface="other"))
    # a redirect to an interface nobody tagged is someone else's
    foreign = await vpp.call("create_loopback")
    path = {"sw_if_index": foreign.sw_if_index, "nh": {"address": {"ip4": "1.2.3.4"}}, "label_stack": [{}] * 16}
    punt = {"af": 0, "n_paths": 1, "paths": [path]}
    await vpp.call("add_del_ip_punt_redirect_v2", is_add=True, punt=punt)
    r = await found(d, ctx, "vpp/punt/ip4/any")
    assert r is not None and r.owned is False and r.value.interface == "loop2"


async def test_session_layer_and_app_namespace(vpp: VPPConnection) -> None:
    ctx, s = Ctx(), D.SessionLayerDescriptor(vpp)
    await ctx.create(D.InterfaceDescriptor(vpp), I.Interface("loop-pod", I.Loopback()))
    await roundtrip(s, ctx, I.SessionLayer())
    await ctx.create(s, I.SessionLayer())
    await roundtrip(
        D.AppNamespaceDescriptor(vpp),
        ctx,
        I.AppNamespace("pod1", 42, "loop-pod"),
        I.AppNamespace("pod1", 43, "loop-pod"),
    )


async def test_dhcp_client_and_lease_event(vpp: VPPConnection, emu: Emulator) -> None:
    ctx = Ctx()
    leases: list[object] = []
    vpp.add_event_listener(lambda name, msg: leases.append(msg) if name == "dhcp_compl_event" else None)
    idx = await ctx.create(D.InterfaceDescriptor(vpp), I.Interface(NIC, I.Physical(NIC)))
    dhcp = D.DhcpClientDescriptor(vpp)
    await ctx.create(dhcp, I.DhcpClient(NIC, hostname="node1"))
    emu.dhcp_lease(idx, "10.20.0.5/24", "10.20.0.1")
    for _ in range(100):  # the event comes before the reply to a later request; poll, bounded
        if leases:
            break
        await vpp.call("control_ping")
    assert leases and str(leases[0].lease.host_address) == "10.20.0.5"  # type: ignore[attr-defined]
    # what the lease put on the NIC is not the agent's to delete
    addrs = {r.key: r for r in await D.AddressDescriptor(vpp).retrieve(ctx, {})}
    assert addrs[f"vpp/address/{NIC}/10.20.0.5/24"].owned is False
    routes = {r.key: r for r in await D.RouteDescriptor(vpp).retrieve(ctx, {})}
    assert routes["vpp/route/0/0.0.0.0/0"].owned is False
    r = await found(dhcp, ctx, f"vpp/dhcp/{NIC}")
    assert r is not None and r.owned and dhcp.equivalent(I.DhcpClient(NIC, hostname="node1"), r.value)
    await ctx.delete(dhcp, I.DhcpClient(NIC, hostname="node1"))
    assert await found(dhcp, ctx, f"vpp/dhcp/{NIC}") is None
