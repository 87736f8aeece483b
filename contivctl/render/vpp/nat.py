"""SNAT of traffic leaving the cluster (NatExternalTraffic), as the original's service plugin set it up.

The default interface (the NIC facing the gateway) is a NAT44 output
feature, its address is in the pool for every VRF, and identity mappings
keep traffic to that address itself untranslated: VXLAN coming in (UDP
4789, main VRF) and anything addressed to the node from either VRF. Not in
L2 mode when the default interface is the main one: node-to-node traffic
leaves there and must keep its source address.
"""

from __future__ import annotations

from contivctl.items import Items, keyed, vpp
from contivctl.render import naming
from contivctl.render.inputs import VswitchInputs, l2_mode
from contivctl.render.vpp.nics import default_interface, main_if_name


def nat_external_traffic(inputs: VswitchInputs) -> bool:
    """Whether external traffic is SNATed on this node (and can be: a default interface is known)."""
    if not inputs.eff.nat_external_traffic:
        return False
    found = default_interface(inputs)
    if found is None:
        return False
    return not (l2_mode(inputs.config) and found[0] == main_if_name(inputs))


def render_nat(inputs: VswitchInputs) -> Items:
    if not nat_external_traffic(inputs):
        return {}
    found = default_interface(inputs)
    assert found is not None
    ifname, address = found
    ip = address.ip
    cfg = inputs.config
    return keyed(
        vpp.Nat44Global(),
        vpp.Nat44Interface(interface=ifname, output=True),
        vpp.Nat44Address(ip=ip, vrf=vpp.ANY_VRF),
        vpp.Nat44IdentityMapping(ip=ip, protocol=vpp.NatProtocol.UDP, port=naming.VXLAN_PORT, vrf=cfg.main_vrf_id),
        vpp.Nat44IdentityMapping(ip=ip, vrf=cfg.pod_vrf_id),
        vpp.Nat44IdentityMapping(ip=ip, vrf=cfg.main_vrf_id),
    )
