"""Node-level VPP items every pod relies on: the pod VRF, its gateway, the VRF routes.

The pod gateway is a loopback in the pod VRF carrying the gateway address as
a host prefix (e.g. 10.1.5.1/32); every pod interface is unnumbered to it.
That gives VPP the gateway address once per node instead of one VPP-side
address per pod (the v2.0 PodIfIPCIDR scheme), and VPP answers the pods' ARP
for the gateway by itself. A host prefix, not the node's /24: VPP refuses an
address that overlaps another interface's subnet in the same VRF, and the
loopbacks of VPP-TCP-stack pods carry pod addresses from that very subnet.
Every pod has its own /32 route anyway, and an address of the node's subnet
without a pod falls to the drop route below.

VRF routes (reference rules of the original): the main VRF reaches pods and
VPP-host subnets by a lookup in the pod VRF; the pod VRF leaves by a
default-route lookup in the main VRF, with drop routes for the whole pod and
VPP-host ranges so an unknown destination inside them is dropped instead of
bouncing between the VRFs. In L2 (no-overlay) mode only this node's pod
subnet and the default route are crossed, and there are no drop routes.
"""

from __future__ import annotations

import ipaddress

import attrs

from contivctl.iptypes import IPAddress, IPNetwork
from contivctl.items import Item, Items, keyed, vpp
from contivctl.render.inputs import VswitchInputs, l2_mode
from contivctl.render.pod_side import host_prefix
from contivctl.render.vpp.names import POD_GATEWAY_LOOP


@attrs.frozen
class PodVrfPlan:
    """The part of a node's inputs the pod VRF is rendered from."""

    main_vrf: int
    pod_vrf: int
    gateway: IPAddress
    node_pod_subnet: IPNetwork
    pod_subnet: IPNetwork
    vpp_host_subnet: IPNetwork
    node_vpp_host_subnet: IPNetwork
    l2_interconnect: bool = False
    tcp_stack: bool = False
    gateway_mac: str = "02:fe:00:00:00:01"


def render_pod_vrf(plan: PodVrfPlan) -> Items:
    default = ipaddress.ip_network("0.0.0.0/0" if plan.gateway.version == 4 else "::/0")
    items: list[Item] = [
        vpp.Vrf(plan.pod_vrf, ipv6=plan.gateway.version == 6),
        vpp.Interface(name=POD_GATEWAY_LOOP, link=vpp.Loopback(), vrf=plan.pod_vrf, mac=plan.gateway_mac),
        vpp.Address(interface=POD_GATEWAY_LOOP, address=host_prefix(plan.gateway)),
    ]
    if plan.main_vrf:
        items.append(vpp.Vrf(plan.main_vrf, ipv6=plan.gateway.version == 6))
    if plan.l2_interconnect:
        items += [
            vpp.Route(vrf=plan.main_vrf, dst=plan.node_pod_subnet, lookup_vrf=plan.pod_vrf),
            vpp.Route(vrf=plan.pod_vrf, dst=default, lookup_vrf=plan.main_vrf),
        ]
    else:
        items += [
            vpp.Route(vrf=plan.main_vrf, dst=plan.pod_subnet, lookup_vrf=plan.pod_vrf),
            vpp.Route(vrf=plan.main_vrf, dst=plan.vpp_host_subnet, lookup_vrf=plan.pod_vrf),
            vpp.Route(vrf=plan.pod_vrf, dst=default, lookup_vrf=plan.main_vrf),
            vpp.Route(vrf=plan.pod_vrf, dst=plan.node_vpp_host_subnet, lookup_vrf=plan.main_vrf),
            vpp.Route(vrf=plan.pod_vrf, dst=plan.pod_subnet, drop=True),
            vpp.Route(vrf=plan.pod_vrf, dst=plan.vpp_host_subnet, drop=True),
        ]
    if plan.tcp_stack:
        items.append(vpp.SessionLayer())
    return keyed(*items)


def pod_vrf_plan(inputs: VswitchInputs) -> PodVrfPlan:
    cfg, plan = inputs.config, inputs.plan
    assert cfg.ipam.vpp_host_subnet_cidr is not None  # the address plan exists only with it
    return PodVrfPlan(
        main_vrf=cfg.main_vrf_id,
        pod_vrf=cfg.pod_vrf_id,
        gateway=plan.pod_gateway,
        node_pod_subnet=plan.pod_subnet_this_node,
        pod_subnet=plan.pod_subnet_cidr,
        vpp_host_subnet=cfg.ipam.vpp_host_subnet_cidr,
        node_vpp_host_subnet=plan.vpp_host_network,
        l2_interconnect=l2_mode(cfg),
        tcp_stack=not cfg.tcp_stack_disabled,
    )
