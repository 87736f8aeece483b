"""Pure renderer tests: node events, MACs, and the vswitch base config (no root, no I/O)."""

from __future__ import annotations

import ipaddress

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contivctl.config import effective_config, parse_config
from contivctl.config.model import InterfaceConfig, NodeConfig
from contivctl.ipam import node_plan
from contivctl.items import linux as lx
from contivctl.items import vpp
from contivctl.model import Attachment, NodeInfo, PodRef
from contivctl.render import naming
from contivctl.render.inputs import VswitchInputs
from contivctl.render.remote import OverlayPlan, overlay_plan
from contivctl.render.vpp.base import render_vswitch_base
from contivctl.render.vpp.nat import render_nat
from contivctl.render.vpp.nics import default_interface, main_nic
from contivctl.render.vpp.nodes import render_node, render_nodes
from contivctl.render.vpp.pod import pod_network, render_pod

NODES = {
    2: NodeInfo(2, "b", ("192.168.16.2/24",), ("10.20.0.2", "192.168.16.2")),
    3: NodeInfo(3, "c", ("192.168.16.3/24",)),
    4: NodeInfo(4, "d"),  # no record address: computed from NodeInterconnectCIDR
}


def inputs(**cfg: object) -> VswitchInputs:
    data: dict[str, object] = {"IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24"}}
    data.update(cfg)
    c = parse_config(data)
    eff = effective_config(c, "a")
    plan = node_plan(c.ipam, 1, dhcp=eff.use_dhcp, static_ip=eff.main_interface.ip)
    return VswitchInputs(eff=eff, plan=plan, nics=("GigabitEthernet0/8/0", "GigabitEthernet0/9/0"))


def plan(**cfg: object) -> OverlayPlan:
    return overlay_plan(inputs(**cfg))


def test_vxlan_items_of_one_node() -> None:
    items = render_node(plan(), NODES[2])
    assert items["vpp/interface/vxlan2"] == vpp.Interface(
        name="vxlan2", link=vpp.Vxlan(src="192.168.16.1", dst="192.168.16.2", vni=10)
    )
    assert items["vpp/bdmember/vxlanBD/vxlan2"].shg == 1
    assert items["vpp/neighbor/vxlanBVI/192.168.30.2"].mac == "12:2b:00:00:00:02"
    assert items["vpp/l2fib/vxlanBD/12:2b:00:00:00:02"].interface == "vxlan2"
    for dst in ("10.1.2.0/24", "172.30.2.0/24", "10.20.0.2/32"):
        r = items[f"vpp/route/1/{dst}"]
        assert (r.next_hop, r.interface) == (ipaddress.ip_address("192.168.30.2"), "vxlanBVI")
    assert items["vpp/route/0/10.20.0.2/32"].lookup_vrf == 1
    # the management IP that is the node's own interconnect address is not redirected into the pod VRF
    assert "vpp/route/0/192.168.16.2/32" not in items and "vpp/route/1/192.168.16.2/32" not in items
    assert len(items) == 8


def test_node_ip_from_ipam_when_the_record_has_none() -> None:
    assert render_node(plan(), NODES[4])["vpp/interface/vxlan4"].link.dst == ipaddress.ip_address("192.168.16.4")


def test_l2_items() -> None:
    items = render_node(plan(UseL2Interconnect=True), NODES[2])
    other = ipaddress.ip_address("192.168.16.2")
    assert {k: (v.vrf, v.next_hop) for k, v in items.items()} == {
        "vpp/route/0/10.1.2.0/24": (0, other),
        "vpp/route/0/172.30.2.0/24": (0, other),
        "vpp/route/0/10.20.0.2/32": (0, other),
    }


def test_self_and_unwireable_nodes_render_nothing() -> None:
    assert render_node(plan(), NodeInfo(1, "a", ("192.168.16.1/24",))) == {}
    dhcp = plan(IPAMConfig={"NodeInterconnectDHCP": True})
    assert render_node(dhcp, NodeInfo(2, "b")) == {}  # neither end knows an address
    assert render_node(plan(), NodeInfo(99999, "far")) == {}  # an ID outside every range


