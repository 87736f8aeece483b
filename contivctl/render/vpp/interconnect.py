"""The link between VPP and the host's own network stack, and the routes over it.

TAP form: VPP makes a TAP whose kernel end (``vpp1``) stays in the host
stack; the agent adopts that end for its address and routes. VETH form: a
veth pair ``vpp1``/``vpp2`` with a VPP AF_PACKET on ``vpp2``. Either way
VPP's end has the first address of this node's VPP-host subnet and the host
end the second; the host routes the pod CIDR (and, with
RouteServiceCIDRToVPP, the service CIDR) via VPP, and VPP routes each of
the host's own addresses back over the link. MACs are per node (see
render/naming.py), never the original's fixed multicast one.
"""

from __future__ import annotations

import ipaddress

from contivctl.items import Item, Items, keyed, vpp
from contivctl.items import linux as lx
from contivctl.render import naming
from contivctl.render.inputs import VswitchInputs
from contivctl.render.vpp import names as nn
from contivctl.render.vpp.nics import rx_mode


def host_interconnect_if_name(inputs: VswitchInputs) -> str:
    return nn.HOST_TAP_VPP if inputs.config.use_tap_interfaces else nn.HOST_AFPACKET_VPP


def render_interconnect(inputs: VswitchInputs) -> Items:
    cfg = inputs.config
    plan = inputs.plan
    if inputs.eff.stn_mode:
        return {}  # STN mode has an interconnect of its own (render/vpp/stn.py)
    mtu = cfg.mtu_size or None
    vpp_if = host_interconnect_if_name(inputs)
    vpp_mac = naming.host_interconnect_vpp_mac(plan.node_id)
    host_mac = naming.host_interconnect_host_mac(plan.node_id)
    items: list[Item] = []
    if cfg.use_tap_interfaces:
        link: vpp.Link = vpp.Tap(
            host_if_name=inputs.host_if,
            host_mac=host_mac,
            host_mtu=mtu,
            host_netns=inputs.host_netns,
            rx_ring_size=cfg.tap_v2_rx_ring_size,
            tx_ring_size=cfg.tap_v2_tx_ring_size,
        )
        host_link: lx.AdoptedLink | lx.Veth = lx.AdoptedLink(
            netns=inputs.host_netns,
            name=inputs.host_if,
            maker=vpp.interface_key(vpp_if),
            mtu=mtu or 0,
            checksum_offload=not cfg.tcp_checksum_offload_disabled,
        )
    else:
        host_link = lx.Veth(
            name=inputs.vswitch_if,
            netns=lx.HOST_NS,
            peer_name=inputs.host_if,
            peer_netns=inputs.host_netns,
            mtu=mtu or 0,
            peer_mac=host_mac,
            checksum_offload=not cfg.tcp_checksum_offload_disabled,
        )
        link = vpp.AfPacket(host_if_name=inputs.vswitch_if, requires=host_link.key)
    items += [
        host_link,
        vpp.Interface(name=vpp_if, link=link, vrf=cfg.main_vrf_id, mtu=mtu, mac=vpp_mac, rx_mode=rx_mode(cfg)),
        vpp.Address(interface=vpp_if, address=plan.vpp_host_vpp_ip),
    ]
    host_addr = lx.Address(
        netns=inputs.host_netns, ifname=inputs.host_if, address=plan.vpp_host_host_ip, link=host_link.key
    )
    items.append(host_addr)
    vpp_end = plan.vpp_host_vpp_ip.ip
    to_vpp = [plan.pod_subnet_cidr]
    if cfg.route_service_cidr_to_vpp and cfg.ipam.service_cidr is not None:
        to_vpp.append(cfg.ipam.service_cidr)
    for dst in to_vpp:
        items.append(
            lx.Route(
                netns=inputs.host_netns,
                dst=dst,
                dev=inputs.host_if,
                link=host_link.key,
                via=vpp_end,
                requires=(host_addr.key,),
            )
        )
    host_end = plan.vpp_host_host_ip.ip
    node_ip = plan.node_ip.ip if plan.node_ip is not None else None
    for ip in inputs.host_ips:
        if ip.version != 4 or ip in plan.vpp_host_network or ip == node_ip or ip.is_loopback:
            continue
        host_route = ipaddress.ip_network(ip)
        items.append(vpp.Route(vrf=cfg.main_vrf_id, dst=host_route, next_hop=host_end, interface=vpp_if))
    return keyed(*items)
