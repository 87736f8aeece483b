"""The node's VPP NICs: the main one (static IP, computed IP or DHCP), the others, the gateway.

The main NIC is the node config's MainVPPInterface name, else the first
physical interface VPP reports that is not listed among the other NICs
(sw_if_index order: stable across restarts, unlike the original's map
order). Without any NIC, a loopback carries the node IP so that the
overlay still has a source address. A static IP always wins over DHCP;
with DHCP the address and default route are VPP's own (its DHCP client
puts them there), so they are not rendered.
"""

from __future__ import annotations

import ipaddress

from contivctl.config.model import Config
from contivctl.iptypes import IPAddress, IPInterface
from contivctl.items import Item, Items, keyed, vpp
from contivctl.render import naming
from contivctl.render.inputs import VswitchInputs
from contivctl.render.vpp import names as nn

_RX_MODES = {
    "polling": vpp.RxMode.POLLING,
    "interrupt": vpp.RxMode.INTERRUPT,
    "adaptive": vpp.RxMode.ADAPTIVE,
}


def rx_mode(cfg: Config) -> vpp.RxMode | None:
    """InterfaceRxMode as VPP's value; None (an unknown or empty mode) leaves VPP's default."""
    return _RX_MODES.get(cfg.interface_rx_mode)


def main_nic(inputs: VswitchInputs) -> str | None:
    """VPP name of the main NIC, or None when VPP has none (a loopback stands in)."""
    configured = inputs.eff.main_interface.interface_name
    if configured:
        return configured
    others = {o.interface_name for o in inputs.eff.node.other_vpp_interfaces}
    return next((n for n in inputs.nics if n not in others), None)


def main_if_name(inputs: VswitchInputs) -> str:
    """The logical name of whatever carries the node IP."""
    return main_nic(inputs) or nn.LOOPBACK_NIC


def other_nics(inputs: VswitchInputs) -> list[str]:
    """Configured other NICs that VPP has (the rest are ignored, as in the original)."""
    main = main_nic(inputs)
    return [
        o.interface_name
        for o in inputs.eff.node.other_vpp_interfaces
        if o.interface_name in inputs.nics and o.interface_name != main
    ]


def gateway(inputs: VswitchInputs) -> IPAddress | None:
    """The node's default gateway: in STN mode the stolen NIC's (render/vpp/stn.py), else configured or leased."""
    if inputs.eff.stn_mode and inputs.stolen is not None:
        return inputs.stolen.gateway
    return inputs.eff.gateway or inputs.dhcp_gateway


def default_interface(inputs: VswitchInputs) -> tuple[str, IPInterface] | None:
    """Where traffic leaving the cluster goes out (and is SNATed): the NIC whose subnet holds the gateway."""
    gw = gateway(inputs)
    node_ip = inputs.plan.node_ip
    if gw is None:
        return None
    if node_ip is not None and gw in node_ip.network:
        return main_if_name(inputs), node_ip
    for o in inputs.eff.node.other_vpp_interfaces:
        if o.interface_name in other_nics(inputs) and o.ip is not None and gw in o.ip.network:
            return o.interface_name, o.ip
    return None


def render_nics(inputs: VswitchInputs) -> Items:
    cfg = inputs.config
    main_vrf = cfg.main_vrf_id
    mode = rx_mode(cfg)
    node_ip = inputs.plan.node_ip
    items: list[Item] = []
    main = main_nic(inputs)
    if main is None:
        items.append(
            vpp.Interface(
                name=nn.LOOPBACK_NIC,
                link=vpp.Loopback(),
                vrf=main_vrf,
                mac=naming.loopback_nic_mac(inputs.plan.node_id),
            )
        )
        if node_ip is not None:
            items.append(vpp.Address(interface=nn.LOOPBACK_NIC, address=node_ip))
    else:
        items.append(vpp.Interface(name=main, link=vpp.Physical(main), vrf=main_vrf, rx_mode=mode))
        if inputs.eff.use_dhcp:
            items.append(vpp.DhcpClient(interface=main, hostname=inputs.eff.node_name))
        elif node_ip is not None:
            items.append(vpp.Address(interface=main, address=node_ip))
        gw = inputs.eff.gateway
        if gw is not None and not inputs.eff.stn_mode:
            default = ipaddress.ip_network("0.0.0.0/0" if gw.version == 4 else "::/0")
            items.append(vpp.Route(vrf=main_vrf, dst=default, next_hop=gw, interface=main))
    by_name = {o.interface_name: o for o in inputs.eff.node.other_vpp_interfaces}
    for name in other_nics(inputs):
        o = by_name[name]
        items.append(vpp.Interface(name=name, link=vpp.Physical(name), vrf=main_vrf, rx_mode=mode))
        if o.ip is not None:
            items.append(vpp.Address(interface=name, address=o.ip))
        elif o.use_dhcp:
            items.append(vpp.DhcpClient(interface=name, hostname=inputs.eff.node_name))
    return keyed(*items)


def render_neighbor_config(inputs: VswitchInputs) -> Items:
    """IP neighbour scanning: entries older than the stale threshold are re-probed (and recycled)."""
    cfg = inputs.config
    if not cfg.scan_ip_neighbors:
        return {}
    age = max(1, int(cfg.ip_neighbor_stale_threshold.total_seconds()))
    return keyed(vpp.NeighborConfig(max_age=age, recycle=True))