@pytest.mark.parametrize("l2", [False, True])
def test_join_change_leave_touch_only_that_node(l2: bool) -> None:
    p = attrs.evolve(plan(), l2=l2)
    before = render_nodes(p, NODES)
    moved = {**NODES, 2: NodeInfo(2, "b", ("192.168.16.22/24",))}
    after = render_nodes(p, moved)
    assert after[3] == before[3] and after[4] == before[4]
    assert after[2] != before[2]
    joined = render_nodes(p, {**NODES, 5: NodeInfo(5, "e")})
    assert all(joined[i] == before[i] for i in NODES)
    others = set().union(*(before[i] for i in (3, 4)))
    assert not set(before[2]) & others  # leaving removes keys no other node has


@given(st.integers(min_value=1, max_value=0xFFFFFFFF))
def test_macs_unicast_locally_administered(node_id: int) -> None:
    for mac in (
        naming.bvi_mac(node_id),
        naming.host_interconnect_vpp_mac(node_id),
        naming.host_interconnect_host_mac(node_id),
        naming.loopback_nic_mac(node_id),
    ):
        first = int(mac.split(":")[0], 16)
        assert first & 1 == 0 and first & 2 == 2, mac


def test_macs_unique_per_node_and_role() -> None:
    roles = (naming.bvi_mac, naming.host_interconnect_vpp_mac, naming.loopback_nic_mac)
    macs = [f(i) for i in range(1, 300) for f in roles]
    assert len(set(macs)) == len(macs)
    assert naming.bvi_mac(5) == "12:2b:00:00:00:05"


def test_base_config_tap() -> None:
    items = render_vswitch_base(inputs(UseTAPInterfaces=True, MTUSize=1450))
    tap = items["vpp/interface/tap-vpp2"]
    assert isinstance(tap.link, vpp.Tap) and tap.link.host_if_name == "vpp1" and tap.mtu == 1450
    assert items["vpp/address/tap-vpp2/172.30.1.1/24"]
    assert items["linux/address/host/vpp1/172.30.1.2/24"].link == "linux/link/host/vpp1"
    route = items["linux/route/host/10.1.0.0/16"]
    assert str(route.via) == "172.30.1.1"
    assert "linux/route/host/10.96.0.0/12" not in items  # RouteServiceCIDRToVPP is off
    assert items["vpp/address/GigabitEthernet0/8/0/192.168.16.1/24"]
    assert "vpp/interface/GigabitEthernet0/9/0" not in items
    assert items["vpp/ipneigh/ip4"] == vpp.NeighborConfig(max_age=240, recycle=True)
    assert items["vpp/interface/vxlanBVI"].mac == "12:2b:00:00:00:01"


def test_base_config_veth() -> None:
    items = render_vswitch_base(inputs(UseTAPInterfaces=False, RouteServiceCIDRToVPP=True))
    veth = items["linux/veth/host/vpp2"]
    assert isinstance(veth, lx.Veth) and veth.peer_name == "vpp1"
    assert items["vpp/interface/afpacket-vpp2"].link == vpp.AfPacket("vpp2", requires=veth.key)
    assert "linux/route/host/10.96.0.0/12" in items


def test_main_nic_choice_static_dhcp_gateway_other_nics() -> None:
    base = inputs()
    assert main_nic(base) == "GigabitEthernet0/8/0"
    node = NodeConfig(
        node_name="a",
        main_vpp_interface=InterfaceConfig("GigabitEthernet0/9/0", ipaddress.ip_interface("10.9.0.5/24")),
        other_vpp_interfaces=(InterfaceConfig("GigabitEthernet0/8/0", ipaddress.ip_interface("10.8.0.5/24")),),
        gateway=ipaddress.ip_address("10.9.0.1"),
    )
    eff = effective_config(base.config, "a", node)
    p = node_plan(base.config.ipam, 1, static_ip=eff.main_interface.ip)
    items = render_vswitch_base(attrs.evolve(base, eff=eff, plan=p))
    assert items["vpp/address/GigabitEthernet0/9/0/10.9.0.5/24"]
    assert items["vpp/address/GigabitEthernet0/8/0/10.8.0.5/24"]
    gw = items["vpp/route/0/0.0.0.0/0"]
    assert (gw.next_hop, gw.interface) == (ipaddress.ip_address("10.9.0.1"), "GigabitEthernet0/9/0")
    assert default_interface(attrs.evolve(base, eff=eff, plan=p)) == (
        "GigabitEthernet0/9/0",
        ipaddress.ip_interface("10.9.0.5/24"),
    )
    dhcp = inputs(IPAMConfig={"NodeInterconnectDHCP": True})
    items = render_vswitch_base(dhcp)
    assert items["vpp/dhcp/GigabitEthernet0/8/0"]
    assert not any(k.startswith("vpp/address/GigabitEthernet") for k in items)


