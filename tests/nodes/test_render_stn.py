"""STN mode's base config, rendered from what the STN daemon stole (pure: no root, no I/O)."""

from __future__ import annotations

import ipaddress
from typing import Any

import attrs
import pytest

from contivctl.config import parse_config
from contivctl.config.model import NodeConfig
from contivctl.errors import ConfigError
from contivctl.ipam import node_setup
from contivctl.items import linux as lx
from contivctl.items import vpp
from contivctl.model import NodeInfo, StolenInterface, StolenRoute
from contivctl.render.inputs import VswitchInputs
from contivctl.render.remote import overlay_plan
from contivctl.render.vpp.base import render_vswitch_base
from contivctl.render.vpp.nics import default_interface
from contivctl.render.vpp.nodes import render_node
from contivctl.render.vpp.stn import STN_HOST_MAC, proxy_arp_range

NIC = "GigabitEthernet0/8/0"
IP4 = ipaddress.IPv4Address
NET4 = ipaddress.IPv4Network

STOLEN = StolenInterface(
    name="eth1",
    addresses=(ipaddress.IPv4Interface("10.20.0.5/24"), ipaddress.IPv4Interface("10.66.0.5/16")),
    routes=(
        StolenRoute(None, IP4("10.20.0.1")),
        StolenRoute(NET4("10.20.0.0/24")),
        StolenRoute(NET4("10.67.0.0/16"), IP4("10.20.0.2")),
    ),
)


def inputs(stolen: StolenInterface | None = STOLEN, **cfg: Any) -> VswitchInputs:
    data: dict[str, Any] = {"StealInterface": "eth1", "UseTAPInterfaces": True, "RouteServiceCIDRToVPP": True}
    data.update(cfg)
    setup = node_setup(parse_config(data, node="a"), "a", 5, stolen=stolen)
    return VswitchInputs(
        eff=setup.eff,
        plan=setup.plan,
        nics=(NIC,),
        host_ips=(IP4("192.0.2.9"), IP4("10.20.0.5")),
        stolen=setup.stolen,
    )


def test_the_stolen_nic_moves_into_vpp() -> None:
    i = inputs()
    assert i.plan.node_ip == ipaddress.IPv4Interface("10.20.0.5/24")  # no NodeInterconnectCIDR needed
    items = render_vswitch_base(i)
    assert {k for k in items if k.startswith(f"vpp/address/{NIC}/")} == {
        f"vpp/address/{NIC}/10.20.0.5/24",
        f"vpp/address/{NIC}/10.66.0.5/16",
    }
    assert items["vpp/route/0/0.0.0.0/0"] == vpp.Route(0, "0.0.0.0/0", next_hop="10.20.0.1", interface=NIC)
    assert items["vpp/route/0/10.67.0.0/16"] == vpp.Route(0, "10.67.0.0/16", next_hop="10.20.0.2", interface=NIC)
    assert "vpp/route/0/10.20.0.0/24" not in items  # the NIC's own subnet is connected in VPP
    assert default_interface(i) == (NIC, ipaddress.IPv4Interface("10.20.0.5/24"))


def test_host_interconnect_unnumbered_with_the_node_ip_on_the_host_end() -> None:
    items = render_vswitch_base(inputs())
    tap = items["vpp/interface/tap-vpp2"]
    assert tap.unnumbered_to == NIC and isinstance(tap.link, vpp.Tap)
    assert tap.link.host_mac == STN_HOST_MAC
    assert not [k for k in items if k.startswith("vpp/address/tap-vpp2/")]  # no VPP-host subnet address
    assert items["linux/address/host/vpp1/10.20.0.5/24"].address == ipaddress.IPv4Interface("10.20.0.5/24")
    assert items["vpp/neighbor/tap-vpp2/10.20.0.5"] == vpp.Neighbor("tap-vpp2", "10.20.0.5", STN_HOST_MAC, True)
    # the host stack goes through VPP: pods, services and every stolen route with a next hop
    routes = {k: (r.via, r.dev) for k, r in items.items() if isinstance(r, lx.Route)}
    assert routes == {
        "linux/route/host/10.1.0.0/16": (IP4("10.20.0.1"), "vpp1"),
        "linux/route/host/10.96.0.0/12": (IP4("10.20.0.1"), "vpp1"),
        "linux/route/host/0.0.0.0/0": (IP4("10.20.0.1"), "vpp1"),
        "linux/route/host/10.67.0.0/16": (IP4("10.20.0.2"), "vpp1"),
    }
    assert items["linux/neighbour/host/vpp1/10.20.0.1"].mac == "12:3c:00:00:00:05"  # VPP's end of the link
    # VPP routes the host's other addresses back over the link, via the node IP
    assert items["vpp/route/0/192.0.2.9/32"] == vpp.Route(0, "192.0.2.9/32", next_hop="10.20.0.5", interface="tap-vpp2")
    assert "vpp/route/0/10.20.0.5/32" not in items


