"""Kubernetes Services in VPP: NAT44-ED load-balanced static mappings, as the original's service plugin made them.

Per Service port, one mapping per frontend — each cluster IP at the port,
each external IP at the port, and with a node port every node's address at
it — whose locals are the port's ready endpoints (render/services.py). An
endpoint on this node weighs ServiceLocalEndpointWeight, one elsewhere 1.

- Cluster IPs and node ports use self-twice-NAT: when a pod is sent to
  itself through its own service, VPP rewrites its source to the NAT
  loopback address (the node pod subnet's last unicast one), so the pod
  does not see a packet from itself to itself. Other clients keep their
  address.
- externalTrafficPolicy Cluster (the default) on node ports and external
  IPs: twice-NAT, every client's source to the NAT loopback, so that the
  answer of an endpoint on another node comes back through this node.
  Local: only this node's endpoints, self-twice-NAT, the client's address
  kept; no local endpoint, no mapping. internalTrafficPolicy Local does the
  same for cluster IPs.
- sessionAffinity ClientIP: VPP's affinity, the same endpoint for a client
  address for the timeout after its last connection.
- Mappings are out2in-only: a frontend address is in no NAT pool, and an
  endpoint's own connections must not be rewritten to its service.

A Service port without a ready endpoint has no mapping; its cluster and
external IPs have a route in the pod VRF that answers with ICMP host
unreachable, so a pod's connection fails at once instead of timing out
(the mappings translate before the lookup meets the route). A node port
without endpoints has no such answer: the node's address is VPP's own.
What VPP's NAT cannot do: SCTP ports (NAT44 translates TCP and UDP
ports; they get the unreachable answer too), IPv6.

``render_service_base`` is what every mapping needs on the node: the NAT
plugin, the NAT loopback in the twice-NAT pool, and the interfaces traffic
to a service arrives on as NAT inside and outside (the pods' own
interfaces get it with their other items, render/vpp/pod.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from contivctl.items import Item, Items, keyed, vpp
from contivctl.model import EndpointSlice, Service
from contivctl.render.inputs import VswitchInputs
from contivctl.render.services import Backend, ServiceContext, backends, ipv4
from contivctl.render.vpp.interconnect import host_interconnect_if_name
from contivctl.render.vpp.nat import nat_external_traffic
from contivctl.render.vpp.nics import default_interface, main_if_name

_PROTOCOLS = {"TCP": vpp.NatProtocol.TCP, "UDP": vpp.NatProtocol.UDP}


def render_service(ctx: ServiceContext, svc: Service, slices: Iterable[EndpointSlice]) -> Items:
    """Every mapping of one Service, keyed; empty when nothing of it can be forwarded now."""
    slices = tuple(slices)
    items: list[Item] = []
    for port in svc.ports:
        proto = _PROTOCOLS.get(port.protocol.upper())
        if proto is None:
            continue
        found = backends(port, slices, ctx.node_name)
        local = tuple(b for b in found if b.local)
        internal = _locals(ctx, local if svc.internal_local else found)
        external = _locals(ctx, local if svc.external_local else found)
        twice = not svc.external_local
        frontends = [(ip, port.port, internal, False) for ip in ipv4(svc.cluster_ips)]
        frontends += [(ip, port.port, external, twice) for ip in ipv4(svc.external_ips)]
        if port.node_port:
            frontends += [(ip, port.node_port, external, twice) for ip in ipv4(ctx.node_ips)]
        for ip, at, locals_, twice_nat in frontends:
            if not locals_:
                continue
            items.append(
                vpp.Nat44LbStaticMapping(
                    external_ip=ip,
                    external_port=at,
                    protocol=proto,
                    locals=locals_,
                    twice_nat=twice_nat,
                    self_twice_nat=not twice_nat,
                    affinity=svc.affinity_timeout if len(locals_) > 1 else 0,
                )
            )
    # A port without a mapping (no endpoint, or a protocol NAT44 does not translate) is answered with
    # ICMP host unreachable: NAT rewrites what it maps before the lookup ever meets these routes.
    for ip in (*ipv4(svc.cluster_ips), *ipv4(svc.external_ips)):
        items.append(vpp.Route(vrf=ctx.pod_vrf, dst=ipaddress.ip_network(ip), unreachable=True))
    return keyed(*items)


def _locals(ctx: ServiceContext, found: Iterable[Backend]) -> tuple[vpp.Nat44LbLocal, ...]:
    return tuple(
        vpp.Nat44LbLocal(
            ip=b.ip,
            port=b.port,
            probability=ctx.local_weight if b.local else 1,
            vrf=ctx.pod_vrf if b.ip in ctx.pod_cidr else ctx.main_vrf,
        )
        for b in found
    )


def render_service_base(inputs: VswitchInputs) -> Items:
    """The NAT plugin, the twice-NAT loopback and the NAT roles of the node's own interfaces."""
    if not inputs.services:
        return {}
    items: list[Item] = [
        vpp.Nat44Global(),
        vpp.Nat44Address(ip=inputs.plan.nat_loopback_ip, vrf=vpp.ANY_VRF, twice_nat=True),
    ]
    # the host interconnect (STN mode's too, render/vpp/stn.py): the host stack is a client of Services
    items.append(vpp.Nat44Interface(interface=host_interconnect_if_name(inputs), inside=True, outside=True))
    main = main_if_name(inputs)
    found = default_interface(inputs)
    if not (nat_external_traffic(inputs) and found is not None and found[0] == main):
        # the NAT output feature of NatExternalTraffic translates what arrives there already
        items.append(vpp.Nat44Interface(interface=main, outside=True))
    return keyed(*items)


def pod_service_nat(vpp_if: str) -> Item:
    """A pod's interface is both sides of NAT: its connections to services, and a service's endpoint."""
    return vpp.Nat44Interface(interface=vpp_if, inside=True, outside=True)
