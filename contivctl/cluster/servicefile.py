"""Services from a file instead of Kubernetes (``contivctl agent --services-file FILE``).

For running without an API server (a lab, the local demo): the Services
and their endpoints are written down. The file is YAML::

    services:
      - name: web
        namespace: default              # default: default
        clusterIP: 10.96.0.10           # or clusterIPs: [...]
        type: NodePort                  # ClusterIP (default), NodePort
        ports:
          - {name: http, port: 80, targetPort: 8080, nodePort: 30080}   # protocol: TCP (default), UDP
        externalIPs: [192.168.5.5]
        externalTrafficPolicy: Cluster  # or Local
        internalTrafficPolicy: Cluster  # or Local
        sessionAffinity: None           # or ClientIP, with sessionAffinityTimeout (seconds, default 10800)
        endpoints:                      # ready endpoints: an address, and the node it runs on
          - {ip: 10.1.1.2, node: node1}
          - 10.1.2.2

Every agent may be given the same file. Like the nodes file, it is read
once before the startup resync, then checked every ``interval`` seconds,
each difference posted as the Kubernetes watch would post it
(``ServiceUpdated``, ``EndpointsUpdated``, their removals); a file that
does not parse keeps the last good Services. While the agent runs it is
parsed in a child process (``python -m contivctl.cluster.servicefile
FILE`` prints the checked entries as JSON), as the nodes file is.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from contivctl.cluster.watchedfile import WatchedFile, parse_apart, print_parsed
from contivctl.errors import ConfigError, ConfigProblem
from contivctl.events import EndpointsRemoved, EndpointsUpdated, Post, ServiceRemoved, ServiceUpdated
from contivctl.model import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort, ServiceRef

log = logging.getLogger(__name__)

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CHECK_INTERVAL = 1.0
DEFAULT_AFFINITY_TIMEOUT = 10800
_TYPES = ("ClusterIP", "NodePort")
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_POLICIES = ("Cluster", "Local")


def _problem(where: str, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(where, message)])


def _ip(text: Any, where: str) -> str:
    try:
        return str(ipaddress.ip_address(str(text)))
    except ValueError:
        raise _problem(where, f"{text!r} is not an IP address") from None


def _port(value: Any, where: str, *, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 65535:
        raise _problem(where, f"{value!r} is not a port number")
    return value


def _choice(entry: dict[str, Any], key: str, choices: tuple[str, ...], where: str) -> str:
    value = entry.get(key, choices[0])
    if value not in choices:
        raise _problem(f"{where}.{key}", f"{value!r} is not one of {', '.join(choices)}")
    return str(value)


def parse_services(data: Any, source: str = "services file") -> list[dict[str, Any]]:
    """The file's Services, checked and in one normal form; raises ConfigError naming the bad entry."""
    if not isinstance(data, dict) or not isinstance(data.get("services", []), list):
        raise _problem(source, "must be a mapping with a list under 'services'")
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(data.get("services") or []):
        where = f"services[{i}]"
        if not isinstance(entry, dict):
            raise _problem(where, f"{entry!r} is not a mapping")
        name, namespace = entry.get("name"), entry.get("namespace", "default")
        if not isinstance(name, str) or not name or not isinstance(namespace, str) or not namespace:
            raise _problem(f"{where}.name", f"{name!r} in namespace {namespace!r} is not a Service name")
        if (namespace, name) in seen:
            raise _problem(where, f"Service {namespace}/{name} appears twice")
        seen.add((namespace, name))
        raw_ips = entry.get("clusterIPs", [entry["clusterIP"]] if "clusterIP" in entry else [])
        if not isinstance(raw_ips, list):
            raise _problem(f"{where}.clusterIPs", f"{raw_ips!r} is not a list of addresses")
        cluster_ips = [_ip(t, f"{where}.clusterIPs") for t in raw_ips]
        external = [_ip(t, f"{where}.externalIPs") for t in entry.get("externalIPs") or []]
        kind = _choice(entry, "type", _TYPES, where)
        ports = []
        for j, p in enumerate(entry.get("ports") or []):
            pw = f"{where}.ports[{j}]"
            if not isinstance(p, dict):
                raise _problem(pw, f"{p!r} is not a mapping")
            port = _port(p.get("port"), f"{pw}.port")
            node_port = p.get("nodePort", 0)
            if node_port and kind != "NodePort":
                raise _problem(f"{pw}.nodePort", "only a NodePort Service has node ports")
            ports.append(
                {
                    "name": str(p.get("name") or ""),
                    "protocol": _choice(p, "protocol", _PROTOCOLS, pw),
                    "port": port,
                    "targetPort": _port(p.get("targetPort", port), f"{pw}.targetPort"),
                    "nodePort": _port(node_port, f"{pw}.nodePort", low=0),
                }
            )
        if len({(p["name"], p["protocol"]) for p in ports}) != len(ports):
            raise _problem(f"{where}.ports", "two ports with the same name and protocol")
        endpoints = []
        for j, ep in enumerate(entry.get("endpoints") or []):
            ew = f"{where}.endpoints[{j}]"
            ep = {"ip": ep} if isinstance(ep, str) else ep
            if not isinstance(ep, dict) or not isinstance(ep.get("node", ""), str):
                raise _problem(ew, f"{ep!r} is not an address or {{ip, node}}")
            endpoints.append({"ip": _ip(ep.get("ip"), f"{ew}.ip"), "node": ep.get("node", "")})
        affinity = _choice(entry, "sessionAffinity", ("None", "ClientIP"), where)
        timeout = entry.get("sessionAffinityTimeout", DEFAULT_AFFINITY_TIMEOUT) if affinity == "ClientIP" else 0
        if affinity == "ClientIP":
            _port(timeout, f"{where}.sessionAffinityTimeout")  # 1 … 65535 seconds
        out.append(
            {
                "name": name,
                "namespace": namespace,
                "type": kind,
                "clusterIPs": cluster_ips,
                "externalIPs": external,
                "ports": ports,
                "externalLocal": _choice(entry, "externalTrafficPolicy", _POLICIES, where) == "Local",
                "internalLocal": _choice(entry, "internalTrafficPolicy", _POLICIES, where) == "Local",
                "affinity": timeout,
                "endpoints": endpoints,
            }
        )
    return out