@pytest.mark.parametrize(("version", "kind"), [(0, vpp.StnRule), (1, vpp.StnRule), (2, vpp.PuntRedirect)])
def test_traffic_for_the_host_by_stn_rule_or_punt_redirect(version: int, kind: type) -> None:
    items = render_vswitch_base(inputs(STNVersion=version))
    to_host = [v for v in items.values() if isinstance(v, vpp.StnRule | vpp.PuntRedirect)]
    assert len(to_host) == 1 and isinstance(to_host[0], kind)
    if kind is vpp.StnRule:
        assert to_host[0] == vpp.StnRule("10.20.0.5", "tap-vpp2")
    else:
        assert to_host[0] == vpp.PuntRedirect("tap-vpp2", "10.20.0.5")


def test_proxy_arp_for_the_node_subnet() -> None:
    items = render_vswitch_base(inputs())
    assert items["vpp/proxyarp/range/0/10.20.0.1-10.20.0.254"] == vpp.ProxyArpRange("10.20.0.1", "10.20.0.254")
    assert "vpp/proxyarp/interface/tap-vpp2" in items
    assert proxy_arp_range(NET4("10.0.0.0/30")) == (IP4("10.0.0.1"), IP4("10.0.0.2"))
    assert proxy_arp_range(NET4("10.0.0.0/31")) == (IP4("10.0.0.0"), IP4("10.0.0.1"))


def test_veth_form_gives_the_host_end_the_stn_mac() -> None:
    items = render_vswitch_base(inputs(UseTAPInterfaces=False))
    afp = items["vpp/interface/afpacket-vpp2"]
    assert afp.unnumbered_to == NIC
    veth = items["linux/veth/host/vpp2"]
    assert isinstance(veth, lx.Veth) and veth.peer_mac == STN_HOST_MAC


def test_a_made_up_gateway_without_a_default_route() -> None:
    stolen = attrs.evolve(STOLEN, routes=(StolenRoute(NET4("10.20.0.0/24")),))
    items = render_vswitch_base(inputs(stolen))
    assert items["linux/route/host/10.1.0.0/16"].via == IP4("10.20.0.1")
    assert "vpp/route/0/0.0.0.0/0" not in items and "linux/route/host/0.0.0.0/0" not in items


def test_nothing_of_stn_before_the_daemon_told() -> None:
    i = inputs(None)
    assert i.plan.node_ip is None
    items = render_vswitch_base(i)
    assert not [k for k in items if "tap-vpp2" in k or k.startswith(("linux/", "vpp/stn/", "vpp/proxyarp/"))]


def test_overlay_runs_from_the_stolen_address() -> None:
    items = render_node(overlay_plan(inputs()), NodeInfo(2, "b", ("10.20.0.6/24",)))
    assert items["vpp/interface/vxlan2"].link == vpp.Vxlan("10.20.0.5", "10.20.0.6", 10)


def test_stn_mode_does_not_change_at_run_time() -> None:
    plain = inputs(None, StealInterface="", IPAMConfig={"NodeInterconnectCIDR": "10.20.0.0/24"})
    with pytest.raises(ConfigError, match="would turn STN mode on"):
        plain.reconfigured(NodeConfig(steal_interface="eth2"), None)
    by_entry = inputs(StealInterface="", NodeConfig=[{"NodeName": "a", "StealInterface": "eth1"}])
    assert by_entry.eff.stn_mode
    with pytest.raises(ConfigError, match="would turn STN mode off"):
        by_entry.reconfigured(NodeConfig(), None)
    kept = by_entry.reconfigured(NodeConfig(steal_interface="eth1", nat_external_traffic=True), None)
    assert kept.stolen == STOLEN and kept.plan.node_ip == ipaddress.IPv4Interface("10.20.0.5/24")


def test_services_see_the_host_through_stns_interconnect() -> None:
    """A node forwarding Services: the interconnect STN mode builds is NAT inside and outside, as outside STN."""
    items = render_vswitch_base(attrs.evolve(inputs(), services=True))
    assert "vpp/interface/tap-vpp2" in items
    assert items["vpp/nat44/interface/tap-vpp2"] == vpp.Nat44Interface(interface="tap-vpp2", inside=True, outside=True)
