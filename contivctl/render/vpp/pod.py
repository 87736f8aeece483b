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

from contivctl.items import Item, Items, keyed, vpp
from contivctl.items import linux as lx
from contivctl.model import Attachment
from contivctl.render import naming
from contivctl.render.inputs import PodNetwork, VswitchInputs
from contivctl.render.pod_side import host_prefix, pod_veth, render_pod_side
from contivctl.render.vpp.names import APP_NS_SECRET, POD_GATEWAY_LOOP
from contivctl.render.vpp.nics import rx_mode
from contivctl.render.vpp.services import pod_service_nat


def render_pod(att: Attachment, net: PodNetwork) -> Items:
    """Every item of one attachment, keyed."""
    cid, ifname = att.container_id, att.ifname
    pod_mac = naming.pod_side_mac(cid, ifname)
    vpp_mac = naming.vpp_side_mac(cid, ifname)
    vpp_if = naming.vpp_pod_if_name(cid, ifname)
    items: list[Item] = []

    if net.mode == "veth":
        veth = pod_veth(att, net)
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
            checksum_offload=net.checksum_offload,
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

    host = host_prefix(att.ip)
    items += render_pod_side(att, net.gateway, link_key, vpp_mac)
    items.append(vpp.Neighbor(interface=vpp_if, ip=att.ip, mac=pod_mac))

    if att.tcp_stack:
        loop = naming.vpp_pod_loop_name(cid, ifname)
        items += [
            vpp.Interface(name=loop, link=vpp.Loopback(), vrf=net.pod_vrf),
            vpp.Address(interface=loop, address=host),
            vpp.AppNamespace(id=naming.app_namespace_id(cid, ifname), secret=APP_NS_SECRET, interface=loop),
            vpp.StnRule(ip=att.ip, interface=vpp_if),
            # the original's "container IP": VPP owns the pod's address on its interface (answers its ARP)
            vpp.ContainerProxy(interface=vpp_if, prefix=host_prefix(att.ip).network),
        ]
    else:
        items.append(vpp.Route(vrf=net.pod_vrf, dst=host.network, next_hop=att.ip, interface=vpp_if))
    if net.service_nat:
        items.append(pod_service_nat(vpp_if))
    return keyed(*items)



def pod_network(inputs: VswitchInputs) -> PodNetwork:
    cfg, plan = inputs.config, inputs.plan
    return PodNetwork(
        mode="tap" if cfg.use_tap_interfaces else "veth",
        gateway=plan.pod_gateway,
        pod_vrf=cfg.pod_vrf_id,
        mtu=cfg.mtu_size,
        rx_ring_size=cfg.tap_v2_rx_ring_size,
        tx_ring_size=cfg.tap_v2_tx_ring_size,
        checksum_offload=not cfg.tcp_checksum_offload_disabled,
        rx_mode=rx_mode(cfg),
        tcp_stack=not cfg.tcp_stack_disabled,
        service_nat=inputs.services,
    )
