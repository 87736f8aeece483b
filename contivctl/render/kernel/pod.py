"""A pod wired to the kernel of the vswitch namespace instead of VPP.

The pod side is exactly VPP mode's. On the vswitch side the veth's host end
stays in the vswitch namespace with the MAC the pod's permanent ARP entry
names (the same one VPP's interface would have), the pod gateway as a host
address, and a /32 route to the pod.

Why the gateway address on every host end rather than proxy ARP: the pod
never asks for its gateway (its ARP entry is permanent), but the gateway
must be a local address of the vswitch namespace so that a pod can ping it,
and the vswitch needs a source address of its own on the link when it asks
for the pod's MAC. A host end is the one device there the agent already
owns per pod; a node-level device to hold the address (a dummy) is not
available everywhere, and the host's ``lo`` is not the agent's. The
address lives and dies with the pod's veth, and proxy ARP would answer for
every routable address on the link, not only the gateway.
"""

from __future__ import annotations

from contivctl.items import Item, Items, keyed
from contivctl.items import linux as lx
from contivctl.model import Attachment
from contivctl.render import naming
from contivctl.render.inputs import PodNetwork, VswitchInputs
from contivctl.render.pod_side import host_prefix, pod_veth, render_pod_side


def render_kernel_pod(att: Attachment, net: PodNetwork) -> Items:
    """Every item of one attachment, keyed. The kernel has no TAP mode: a veth is always used."""
    cid, ifname = att.container_id, att.ifname
    vswitch_mac = naming.vpp_side_mac(cid, ifname)
    veth = pod_veth(att, net, mac=vswitch_mac)
    gw_address = lx.Address(netns=net.vswitch_netns, ifname=veth.name, address=host_prefix(net.gateway), link=veth.key)
    to_pod = lx.Route(
        netns=net.vswitch_netns,
        dst=host_prefix(att.ip).network,
        dev=veth.name,
        link=veth.key,
        requires=(gw_address.key,),
    )
    items: list[Item] = [veth, *render_pod_side(att, net.gateway, veth.key, vswitch_mac), gw_address, to_pod]
    return keyed(*items)


def kernel_pod_network(inputs: VswitchInputs) -> PodNetwork:
    """Pods get a veth whatever UseTAPInterfaces says: a TAP needs a user-space end the kernel has not got."""
    cfg = inputs.config
    return PodNetwork(
        mode="veth",
        gateway=inputs.plan.pod_gateway,
        pod_vrf=cfg.pod_vrf_id,
        mtu=cfg.mtu_size,
        checksum_offload=not cfg.tcp_checksum_offload_disabled,
        vswitch_netns=inputs.host_netns,
    )
