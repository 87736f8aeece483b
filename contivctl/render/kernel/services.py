"""Kubernetes Services in the kernel dataplane: nftables, as kube-proxy's nftables mode does it.

One table (``ServiceTable``) holds what all Services share: verdict maps
from a destination (address . protocol . port, or protocol . port on any
of the node's own addresses) to a Service's chain, the NAT hooks that
consult them, and a filter hook that rejects connections to a Service
without endpoints instead of letting them time out. Each Service is one
``ServiceRules`` item: its chains (a random pick among the endpoints by
weight, then DNAT to the one picked) and its elements of those maps; so an
endpoint joining or leaving rewrites that Service and nothing else.

- Cluster IPs: every ready endpoint (internalTrafficPolicy Local: this
  node's only); a client outside the pod network is masqueraded, and so is
  an endpoint of this node connecting to its own Service (it may be sent
  to itself; kube-proxy masquerades only when it is, which takes a chain
  per endpoint — here only Services with session affinity have those).
- Node ports and external IPs: externalTrafficPolicy Cluster masquerades
  every client; Local sends to this node's endpoints only and keeps the
  client's address (a pod is sent as to the cluster IP; without a local
  endpoint other clients are dropped, as kube-proxy does).
- A port with no endpoint at all is rejected (ICMP port unreachable: the
  client's connect fails at once).
- Endpoints on this node weigh ServiceLocalEndpointWeight, others 1 (the
  VPP dataplane's rule); sessionAffinity ClientIP keeps a client on the
  endpoint it got for the timeout.
"""

from __future__ import annotations

from collections.abc import Iterable

from contivctl.items import Items, keyed
from contivctl.items import kernel as kx
from contivctl.model import EndpointSlice, Service
from contivctl.render.inputs import VswitchInputs
from contivctl.render.kernel.names import SERVICE_TABLE
from contivctl.render.services import Backend, ServiceContext, backends, ipv4

_PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}


def render_kernel_service(ctx: ServiceContext, svc: Service, slices: Iterable[EndpointSlice]) -> Items:
    slices = tuple(slices)
    ports: list[kx.ServicePortRules] = []
    cluster_ips, external_ips = ipv4(svc.cluster_ips), ipv4(svc.external_ips)
    for port in svc.ports:
        proto = _PROTOCOLS.get(port.protocol.upper())
        if proto is None:
            continue
        found = backends(port, slices, ctx.node_name)
        local = tuple(b for b in found if b.local)
        ports.append(
            kx.ServicePortRules(
                protocol=proto,
                port=port.port,
                cluster_ips=cluster_ips,
                external_ips=external_ips,
                node_port=port.node_port,
                backends=_weighted(ctx, local if svc.internal_local else found),
                external_backends=_weighted(ctx, local) if svc.external_local else None,
            )
        )
    if not ports or not (cluster_ips or external_ips or any(p.node_port for p in ports)):
        return {}
    return keyed(
        kx.ServiceRules(
            netns=ctx.netns,
            table=SERVICE_TABLE,
            namespace=svc.ref.namespace,
            name=svc.ref.name,
            ports=tuple(sorted(ports, key=lambda p: (p.protocol, p.port))),
            internal=(ctx.pod_cidr,),
            affinity_timeout=svc.affinity_timeout,
        )
    )


def _weighted(ctx: ServiceContext, found: Iterable[Backend]) -> tuple[kx.ServiceBackend, ...]:
    return tuple(kx.ServiceBackend(b.ip, b.port, ctx.local_weight if b.local else 1, b.local) for b in found)


def render_service_table(inputs: VswitchInputs) -> Items:
    if not inputs.services:
        return {}
    return keyed(kx.ServiceTable(netns=inputs.host_netns, name=SERVICE_TABLE))
