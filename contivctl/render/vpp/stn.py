"""STN mode: the node's only NIC is VPP's, and the host stack reaches the world through VPP.

The STN daemon took the NIC from Linux before VPP started; what the NIC had
there (``inputs.stolen``) moves into VPP and behind it:

- VPP's NIC gets every stolen address (the first is the node IP, rendered
  with the NIC in nics.py) and a route for every stolen route that has a
  next hop (the default route among them);
- the host interconnect (the TAP ``tap-vpp2`` / ``vpp1``, or the veth pair
  with an AF_PACKET, as outside STN mode) is unnumbered to the NIC, so VPP
  needs no address of its own on it; its Linux end gets the node IP with its
  prefix and MAC ``00:00:00:00:00:02``, the one destination VPP's STN plugin
  writes on what it hands over;
- traffic to the node IP that VPP itself does not consume (everything but
  the overlay and what pods serve) goes to the host: an STN rule
  (STNVersion 0 or 1, the original's v2.0 and v2.1) or an IP punt redirect
  to the node IP over the interconnect (STNVersion 2, its later default);
  VPP knows the host end's MAC by a static neighbour entry, so it never
  has to ARP for its own address;
- VPP answers ARP for the whole node subnet on the interconnect (proxy
  ARP), so the host reaches its gateway, and anything else on the subnet,
  through VPP; the host also gets a permanent neighbour for its gateway;
- the host routes the pod CIDR (and with RouteServiceCIDRToVPP the service
  CIDR) and the stolen routes with a next hop over ``vpp1``, through the STN
  gateway: the stolen default route's next hop, else one made up inside the
  node subnet (``StolenInterface.gateway``);
- VPP routes the host's other addresses back over the interconnect via the
  node IP.
"""

from __future__ import annotations

import ipaddress

from contivctl.items import Item, Items, keyed, vpp
from contivctl.items import linux as lx
from contivctl.render import naming
from contivctl.render.inputs import VswitchInputs
from contivctl.render.vpp.interconnect import host_interconnect_if_name
from contivctl.render.vpp.nics import main_if_name, rx_mode

#: the destination MAC of everything VPP's STN plugin hands to the host (stn.c's stn_hw_addr_dst)
STN_HOST_MAC = "00:00:00:00:00:02"
#: STNVersion that uses an IP punt redirect instead of an STN rule
PUNT_REDIRECT_VERSION = 2


def proxy_arp_range(subnet: ipaddress.IPv4Network) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """The node subnet's addresses VPP answers ARP for: all but network and broadcast, when it has those."""
    low, high = subnet.network_address, subnet.broadcast_address
    if subnet.num_addresses > 2:
        return low + 1, high - 1
    return low, high


def render_stn(inputs: VswitchInputs) -> Items:
    stolen = inputs.stolen
    if not inputs.eff.stn_mode or stolen is None or stolen.node_ip is None:
        return {}
    cfg = inputs.config
    node_ip = stolen.node_ip
    main_vrf = cfg.main_vrf_id
    main = main_if_name(inputs)
    vpp_if = host_interconnect_if_name(inputs)
    mtu = cfg.mtu_size or None
    vpp_mac = naming.host_interconnect_vpp_mac(inputs.plan.node_id)
    checksum = not cfg.tcp_checksum_offload_disabled
    items: list[Item] = [vpp.Address(interface=main, address=a) for a in stolen.addresses[1:]]

    # -- the stolen routes, now VPP's
    seen: set[ipaddress.IPv4Network] = set()
    for r in stolen.routes:
        if r.via is not None and r.network not in seen:
            seen.add(r.network)
            items.append(vpp.Route(vrf=main_vrf, dst=r.network, next_hop=r.via, interface=main))

    # -- the host interconnect, unnumbered to the NIC
    if cfg.use_tap_interfaces:
        link: vpp.Link = vpp.Tap(
            host_if_name=inputs.host_if,
            host_mac=STN_HOST_MAC,
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
            checksum_offload=checksum,
        )
    else:
        host_link = lx.Veth(
            name=inputs.vswitch_if,
            netns=lx.HOST_NS,
            peer_name=inputs.host_if,
            peer_netns=inputs.host_netns,
            mtu=mtu or 0,
            peer_mac=STN_HOST_MAC,
            checksum_offload=checksum,
        )
        link = vpp.AfPacket(host_if_name=inputs.vswitch_if, requires=host_link.key)
    items += [
        host_link,
        vpp.Interface(
            name=vpp_if,
            link=link,
            vrf=main_vrf,
            mtu=mtu,
            mac=vpp_mac,
            rx_mode=rx_mode(cfg),
            unnumbered_to=main,
        ),
        vpp.Neighbor(interface=vpp_if, ip=node_ip.ip, mac=STN_HOST_MAC, no_fib_entry=True),
    ]

    # -- what is for the host goes to the host
    if cfg.stn_version == PUNT_REDIRECT_VERSION:
        items.append(vpp.PuntRedirect(interface=vpp_if, next_hop=node_ip.ip))
    else:
        items.append(vpp.StnRule(ip=node_ip.ip, interface=vpp_if))
    low, high = proxy_arp_range(node_ip.network)
    items += [vpp.ProxyArpRange(low, high, vrf=main_vrf), vpp.ProxyArpInterface(vpp_if)]

    # -- the host stack, behind VPP
    host_addr = lx.Address(netns=inputs.host_netns, ifname=inputs.host_if, address=node_ip, link=host_link.key)
    items.append(host_addr)
    gateway = stolen.gateway
    if gateway is not None:
        items.append(
            lx.Neighbour(netns=inputs.host_netns, ifname=inputs.host_if, ip=gateway, mac=vpp_mac, link=host_link.key)
        )
        to_vpp = [inputs.plan.pod_subnet_cidr]
        if cfg.route_service_cidr_to_vpp and cfg.ipam.service_cidr is not None:
            to_vpp.append(cfg.ipam.service_cidr)
        host_routes = {dst: gateway for dst in to_vpp}
        for r in stolen.routes:
            if r.via is not None:
                host_routes.setdefault(r.network, r.via)
        for dst, via in host_routes.items():
            items.append(
                lx.Route(
                    netns=inputs.host_netns,
                    dst=dst,
                    dev=inputs.host_if,
                    link=host_link.key,
                    via=via,
                    requires=(host_addr.key,),
                )
            )
    vpp_own = {a.ip for a in stolen.addresses}
    for ip in inputs.host_ips:
        if ip.version != 4 or ip in vpp_own or ip.is_loopback:
            continue
        host_route = ipaddress.ip_network(ip)
        items.append(vpp.Route(vrf=main_vrf, dst=host_route, next_hop=node_ip.ip, interface=vpp_if))
    return keyed(*items)
