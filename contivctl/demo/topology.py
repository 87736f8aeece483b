"""The namespaces: an underlay bridge in its own namespace, a namespace per node, one per pod.

Nothing is created in the host's namespace: each veth is made inside a
node's namespace with its peer born in the underlay's, so the host's
interfaces and routes are never touched. Deleting a namespace takes its
links with it; removal therefore only deletes namespaces, last made first.
"""

from __future__ import annotations

from collections.abc import Callable

from contivctl.demo.plan import BRIDGE, NIC, UNDERLAY_CIDR, UNDERLAY_IP, DemoPlan, NodePlan
from contivctl.demo.service import SERVICE_CIDR
from contivctl.demo.sh import DemoError, netns_exists, run

#: called with a namespace's name before it is created (the state file records it)
Record = Callable[[str], None]


def add_netns(name: str, record: Record) -> None:
    if netns_exists(name):
        raise DemoError(f"network namespace {name} exists already: run `contivctl demo down`")
    record(name)
    run("ip", "netns", "add", name)
    run("ip", "-n", name, "link", "set", "lo", "up")


def build_underlay(plan: DemoPlan, record: Record) -> None:
    ul = plan.underlay
    add_netns(ul, record)
    prefix = UNDERLAY_CIDR.split("/")[1]
    run("ip", "-n", ul, "link", "add", BRIDGE, "type", "bridge")
    run("ip", "-n", ul, "addr", "add", f"{UNDERLAY_IP}/{prefix}", "dev", BRIDGE)
    run("ip", "-n", ul, "link", "set", BRIDGE, "up")


def build_node(plan: DemoPlan, node: NodePlan, record: Record) -> None:
    """A node namespace whose NIC is a veth into the underlay bridge, addressed as its agent expects.

    Forwarding is left off, as on a host that never routed: turning it on is the agent's job.
    """
    add_netns(node.netns, record)
    ul = plan.underlay
    port = f"ul{node.id}"
    run("ip", "netns", "exec", node.netns, "sysctl", "-qw", "net.ipv4.ip_forward=0")
    run("ip", "-n", node.netns, "link", "add", NIC, "type", "veth", "peer", "name", port, "netns", ul)
    run("ip", "-n", ul, "link", "set", port, "master", BRIDGE, "up")
    run("ip", "-n", node.netns, "addr", "add", node.ip, "dev", NIC)
    run("ip", "-n", node.netns, "link", "set", NIC, "up")
    if plan.service:
        # a node's own connections to a cluster IP need a route before NAT rewrites them (any host has
        # a default route; these namespaces have none)
        run("ip", "-n", node.netns, "route", "add", SERVICE_CIDR, "via", UNDERLAY_IP)


def build_pod_netns(name: str, record: Record) -> None:
    """An empty namespace with ``lo`` up, as a container runtime hands it to CNI."""
    add_netns(name, record)


def remove_netns(name: str) -> str | None:
    """Delete a namespace (and so its links); the error, if it is still there afterwards."""
    if not netns_exists(name):
        return None
    done = run("ip", "netns", "del", name, check=False)
    if done.returncode != 0 and netns_exists(name):
        return f"namespace {name}: {done.stderr.strip()}"
    return None
