"""The pod's own half of its wiring, the same whichever dataplane plays the vswitch.

Inside the pod's namespace: ``podIP/32`` on the interface, a link route to
the gateway, a default route via it, and a permanent ARP entry gateway →
the vswitch's MAC for this pod, so the first packet needs no ARP round trip.
Keeping it in one place is what guarantees a pod cannot tell which
dataplane wires it: VPP and the kernel differ only on the far end of the link.
"""

from __future__ import annotations

import ipaddress

from contivctl.iptypes import IPAddress
from contivctl.items import Item
from contivctl.items import linux as lx
from contivctl.model import Attachment
from contivctl.render import naming
from contivctl.render.inputs import PodNetwork


def host_prefix(ip: IPAddress) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """``ip`` as a host prefix (/32 or /128): a pod owns exactly its address."""
    return ipaddress.ip_interface(f"{ip}/{ip.max_prefixlen}")


def pod_veth(att: Attachment, net: PodNetwork, *, mac: str | None = None) -> lx.Veth:
    """The pod's veth pair: its vswitch end named from the attachment, the pod end ``CNI_IFNAME``.

    ``mac`` is the vswitch end's MAC, where the vswitch end itself answers
    the pod (the kernel dataplane); VPP answers with its AF_PACKET's own.
    """
    cid, ifname = att.container_id, att.ifname
    return lx.Veth(
        name=naming.host_veth_name(cid, ifname),
        netns=net.vswitch_netns,
        peer_name=ifname,
        peer_netns=att.netns,
        mtu=net.mtu,
        peer_mac=naming.pod_side_mac(cid, ifname),
        checksum_offload=net.checksum_offload,
        mac=mac,
    )


def render_pod_side(att: Attachment, gateway: IPAddress, link_key: str, gateway_mac: str) -> list[Item]:
    """Address, gateway link route, default route and the gateway's permanent ARP entry.

    ``link_key`` is the item that makes the pod's interface (a veth or a
    moved TAP); ``gateway_mac`` is the MAC the vswitch answers with.
    """
    netns, ifname = att.netns, att.ifname
    gw_net = ipaddress.ip_network(f"{gateway}/{gateway.max_prefixlen}")
    default = ipaddress.ip_network("0.0.0.0/0" if att.ip.version == 4 else "::/0")
    gw_route = lx.Route(netns=netns, dst=gw_net, dev=ifname, link=link_key)
    return [
        lx.Address(netns=netns, ifname=ifname, address=host_prefix(att.ip), link=link_key),
        gw_route,
        lx.Route(netns=netns, dst=default, dev=ifname, link=link_key, via=gateway, requires=(gw_route.key,)),
        lx.Neighbour(netns=netns, ifname=ifname, ip=gateway, mac=gateway_mac, link=link_key),
    ]
