"""The kernel dataplane's renderers, without root: pure functions of the view."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import attrs

from contivctl.agent.agent import dataplane_parts
from contivctl.agent.kernel import KernelParts
from contivctl.agent.options import AgentOptions
from contivctl.agent.vpp import VppParts
from contivctl.config.model import Config
from contivctl.ipam import node_setup
from contivctl.items import kernel as kx
from contivctl.items import linux as lx
from contivctl.model import Attachment, NodeInfo, PodRef
from contivctl.render import kernel as kernel_render
from contivctl.render import naming
from contivctl.render import vpp as vpp_render
from contivctl.render.inputs import VswitchInputs
from contivctl.render.kernel import kernel_pod_network, render_kernel_base, render_kernel_node, render_kernel_pod
from contivctl.render.vpp.pod import pod_network, render_pod
from tests.kernel.support import config

NS = "/var/run/netns/node1"
POD_NS = "/var/run/netns/pod1"


def kernel_vswitch_inputs(cfg: Config, node_name: str, node_id: int, netns: str) -> VswitchInputs:
    """What the kernel flavour's inputs are: the node setup, with ``netns`` as the vswitch."""
    setup = node_setup(cfg, node_name, node_id)
    return VswitchInputs(eff=setup.eff, plan=setup.plan, host_netns=netns)


def _attachment() -> Attachment:
    return Attachment("c" * 64, "eth0", POD_NS, PodRef("default", "p"), ipaddress.ip_address("10.1.1.2"))


def _pod_side(items: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in items.items() if f"/{POD_NS}/" in k}


def test_the_pod_side_is_the_same_as_with_vpp() -> None:
    cfg = config()
    inputs = kernel_vswitch_inputs(cfg, "n1", 1, NS)
    att = _attachment()
    kernel = render_kernel_pod(att, kernel_pod_network(inputs))
    # VETH mode with its veth in the same namespace: only the far end of the link differs
    vpp = render_pod(att, attrs.evolve(pod_network(inputs), vswitch_netns=NS))
    assert _pod_side(kernel) == _pod_side(vpp)
    assert len(_pod_side(kernel)) == 4  # address, gateway route, default route, gateway ARP entry
    assert not any(k.startswith("vpp/") for k in kernel)


def test_the_vswitch_side_of_a_pod() -> None:
    cfg = config()
    inputs = kernel_vswitch_inputs(cfg, "n1", 1, NS)
    att = _attachment()
    items = render_kernel_pod(att, kernel_pod_network(inputs))
    host_end = naming.host_veth_name(att.container_id, "eth0")
    veth = items[lx.veth_key(NS, host_end)]
    assert isinstance(veth, lx.Veth)
    assert (veth.netns, veth.peer_netns, veth.mac) == (NS, POD_NS, naming.vpp_side_mac(att.container_id, "eth0"))
    gw = items[f"linux/address/{NS}/{host_end}/10.1.1.1/32"]
    assert isinstance(gw, lx.Address) and gw.link == veth.key
    route = items[f"linux/route/{NS}/10.1.1.2/32"]
    assert isinstance(route, lx.Route) and (route.dev, route.via) == (host_end, None)


def test_base_config_vxlan_and_snat() -> None:
    plain = render_kernel_base(kernel_vswitch_inputs(config(), "n1", 1, NS))
    assert set(plain) == {
        kx.sysctl_key(NS, "net.ipv4.ip_forward"),
        kx.vxlan_key(NS, "contiv-vxlan"),
        f"linux/address/{NS}/contiv-vxlan/10.78.0.1/24",
    }
    vxlan = plain[kx.vxlan_key(NS, "contiv-vxlan")]
    assert isinstance(vxlan, kx.VxlanLink)
    assert (vxlan.vni, str(vxlan.local), vxlan.mac) == (10, "10.77.0.1", "12:2b:00:00:00:01")

    nat = render_kernel_base(kernel_vswitch_inputs(config(NatExternalTraffic=True), "n1", 1, NS))
    table = nat[kx.snat_key(NS, "contiv")]
    assert isinstance(table, kx.SnatTable)
    assert [str(n) for n in table.sources] == ["10.1.1.0/24"] and [str(n) for n in table.internal] == ["10.1.0.0/16"]

    l2 = render_kernel_base(kernel_vswitch_inputs(config(UseL2Interconnect=True), "n1", 1, NS))
    assert set(l2) == {kx.sysctl_key(NS, "net.ipv4.ip_forward")}


def test_items_towards_another_node() -> None:
    other = NodeInfo(id=2, name="n2", ip_addresses=("10.77.0.2/24",))
    vxlan = render_kernel_node(kernel_vswitch_inputs(config(), "n1", 1, NS), other)
    fdb = vxlan[f"linux/fdb/{NS}/contiv-vxlan/12:2b:00:00:00:02"]
    assert isinstance(fdb, kx.FdbEntry) and str(fdb.dst) == "10.77.0.2"
    neigh = vxlan[f"linux/neighbour/{NS}/contiv-vxlan/10.78.0.2"]
    assert isinstance(neigh, lx.Neighbour) and neigh.mac == "12:2b:00:00:00:02"
    route = vxlan[f"linux/route/{NS}/10.1.2.0/24"]
    assert isinstance(route, lx.Route) and str(route.via) == "10.78.0.2"
    assert len(vxlan) == 3

    l2 = render_kernel_node(kernel_vswitch_inputs(config(UseL2Interconnect=True), "n1", 1, NS), other)
    assert list(l2.values()) == [
        kx.GatewayRoute(NS, ipaddress.ip_network("10.1.2.0/24"), ipaddress.ip_address("10.77.0.2"))
    ]
    itself = NodeInfo(id=1, name="n1", ip_addresses=("10.77.0.1/24",))
    assert render_kernel_node(kernel_vswitch_inputs(config(), "n1", 1, NS), itself) == {}


def test_renderers_by_dataplane(tmp_path: Path) -> None:
    opts = AgentOptions(config=tmp_path / "contiv.yaml", node_name="n1", store=tmp_path / "agent.db")
    kernel = dataplane_parts(attrs.evolve(opts, dataplane="kernel"), config())
    vpp = dataplane_parts(opts, config(CleanupIdleNATSessions=True))
    assert isinstance(kernel, KernelParts) and kernel.renderers is kernel_render.RENDERERS
    assert isinstance(vpp, VppParts) and vpp.renderers is vpp_render.RENDERERS
    # CleanupIdleNATSessions: swept every OtherNATSessionTimeout, by the VPP flavour only
    assert vpp.nat_sweeper is not None and vpp.nat_sweeper.interval == 300.0
    assert vpp.nat_sweeper.timeouts.tcp == 3 * 3600.0
    quiet = dataplane_parts(opts, config())  # v2.0's default: off
    assert isinstance(quiet, VppParts) and quiet.nat_sweeper is None
