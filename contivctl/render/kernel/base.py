"""The node-level config of the kernel dataplane, in the namespace that plays the vswitch.

- forwarding on (the namespace routes between pods and to other nodes);
- VXLAN mode: one VXLAN device (VNI 10, from the node IP, learning off)
  with this node's VXLAN address and BVI MAC — the same address and MAC a
  VPP node's BVI has, so the per-node items of render/kernel/nodes.py mirror
  VPP's — rendered once the node IP is known;
- with NatExternalTraffic: an nftables table that masquerades what this
  node's pods send outside the cluster's pod network;
- when the agent forwards Services: the nftables table they are in
  (render/kernel/services.py).

Not rendered, unlike VPP mode: NICs, their addresses and the default
gateway (the host's network is the host's own; in a local cluster whoever
builds the node namespace configures it), the VPP ⇄ host interconnect and
its routes (the host stack *is* the vswitch), neighbour scanning, VRFs.
"""

from __future__ import annotations

from contivctl.items import Item, Items, keyed
from contivctl.items import kernel as kx
from contivctl.items import linux as lx
from contivctl.render import naming
from contivctl.render.inputs import VswitchInputs, l2_mode
from contivctl.render.kernel.names import IP_FORWARD, NFT_TABLE, VXLAN_DEV
from contivctl.render.kernel.services import render_service_table


def render_kernel_base(inputs: VswitchInputs) -> Items:
    netns = inputs.host_netns
    cfg = inputs.config
    plan = inputs.plan
    items: list[Item] = [kx.Sysctl(netns=netns, name=IP_FORWARD, value="1")]
    if not l2_mode(cfg) and plan.node_ip is not None:
        vxlan = kx.VxlanLink(
            netns=netns,
            name=VXLAN_DEV,
            vni=naming.VXLAN_VNI,
            local=plan.node_ip.ip,
            port=naming.VXLAN_PORT,
            mac=naming.bvi_mac(plan.node_id, cfg.legacy_bvi_macs),
            mtu=cfg.mtu_size,
        )
        items += [vxlan, lx.Address(netns=netns, ifname=VXLAN_DEV, address=plan.vxlan_ip, link=vxlan.key)]
    if inputs.eff.nat_external_traffic:
        items.append(
            kx.SnatTable(
                netns=netns,
                name=NFT_TABLE,
                sources=(plan.pod_subnet_this_node,),
                internal=(plan.pod_subnet_cidr,),
            )
        )
    return {**keyed(*items), **render_service_table(inputs)}
