"""``--services-file``: Services without Kubernetes, their errors, and the events a change posts."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from contivctl.cluster.servicefile import ServicesFile, load_services_apart, parse_services, values, write_services
from contivctl.errors import ConfigError
from contivctl.events import EndpointsRemoved, EndpointsUpdated, Event, ServiceRemoved, ServiceUpdated
from contivctl.model import Endpoint, EndpointPort, ServicePort, ServiceRef

WEB: dict[str, Any] = {
    "name": "web",
    "clusterIP": "10.96.0.10",
    "type": "NodePort",
    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}],
    "sessionAffinity": "ClientIP",
    "endpoints": [{"ip": "10.1.1.2", "node": "node1"}, "10.1.2.2"],
}


def test_entries_become_a_service_and_its_slice() -> None:
    (svc,), (sl,) = values(parse_services({"services": [WEB]}))
    assert svc.ref == ServiceRef("default", "web")
    assert svc.cluster_ips == (ipaddress.ip_address("10.96.0.10"),)
    assert svc.ports == (ServicePort("http", "TCP", 80, 8080, 30080),)
    assert (svc.type, svc.affinity_timeout, svc.external_local) == ("NodePort", 10800, False)
    assert sl.service_ref == svc.ref
    assert sl.ports == (EndpointPort("http", "TCP", 8080),)
    assert sl.endpoints == (
        Endpoint(ipaddress.ip_address("10.1.1.2"), "node1"),
        Endpoint(ipaddress.ip_address("10.1.2.2"), ""),
    )


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"name": ""}, "services[0].name"),
        ({"clusterIP": "10.96.0"}, "services[0].clusterIPs"),
        ({"type": "LoadBalancer"}, "services[0].type"),
        ({"ports": [{"port": 0}]}, "services[0].ports[0].port"),
        ({"ports": [{"port": 80, "protocol": "ICMP"}]}, "services[0].ports[0].protocol"),
        ({"type": "ClusterIP"}, "services[0].ports[0].nodePort"),
        ({"endpoints": [{"ip": "x"}]}, "services[0].endpoints[0].ip"),
        ({"externalTrafficPolicy": "Nearest"}, "services[0].externalTrafficPolicy"),
        ({"sessionAffinityTimeout": 0}, "services[0].sessionAffinityTimeout"),
    ],
)
def test_a_bad_entry_is_named(change: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_services({"services": [{**WEB, **change}]})
    assert err.value.problems[0].path == where


async def test_parsed_apart_and_followed(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    write_services(path, [WEB])
    entries = await load_services_apart(path)
    assert entries == parse_services({"services": [WEB]})
    path.write_text("services: [{name: web, clusterIP: nonsense}]\n")
    with pytest.raises(ConfigError) as bad:
        await load_services_apart(path)
    assert [p.path for p in bad.value.problems] == ["services[0].clusterIPs"]

    posted: list[Event] = []
    source = ServicesFile(path, posted.append)
    services, slices = values(entries)
    source.seed(services, slices)
    source.apply(services, slices)
    assert posted == []  # what was seeded is not posted again

    one = {**WEB, "endpoints": ["10.1.2.2"]}
    source.apply(*values(parse_services({"services": [one]})))
    (ev,) = posted
    assert isinstance(ev, EndpointsUpdated)
    assert [e.ip for e in ev.slice.endpoints] == [ipaddress.ip_address("10.1.2.2")]

    posted.clear()
    source.apply([], [])
    assert [type(e) for e in posted] == [EndpointsRemoved, ServiceRemoved]
    posted.clear()
    source.apply(*values(parse_services({"services": [one]})))
    assert [type(e) for e in posted] == [ServiceUpdated, EndpointsUpdated]
