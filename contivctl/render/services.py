"""What the Service renderers of both dataplanes share: the node's side, and endpoints per Service port.

A Service's endpoints arrive in EndpointSlices whose ports are named after
the Service's ports (a Service with one unnamed port: the empty name), each
with the number the endpoints listen on; so a Service port's backends are
the addresses of every slice that has a port of that name and protocol, at
that port's number. Resolving it here, once, keeps the two renderers to
what each dataplane does with the same backends.

Pure, like every renderer: the same Service, slices and context give the
same items, so a restarted agent finds nothing to do.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import attrs

from contivctl.iptypes import IPAddress, IPNetwork
from contivctl.model import EndpointSlice, Service, ServicePort
from contivctl.render.inputs import VswitchInputs


@attrs.frozen
class ServiceContext:
    """This node's side of every Service, from the node's inputs and the cluster's nodes."""

    node_name: str
    #: the addresses a NodePort is opened on (VPP: every node's; the kernel matches local addresses itself)
    node_ips: tuple[IPAddress, ...]
    #: the weight of an endpoint on this node against 1 for one elsewhere (ServiceLocalEndpointWeight)
    local_weight: int
    #: VPP: the address a pod's connection to its own service is twice-NATed to
    nat_loopback: IPAddress
    #: the cluster's pod addresses (the pod VRF in VPP; not masqueraded towards a cluster IP in the kernel)
    pod_cidr: IPNetwork
    pod_vrf: int
    main_vrf: int
    #: the kernel dataplane's vswitch namespace
    netns: str


def service_context(inputs: VswitchInputs, node_ips: Iterable[IPAddress] = ()) -> ServiceContext:
    cfg, plan = inputs.config, inputs.plan
    return ServiceContext(
        node_name=inputs.eff.node_name,
        node_ips=tuple(dict.fromkeys(node_ips)),
        local_weight=cfg.service_local_endpoint_weight or 1,  # 0 means 1, as in the original
        nat_loopback=plan.nat_loopback_ip,
        pod_cidr=plan.pod_subnet_cidr,
        pod_vrf=cfg.pod_vrf_id,
        main_vrf=cfg.main_vrf_id,
        netns=inputs.host_netns,
    )


def parse_ips(texts: Iterable[str]) -> tuple[IPAddress, ...]:
    """The addresses among ``texts`` (``a.b.c.d`` or ``a.b.c.d/len``), in order, once each; others skipped."""
    out: dict[IPAddress, None] = {}
    for t in texts:
        try:
            out[ipaddress.ip_interface(t.strip()).ip] = None
        except ValueError:
            continue
    return tuple(out)


@attrs.frozen(order=True)
class Backend:
    ip: IPAddress
    port: int
    #: runs on this node
    local: bool = False


def backends(port: ServicePort, slices: Iterable[EndpointSlice], node_name: str) -> tuple[Backend, ...]:
    """The ready endpoints serving ``port``, each once, sorted (IPv4 only: the dataplanes NAT IPv4)."""
    found: dict[tuple[IPAddress, int], Backend] = {}
    proto = port.protocol.upper()
    for sl in slices:
        numbers = [p.port for p in sl.ports if p.name == port.name and p.protocol.upper() == proto]
        for number in numbers:
            for ep in sl.endpoints:
                if ep.ip.version != 4:
                    continue
                local = bool(node_name) and ep.node_name == node_name
                key = (ep.ip, number)
                if key not in found or local:
                    found[key] = Backend(ep.ip, number, local)
    return tuple(sorted(found.values(), key=lambda b: (int(b.ip), b.port)))


def ipv4(addresses: Iterable[IPAddress]) -> tuple[IPAddress, ...]:
    return tuple(a for a in addresses if a.version == 4)


def forwarded(svc: Service) -> bool:
    """Whether the Service has anything to forward: an IPv4 cluster IP or an external IP."""
    return bool(ipv4(svc.cluster_ips) or ipv4(svc.external_ips))
