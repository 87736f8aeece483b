"""The complete set of dataplane items that wires one pod attachment to VPP.

Pure: the same attachment and network give the same items, which is what
lets a restarted agent re-render every pod and find nothing to do.

Pod side (inside the pod's namespace, render/pod_side.py, shared with the
kernel dataplane): ``podIP/32`` on the interface, a link route to the
gateway, a default route via it, and a permanent ARP entry gateway → VPP's
MAC. VPP side: the pod's interface (AF_PACKET on a veth, or a TAP) in the pod
VRF, unnumbered to the node's pod-gateway loopback; a /32 route to the pod
and a static ARP entry back to it. VPP-TCP-stack pods also get a loopback,
an application namespace and an STN rule.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from contivctl.items import linux as lx
from contivctl.items import vpp
from contivctl.model import Attachment, IPAddress
from contivctl.render import naming
from contivctl.render.pod_side import render_pod_side

PodIfMode = Literal["veth", "tap"]
#: VPP's loopback that carries the pod gateway address (see render/vswitch.py).
POD_GATEWAY_LOOP = "pod-gw-loop"
#: The original's application namespace secret.
APP_NS_SECRET = 42


@attrs.frozen
class PodNetwork:
    """What the pod renderer needs to know of the node (from config and the IPAM plan)."""

    mode: PodIfMode
    gateway: IPAddress
    pod_vrf: int
    mtu: int = 0
    rx_ring_size: int = 256
    tx_ring_size: int = 256
    checksum_offload: bool = True
    rx_mode: vpp.RxMode | None = None
    #: namespace of the vswitch side of veth pairs ("" = the agent's own)
    vswitch_netns: str = lx.HOST_NS


def _host_prefix(ip: IPAddress) -> int:
    return ip.max_prefixlen


def render_pod(att: Attachment, net: PodNetwork) -> dict[str, Any]:
    """Every item of one attachment, keyed."""
    cid, ifname = att.container_id, att.ifname
    pod_mac = naming.pod_side_mac(cid, ifname)
    vpp_mac = naming.vpp_side_mac(cid, ifname)
    vpp_if = naming.vpp_pod_if_name(cid, ifname)
    items: list[Any] = []

    if net.mode == "veth":
        veth = lx.Veth(
            name=naming.host_veth_name(cid, ifname),
            netns=net.vswitch_netns,
            peer_name=ifname,
            peer_netns=att.netns,
            mtu=net.mtu,
            peer_mac=pod_mac,
            checksum_offload=net.checksum_offload,
        )
        link_key = veth.key
        vpp_link: vpp.Link = vpp.AfPacket(host_if_name=veth.name, requires=veth.key)
        items.append(veth)
    else:
        temp = naming.tap_temp_name(cid, ifname)
        vpp_link = vpp.Tap(host_if_name=temp, rx_ring_size=net.rx_ring_size, tx_ring_size=net.tx_ring_size)
        tap_side = lx.TapPodSide(
            temp_name=temp,
            netns=att.netns,
            ifname=ifname,
            vpp_tap=vpp.interface_key(vpp_if),
            mtu=net.mtu,
            mac=pod_mac,
        )
        link_key = tap_side.key
        items.append(tap_side)

    items.append(
        vpp.Interface(
            name=vpp_if,
            link=vpp_link,
            mtu=net.mtu or None,
            mac=vpp_mac,
            rx_mode=net.rx_mode,
            vrf=net.pod_vrf,
            unnumbered_to=POD_GATEWAY_LOOP,
        )
    )

    host_len = _host_prefix(att.ip)
    items += render_pod_side(att, net.gateway, link_key, vpp_mac)
    items.append(vpp.Neighbor(interface=vpp_if, ip=str(att.ip), mac=pod_mac))

    if att.tcp_stack:
        loop = naming.vpp_pod_loop_name(cid, ifname)
        items += [
            vpp.Interface(name=loop, link=vpp.Loopback(), vrf=net.pod_vrf),
            vpp.Address(interface=loop, address=f"{att.ip}/{host_len}"),
            vpp.AppNamespace(id=naming.app_namespace_id(cid, ifname), secret=APP_NS_SECRET, interface=loop),
            vpp.StnRule(ip=str(att.ip), interface=vpp_if),
        ]
    else:
        items.append(vpp.Route(vrf=net.pod_vrf, dst=f"{att.ip}/{host_len}", next_hop=str(att.ip), interface=vpp_if))
    return {item.key: item for item in items}


def pod_netns_paths(attachments: list[Attachment]) -> list[str]:
    return sorted({a.netns for a in attachments})
