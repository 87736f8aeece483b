"""What the agent reads out of Kubernetes objects (plain dicts as the API serves them)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import attrs

from contivctl.config.model import NodeConfig
from contivctl.config.schema import Loader
from contivctl.errors import ConfigError
from contivctl.iptypes import IPAddress
from contivctl.model import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort, ServiceRef

#: NodeConfig custom resources (reference: contiv's nodeconfig CRD)
NODECONFIG_GROUP = "nodeconfig.contiv.vpp"
NODECONFIG_VERSION = "v1"
NODECONFIG_PLURAL = "nodeconfigs"
NODECONFIG_KIND = "NodeConfig"
_ADDRESS_TYPES = ("InternalIP", "ExternalIP")


def management_ips(node: Mapping[str, Any]) -> tuple[str, ...]:
    """InternalIP and ExternalIP addresses of a Node, de-duplicated, in the order listed."""
    out: list[str] = []
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") in _ADDRESS_TYPES and a.get("address") and a["address"] not in out:
            out.append(str(a["address"]))
    return tuple(out)


def node_config_of(obj: Mapping[str, Any]) -> NodeConfig:
    """A NodeConfig resource's spec as the config model (the file's node entry form); ConfigError if invalid."""
    loader = Loader("contiv.conf")
    name = str((obj.get("metadata") or {}).get("name", ""))
    cfg = loader.load(NodeConfig, obj.get("spec") or {}, path=f"NodeConfig {name} spec")
    if loader.problems:
        raise ConfigError(loader.problems)
    return attrs.evolve(cfg, node_name=name)


@attrs.frozen
class PodInfo:
    """A pod scheduled on this node, as far as wiring cares."""

    namespace: str
    name: str
    uid: str
    labels: dict[str, str] = attrs.field(factory=dict, hash=False)


def pod_info(obj: Mapping[str, Any]) -> PodInfo:
    meta = obj.get("metadata") or {}
    return PodInfo(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
    )


# -- Services and EndpointSlices ----------------------------------------------------

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
#: kube-proxy's default ClientIP affinity timeout (3 hours)
DEFAULT_AFFINITY_TIMEOUT = 10800
_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def _ips(texts: Any) -> tuple[IPAddress, ...]:
    out: dict[IPAddress, None] = {}
    for t in texts or []:
        try:
            out[ipaddress.ip_address(str(t))] = None
        except ValueError:
            continue  # "None" (headless), "" (not allocated yet)
    return tuple(out)


def service_of(obj: Mapping[str, Any]) -> Service | None:
    """The Service as the agent forwards it; None for what has nothing to forward (ExternalName, headless)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    kind = str(spec.get("type") or "ClusterIP")
    if kind == "ExternalName":
        return None
    cluster_ips = _ips(spec.get("clusterIPs") or [spec.get("clusterIP")])
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = _ips([*(spec.get("externalIPs") or []), *(i.get("ip") for i in ingress if i.get("ip"))])
    if not cluster_ips and not external:
        return None
    ports = tuple(
        ServicePort(
            name=str(p.get("name") or ""),
            protocol=str(p.get("protocol") or "TCP"),
            port=int(p["port"]),
            target_port=p.get("targetPort") or int(p["port"]),
            node_port=int(p.get("nodePort") or 0) if kind in _NODE_PORT_TYPES else 0,
        )
        for p in spec.get("ports") or []
        if p.get("port")
    )
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        client = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        affinity = int(client.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)
    return Service(
        ref=ServiceRef(str(meta.get("namespace") or "default"), str(meta.get("name", ""))),
        cluster_ips=cluster_ips,
        ports=ports,
        type=kind,
        external_ips=external,
        external_local=spec.get("externalTrafficPolicy") == "Local",
        internal_local=spec.get("internalTrafficPolicy") == "Local",
        affinity_timeout=affinity,
    )


def endpoint_slice_of(obj: Mapping[str, Any]) -> EndpointSlice | None:
    """The slice's ready endpoints; None for a slice of no Service, or of addresses not IPv4."""
    meta = obj.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service or obj.get("addressType", "IPv4") != "IPv4":
        return None
    ports = tuple(
        EndpointPort(name=str(p.get("name") or ""), protocol=str(p.get("protocol") or "TCP"), port=int(p["port"]))
        for p in obj.get("ports") or []
        if p.get("port")
    )
    endpoints: list[Endpoint] = []
    for ep in obj.get("endpoints") or []:
        ready = (ep.get("conditions") or {}).get("ready")
        if ready is False:  # unknown (absent) counts as ready, as kube-proxy reads it
            continue
        endpoints += [Endpoint(ip, str(ep.get("nodeName") or "")) for ip in _ips(ep.get("addresses"))]
    return EndpointSlice(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name", "")),
        service=str(service),
        ports=ports,
        endpoints=tuple(endpoints),
    )
