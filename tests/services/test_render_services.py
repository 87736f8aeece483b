"""The Service renderers and the service view, pure: no dataplane."""

from __future__ import annotations

import ipaddress
from typing import Any

import attrs

from contivctl.controller.services import ServiceView
from contivctl.dataplane.linux.nftservices import create_script, delete_script, footprint
from contivctl.ipam import node_setup
from contivctl.items import kernel as kx
from contivctl.items import vpp
from contivctl.model import ServicePort
from contivctl.render import kernel as kernel_render
from contivctl.render import vpp as vpp_render
from contivctl.render.inputs import VswitchInputs
from contivctl.render.services import ServiceContext
from contivctl.render.vpp.services import render_service
from tests.nodes.support import config
from tests.services.support import endpoints, service

CTX = ServiceContext(
    node_name="node-a",
    node_ips=(ipaddress.ip_address("192.168.16.5"), ipaddress.ip_address("192.168.16.6")),
    local_weight=2,
    nat_loopback=ipaddress.ip_address("10.1.5.254"),
    pod_cidr=ipaddress.ip_network("10.1.0.0/16"),
    pod_vrf=1,
    main_vrf=0,
    netns="/var/run/netns/node-a",
)
EPS = endpoints(("10.1.5.2", "node-a"), ("10.1.6.2", "node-b"), ("192.168.16.6", "node-b"))


def mappings(svc: Any, *slices: Any) -> dict[str, vpp.Nat44LbStaticMapping]:
    out = render_service(CTX, svc, slices)
    routes = [v for v in out.values() if isinstance(v, vpp.Route)]
    # every cluster and external IP answers what no mapping takes with ICMP unreachable
    assert {(str(r.dst), r.vrf, r.unreachable) for r in routes} == {
        (f"{ip}/32", CTX.pod_vrf, True) for ip in (*svc.cluster_ips, *svc.external_ips)
    }
    return {k: v for k, v in out.items() if isinstance(v, vpp.Nat44LbStaticMapping)}


def test_vpp_weights_vrfs_and_frontends() -> None:
    found = mappings(service(node_port=30080), EPS)
    assert sorted((str(m.external_ip), m.external_port) for m in found.values()) == [
        ("10.96.0.10", 80),
        ("192.168.16.5", 30080),
        ("192.168.16.6", 30080),
    ]
    m = found[vpp.lb_mapping_key(vpp.NatProtocol.TCP, ipaddress.ip_address("10.96.0.10"), 80)]
    assert {(str(lo.ip), lo.probability, lo.vrf) for lo in m.locals} == {
        ("10.1.5.2", 2, 1),  # this node's: ServiceLocalEndpointWeight
        ("10.1.6.2", 1, 1),
        ("192.168.16.6", 1, 0),  # a host-network endpoint: the main VRF
    }
    assert (m.self_twice_nat, m.twice_nat, m.out2in_only) == (True, False, True)


def test_vpp_external_traffic_policy_local() -> None:
    svc = service(node_port=30080, external_local=True)
    found = mappings(svc, EPS)
    node_port = [m for m in found.values() if m.external_port == 30080]
    assert all([str(lo.ip) for lo in m.locals] == ["10.1.5.2"] for m in node_port)
    assert all(m.self_twice_nat and not m.twice_nat for m in node_port)  # the client's address is kept
    elsewhere = mappings(svc, endpoints(("10.1.6.2", "node-b")))
    assert [m.external_port for m in elsewhere.values()] == [80]  # no local endpoint: no node port here


def test_vpp_internal_policy_affinity_and_protocols() -> None:
    svc = attrs.evolve(
        service(internal_local=True, affinity_timeout=30),
        ports=(
            ServicePort("http", "TCP", 80, 8080),
            ServicePort("sctp", "SCTP", 99, 99),
        ),
    )
    (m,) = mappings(svc, EPS).values()  # SCTP: not translated by NAT44
    assert [str(lo.ip) for lo in m.locals] == ["10.1.5.2"]
    assert m.affinity == 0  # one endpoint: a plain mapping, nothing to stick to
    (m,) = mappings(attrs.evolve(svc, internal_local=False), EPS).values()
    assert m.affinity == 30
    assert mappings(service(), endpoints()) == {}  # no endpoint: only the unreachable route


def test_kernel_rules_and_their_scripts() -> None:
    out = kernel_render.RENDERERS.service(CTX, service(node_port=30080, external_local=True), (EPS,))
    (rules,) = out.values()
    assert isinstance(rules, kx.ServiceRules)
    (port,) = rules.ports
    assert [(str(b.ip), b.weight) for b in port.backends] == [("10.1.5.2", 2), ("10.1.6.2", 1), ("192.168.16.6", 1)]
    assert [str(b.ip) for b in port.external_backends or ()] == ["10.1.5.2"]
    script = "\n".join(create_script(rules))
    # weight 2 for this node's endpoint: two of the four keys
    assert "numgen random mod 4 map { 0 : 10.1.5.2 . 8080, 1 : 10.1.5.2 . 8080, 2 : 10.1.6.2 . 8080," in script
    assert "ip saddr { 10.1.5.2 } jump mark-for-masquerade" in script  # this node's endpoint, to itself
    assert "add element ip contiv-services service-nodeports { tcp . 30080 : goto ext/default/web/tcp/80 }" in script
    # deleting is exactly what was created, elements before the chains they name
    lines = delete_script(rules.table, footprint(rules))
    assert lines[0].startswith("delete element") and lines[-1].startswith("delete chain")
    assert len([x for x in lines if x.startswith("delete chain")]) == script.count("add chain")

    empty = kernel_render.RENDERERS.service(CTX, service(node_port=30080), (endpoints(),))
    (rules,) = empty.values()
    script = "\n".join(create_script(rules))
    assert "reject" in script and "no-endpoint-services { 10.96.0.10 . tcp . 80" in script
    assert "no-endpoint-nodeports { tcp . 30080" in script


def test_view_rerenders_only_node_port_services_when_nodes_change() -> None:
    setup = node_setup(config(), "node-a", 5)
    inputs = VswitchInputs(eff=setup.eff, plan=setup.plan, services=True)
    ips = [ipaddress.ip_address("192.168.16.5")]
    reads = []

    def node_ips() -> tuple[Any, ...]:
        reads.append(1)
        return tuple(ips)

    view = ServiceView(vpp_render.RENDERERS, lambda: inputs, node_ips)
    view.set_service(service("plain", "10.96.0.11"))
    view.set_slice(endpoints(("10.1.6.2", "node-b"), service_name="plain"))
    assert view.refresh() == {} and reads == []  # nodes joining cost nothing without a node port
    view.set_service(service(node_port=30080))
    changes = view.set_slice(endpoints(("10.1.6.2", "node-b")))
    assert reads and len(changes) == 2  # the cluster IP and this node's address (the route came with the Service)
    ips.append(ipaddress.ip_address("192.168.16.6"))
    changes = view.refresh()
    assert [k for k, v in changes.items() if v is not None] == [
        vpp.lb_mapping_key(vpp.NatProtocol.TCP, ipaddress.ip_address("192.168.16.6"), 30080)
    ]
    keys = set(view.items[service().ref])
    assert len(keys) == 4
    assert view.remove_service(service().ref) == dict.fromkeys(keys)
    assert set(view.desired()) == set(view.items[service("plain").ref])