def test_no_nic_loopback_carries_node_ip() -> None:
    items = render_vswitch_base(attrs.evolve(inputs(), nics=()))
    assert items["vpp/interface/loopbackNIC"].mac == "12:4e:00:00:00:01"
    assert items["vpp/address/loopbackNIC/192.168.16.1/24"]


def test_nat_external_traffic() -> None:
    i = inputs(NatExternalTraffic=True, NodeConfig=[{"NodeName": "a", "Gateway": "192.168.16.254"}])
    items = render_nat(i)
    assert items["vpp/nat44/interface/GigabitEthernet0/8/0"].output
    assert items["vpp/nat44/address/192.168.16.1"].vrf == vpp.ANY_VRF
    assert set(k for k in items if "identity" in k) == {
        "vpp/nat44/identity/0/udp/192.168.16.1:4789",
        "vpp/nat44/identity/1/any/192.168.16.1:0",
        "vpp/nat44/identity/0/any/192.168.16.1:0",
    }
    assert render_nat(attrs.evolve(i, eff=attrs.evolve(i.eff, nat_external_traffic=False))) == {}
    l2 = inputs(
        NatExternalTraffic=True, UseL2Interconnect=True, NodeConfig=[{"NodeName": "a", "Gateway": "192.168.16.254"}]
    )
    assert render_nat(l2) == {}


@pytest.mark.parametrize(("rx", "tx"), [(0, 0), (1024, 0), (256, 4096)])
def test_tap_ring_sizes_reach_vpp_as_given_and_0_is_vpps_default(rx: int, tx: int) -> None:
    cfg = {"UseTAPInterfaces": True, "TAPv2RxRingSize": rx, "TAPv2TxRingSize": tx}
    host = render_vswitch_base(inputs(**cfg))["vpp/interface/tap-vpp2"].link
    assert isinstance(host, vpp.Tap) and (host.rx_ring_size, host.tx_ring_size) == (rx, tx)
    (pod,) = [i.link for i in pod_items(**cfg).values() if isinstance(i, vpp.Interface)]
    assert isinstance(pod, vpp.Tap) and (pod.rx_ring_size, pod.tx_ring_size) == (rx, tx)


def pod_items(**cfg: object) -> dict[str, object]:
    att = Attachment("c0ffee", "eth0", "/var/run/netns/p1", PodRef("default", "web"), ipaddress.ip_address("10.1.1.5"))
    return dict(render_pod(att, pod_network(inputs(**cfg))))


@pytest.mark.parametrize("disabled", [True, False])
def test_checksum_offload_follows_the_config_in_tap_mode_too(disabled: bool) -> None:
    cfg = {"UseTAPInterfaces": True, "TCPChecksumOffloadDisabled": disabled}
    host = render_vswitch_base(inputs(**cfg))["linux/link/host/vpp1"]
    assert isinstance(host, lx.AdoptedLink) and host.checksum_offload is not disabled
    (pod,) = [i for i in pod_items(**cfg).values() if isinstance(i, lx.TapPodSide)]
    assert pod.checksum_offload is not disabled
    veth = render_vswitch_base(inputs(UseTAPInterfaces=False, TCPChecksumOffloadDisabled=disabled))
    assert veth["linux/veth/host/vpp2"].checksum_offload is not disabled  # as before, in VETH mode