def values(entries: Iterable[dict[str, Any]]) -> tuple[list[Service], list[EndpointSlice]]:
    """The Services of checked entries, and one EndpointSlice of each (named after its Service)."""
    services, slices = [], []
    for e in entries:
        ref = ServiceRef(e["namespace"], e["name"])
        ports = tuple(
            ServicePort(p["name"], p["protocol"], p["port"], p["targetPort"], p["nodePort"]) for p in e["ports"]
        )
        services.append(
            Service(
                ref=ref,
                cluster_ips=tuple(ipaddress.ip_address(t) for t in e["clusterIPs"]),
                ports=ports,
                type=e["type"],
                external_ips=tuple(ipaddress.ip_address(t) for t in e["externalIPs"]),
                external_local=e["externalLocal"],
                internal_local=e["internalLocal"],
                affinity_timeout=e["affinity"],
            )
        )
        slices.append(
            EndpointSlice(
                namespace=ref.namespace,
                name=ref.name,
                service=ref.name,
                ports=tuple(EndpointPort(p.name, p.protocol, int(p.target_port)) for p in ports),
                endpoints=tuple(Endpoint(ipaddress.ip_address(ep["ip"]), ep["node"]) for ep in e["endpoints"]),
            )
        )
    return services, slices


def load_services(path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.load(path.read_text(), Loader=_LOADER)
    except OSError as exc:
        raise _problem(str(path), f"cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise _problem(str(path), f"is not YAML: {exc}") from None
    return parse_services(data if data is not None else {}, str(path))


async def load_services_apart(path: Path) -> list[dict[str, Any]]:
    """``load_services`` in a child process; the event loop only decodes its JSON answer."""
    entries: list[dict[str, Any]] = await parse_apart("contivctl.cluster.servicefile", path)
    return entries


def write_services(path: Path, entries: Iterable[dict[str, Any]]) -> None:
    """Replace the file whole (write, then rename), so a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump({"services": list(entries)}, sort_keys=False))
    os.replace(tmp, path)


class ServicesFile(WatchedFile):
    """The Services listed in a file, as events."""

    what = "services file"

    def __init__(self, path: Path, post: Post, *, interval: float = CHECK_INTERVAL) -> None:
        super().__init__(path, interval)
        self._post = post
        #: as last posted (or seeded)
        self.services: dict[ServiceRef, Service] = {}
        self.slices: dict[ServiceRef, EndpointSlice] = {}

    def read(self) -> tuple[list[Service], list[EndpointSlice]]:
        """The Services now in the file, parsed here (raises ConfigError); remembers the file's version."""
        self.remember()
        return values(load_services(self.path))

    async def read_apart(self) -> tuple[list[Service], list[EndpointSlice]]:
        self.remember()
        return values(await load_services_apart(self.path))

    def seed(self, services: Iterable[Service], slices: Iterable[EndpointSlice]) -> None:
        """What the caller put into the view itself (before its startup resync): not posted again."""
        self.services = {s.ref: s for s in services}
        self.slices = {s.service_ref: s for s in slices}

    async def reload(self) -> None:
        self.apply(*await self.read_apart())

    def apply(self, services: Iterable[Service], slices: Iterable[EndpointSlice]) -> None:
        """Post what changed since the Services last posted."""
        now = {s.ref: s for s in services}
        now_slices = {s.service_ref: s for s in slices}
        for ref in sorted(set(self.slices) - set(now_slices), key=str):
            gone = self.slices.pop(ref)
            self._post(EndpointsRemoved(namespace=gone.namespace, name=gone.name))
        for ref in sorted(set(self.services) - set(now), key=str):
            del self.services[ref]
            log.info("service %s removed (services file)", ref)
            self._post(ServiceRemoved(ref=ref))
        for ref, svc in sorted(now.items(), key=lambda kv: str(kv[0])):
            if self.services.get(ref) != svc:
                self.services[ref] = svc
                log.info("service %s added or changed (services file)", ref)
                self._post(ServiceUpdated(service=svc))
        for ref, sl in sorted(now_slices.items(), key=lambda kv: str(kv[0])):
            if self.slices.get(ref) != sl:
                self.slices[ref] = sl
                self._post(EndpointsUpdated(slice=sl))


if __name__ == "__main__":
    raise SystemExit(print_parsed(load_services, sys.argv[1]))
