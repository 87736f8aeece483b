"""Checks that span fields: each returns problems, never raises.

Types and ranges of single values are checked while loading; what is here
needs several values at once (a per-node prefix against its cluster range, a
VRF against another, one range against the others) or knowledge of what VPP
accepts.

The same rules serve ``contivctl config check`` and the agent: whatever the
agent needs to compute a node's address plan is checked here, at load, so a
file that passes the check cannot be refused by the agent later. Warnings
(``advise``) are for what the original accepted and we keep accepting, but
which does not do what its value says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from datetime import timedelta
from typing import Any

import attrs

from contivctl.config.contivcidr import MIN_HOST_BITS
from contivctl.config.model import Config, IPAMConfig
from contivctl.config.node import effective_config
from contivctl.config.schema import display_key
from contivctl.errors import ConfigProblem
from contivctl.iptypes import IPNetwork

MAX_RING_SIZE = 32768
#: A node's pod subnet needs a network, gateway, NAT loopback and broadcast
#: address plus at least one pod: 3 host bits is the smallest useful size.
MIN_POD_HOST_BITS = 3
#: The VPP-host link needs the VPP end (+1) and the host end (+2).
MIN_VPP_HOST_BITS = 2
#: The cluster ranges that must not share an address, in the order they are named in messages.
DISJOINT_RANGES = (
    "pod_subnet_cidr",
    "vpp_host_subnet_cidr",
    "service_cidr",
    "node_interconnect_cidr",
    "vxlan_cidr",
    "pod_if_ip_cidr",
)
#: The ranges ContivCIDR carves (NodeInterconnectCIDR only when the user gave none).
_FROM_CONTIV_CIDR = {
    "pod_subnet_cidr",
    "vpp_host_subnet_cidr",
    "node_interconnect_cidr",
    "vxlan_cidr",
    "pod_if_ip_cidr",
}


def key_path(dialect: str, cls: type[Any], *names: str) -> str:
    """The user-facing key path of nested attribute ``names`` under ``cls``."""
    parts = []
    for name in names:
        field = attrs.fields_dict(cls)[name]
        parts.append(display_key(field, dialect))
        nested = field.metadata.get("contivctl.nested") or field.metadata.get("contivctl.list_of")
        if nested is not None:
            cls = nested
    return ".".join(parts)


@attrs.frozen
class _Context:
    """What the rules need besides the config: how keys were spelled and which values failed."""

    cfg: Config
    failed: frozenset[str]
    spelled: Mapping[str, str]

    def ok(self, *attr_paths: str) -> bool:
        """Rules reading a value rejected while loading are skipped: they would judge its default."""
        return not any(p in self.failed for p in attr_paths)

    def where(self, *names: str) -> str:
        """The key path of attribute ``names`` as the user wrote it, else as the file form spells it."""
        found = self.spelled.get(".".join(names))
        return found if found is not None else key_path(self.cfg.dialect, Config, *names)

    def item(self, list_name: str, index: int, *names: str) -> str:
        """The key path of a field of the ``index``-th entry of a list section."""
        base = self.spelled.get(f"{list_name}[{index}]") or f"{self.where(list_name)}[{index}]"
        field_path = f"{list_name}[{index}]." + ".".join(names)
        found = self.spelled.get(field_path)
        if found is not None:
            return found
        return base + "." + key_path(self.cfg.dialect, Config, list_name, *names).split(".", 1)[1]


def validate(
    cfg: Config,
    failed: Collection[str] = (),
    spelled: Mapping[str, str] | None = None,
    *,
    node: str | None = None,
) -> list[ConfigProblem]:
    """Cross-field problems of ``cfg``; ``failed`` and ``spelled`` come from the loader.

    With ``node`` (the agent's node name; "" for a node without an entry)
    the node-specific rules are judged for that node instead of for the
    file as a whole.
    """
    ctx = _Context(cfg, frozenset(failed), spelled or {})
    return [
        *_global_problems(ctx),
        *_ipam_problems(ctx),
        *_node_ip_problems(ctx, node),
        *_node_problems(ctx),
        *_stn_problems(ctx, node),
    ]


def advise(
    cfg: Config,
    failed: Collection[str] = (),
    spelled: Mapping[str, str] | None = None,
    *,
    node: str | None = None,
) -> list[ConfigProblem]:
    """What loads but does not do what it says; ``config check`` prints it, the agent logs it."""
    ctx = _Context(cfg, frozenset(failed), spelled or {})
    return [*_global_warnings(ctx), *_ipam_warnings(ctx, node), *_stn_warnings(ctx, node)]


def _global_problems(ctx: _Context) -> Iterator[ConfigProblem]:
    cfg, ok, _p = ctx.cfg, ctx.ok, ctx.where
    if ok("tap_interface_version") and cfg.tap_interface_version not in (1, 2):
        yield ConfigProblem(
            _p("tap_interface_version"), f"{cfg.tap_interface_version} is not a TAP version (allowed: 1, 2)"
        )
    for name in ("tap_v2_rx_ring_size", "tap_v2_tx_ring_size", "vmxnet3_rx_ring_size", "vmxnet3_tx_ring_size"):
        size = getattr(cfg, name)
        if ok(name) and size and (size & (size - 1) or size > MAX_RING_SIZE):
            yield ConfigProblem(_p(name), f"{size} is not a power of two up to {MAX_RING_SIZE} (0 keeps VPP's default)")
    if ok("mtu_size") and cfg.mtu_size and not 68 <= cfg.mtu_size <= 65535:
        yield ConfigProblem(_p("mtu_size"), f"{cfg.mtu_size} is not an MTU (68 to 65535, or 0 for the default)")
    if ok("main_vrf_id", "pod_vrf_id") and cfg.main_vrf_id == cfg.pod_vrf_id:
        yield ConfigProblem(_p("pod_vrf_id"), f"{cfg.pod_vrf_id} is also the main VRF ID; pods need a VRF of their own")
    for name in ("ip_neighbor_scan_interval", "ip_neighbor_stale_threshold"):
        value: timedelta = getattr(cfg, name)
        minutes, rest = divmod(value, timedelta(minutes=1))
        if ok(name) and (rest or minutes > 255):
            yield ConfigProblem(
                _p(name), f"{value} is not a whole number of minutes from 0 to 255 (VPP counts in minutes)"
            )
    if cfg.node_to_node_transport == "srv6":
        yield ConfigProblem(_p("node_to_node_transport"), "'srv6' is not supported (allowed: vxlan, nooverlay)")
    for name in (
        "use_srv6_for_services",
        "use_srv6_for_service_function_chaining",
        "use_dx6_for_srv6_node_to_node_transport",
    ):
        if getattr(cfg, name):
            yield ConfigProblem(_p(name), "true is not supported: contivctl has no SRv6 (allowed: false)")


def _ipam_problems(ctx: _Context) -> Iterator[ConfigProblem]:
    cfg, ok = ctx.cfg, ctx.ok
    ipam = cfg.ipam
    if not ok("ipam", "ipam.contiv_cidr"):
        return

    def path(name: str) -> str:
        return ctx.where("ipam", name)

    if ipam.contiv_cidr is not None and ipam.contiv_cidr.max_prefixlen - ipam.contiv_cidr.prefixlen < MIN_HOST_BITS:
        yield ConfigProblem(
            path("contiv_cidr"),
            f"{ipam.contiv_cidr} is too small: it needs at least {MIN_HOST_BITS} host bits "
            f"(/{ipam.contiv_cidr.max_prefixlen - MIN_HOST_BITS} or larger)",
        )
        return
    for cidr_name, len_name, min_bits in (
        ("pod_subnet_cidr", "pod_network_prefix_len", MIN_POD_HOST_BITS),
        ("vpp_host_subnet_cidr", "vpp_host_network_prefix_len", MIN_VPP_HOST_BITS),
    ):
        cidr: IPNetwork | None = getattr(ipam, cidr_name)
        per_node: int = getattr(ipam, len_name)
        if not ok(f"ipam.{cidr_name}", f"ipam.{len_name}"):
            continue
        if cidr is None:
            yield ConfigProblem(path(cidr_name), "is required (or set ContivCIDR)")
            continue
        if per_node <= cidr.prefixlen:
            yield ConfigProblem(
                path(len_name),
                f"{per_node} must be longer than the prefix of {cidr} (/{cidr.prefixlen}), "
                "so that every node gets its own block",
            )
        elif per_node > cidr.max_prefixlen - min_bits:
            yield ConfigProblem(
                path(len_name),
                f"{per_node} leaves too few addresses per node (at most /{cidr.max_prefixlen - min_bits})",
            )
    if ok("ipam.vxlan_cidr") and ipam.vxlan_cidr is None:
        yield ConfigProblem(path("vxlan_cidr"), "is required (or set ContivCIDR)")
    if ok("ipam.pod_if_ip_cidr", "ipam.pod_subnet_cidr", "ipam.pod_network_prefix_len"):
        yield from _pod_if_problems(ipam, path("pod_if_ip_cidr"))
    yield from _overlap_problems(ctx)
    families = {
        name: net.version
        for name in ("pod_subnet_cidr", "vpp_host_subnet_cidr", "node_interconnect_cidr", "vxlan_cidr")
        if ok(f"ipam.{name}") and (net := getattr(ipam, name)) is not None
    }
    if len(set(families.values())) > 1:
        yield ConfigProblem(
            path("pod_subnet_cidr"),
            "pod, VPP-host, node interconnect and VXLAN ranges must all be IPv4 or all IPv6 "
            f"(got {', '.join(f'{path(n)}: IPv{v}' for n, v in families.items())})",
        )


def _pod_if_problems(ipam: IPAMConfig, path: str) -> Iterator[ConfigProblem]:
    pod_if = ipam.pod_if_ip_cidr
    pods = ipam.pod_subnet_cidr
    if pod_if is None or pods is None:
        return
    if pod_if.version != pods.version:
        yield ConfigProblem(path, f"{pod_if} is not of the same IP version as the pod subnet {pods}")


def _overlap_problems(ctx: _Context) -> Iterator[ConfigProblem]:
    """Two ranges sharing addresses: a pod could get the VPP-host address, a service IP a pod's."""
    ipam = ctx.cfg.ipam
    ranges = [
        (name, net) for name in DISJOINT_RANGES if ctx.ok(f"ipam.{name}") and (net := getattr(ipam, name)) is not None
    ]
    for i, (name, net) in enumerate(ranges):
        for other_name, other in ranges[:i]:
            if net.version == other.version and net.overlaps(other):
                yield ConfigProblem(
                    ctx.where("ipam", name),
                    f"{net}{_origin(ctx, name)} overlaps {ctx.where('ipam', other_name)} "
                    f"{other}{_origin(ctx, other_name)}; the ranges must not share addresses",
                )


def _origin(ctx: _Context, name: str) -> str:
    """Where a range's value came from, when the user did not write it."""
    given = f"ipam.{name}" in ctx.spelled
    kept = given and name == "node_interconnect_cidr"  # the one range ContivCIDR keeps as the user gave it
    if ctx.cfg.ipam.contiv_cidr is not None and name in _FROM_CONTIV_CIDR and not kept:
        return f" (from {ctx.where('ipam', 'contiv_cidr')})"
    return "" if given else " (the default)"


def _node_ip_sources(cfg: Config) -> list[str]:
    """Names of the nodes whose entry makes NodeInterconnectCIDR unnecessary for them (static IP or DHCP)."""
    return [
        n.node_name
        for n in cfg.node_config
        if n.main_vpp_interface.ip is not None or n.main_vpp_interface.use_dhcp or n.steal_interface
    ]


def _node_ip_problems(ctx: _Context, node: str | None) -> Iterator[ConfigProblem]:
    """Without NodeInterconnectCIDR or DHCP a node has no IP: the agent could not compute its plan."""
    cfg = ctx.cfg
    ipam = cfg.ipam
    if not ctx.ok("ipam", "ipam.node_interconnect_cidr", "ipam.node_interconnect_dhcp", "node_config"):
        return
    if ipam.node_interconnect_cidr is not None or ipam.node_interconnect_dhcp or ipam.contiv_cidr is not None:
        return  # (a ContivCIDR that carves no range has a problem of its own)
    if cfg.steal_first_nic or cfg.steal_interface:
        return  # every node steals its NIC: the NIC's address is its node IP
    dhcp = key_path(cfg.dialect, Config, "ipam", "node_interconnect_dhcp")
    main_ip = key_path(cfg.dialect, Config, "node_config", "main_vpp_interface", "ip").split(".", 1)[1]
    main_dhcp = key_path(cfg.dialect, Config, "node_config", "main_vpp_interface", "use_dhcp").split(".", 1)[1]
    where = ctx.where("ipam", "node_interconnect_cidr")
    if node is None:
        if not _node_ip_sources(cfg):
            yield ConfigProblem(
                where,
                f"is required unless {dhcp} is true or a node entry sets {main_ip} or {main_dhcp}: "
                "no node would get a node IP",
            )
        return
    eff = effective_config(cfg, node)
    if eff.main_interface.ip is not None or eff.use_dhcp or eff.stn_mode:
        return
    if not node:
        why = "no node entry applies (no node name given)"
    elif eff.source == "file":
        why = f"the entry of node {node!r} sets neither {main_ip} nor {main_dhcp}"
    else:
        why = f"node {node!r} has no entry in {ctx.where('node_config')}"
    yield ConfigProblem(where, f"is required: {dhcp} is false and {why}, so the node would have no node IP")


def _global_warnings(ctx: _Context) -> Iterator[ConfigProblem]:
    cfg = ctx.cfg
    if ctx.ok("tap_interface_version") and cfg.tap_interface_version == 1:
        yield ConfigProblem(
            ctx.where("tap_interface_version"),
            "1 is ignored: VPP 26.06 has no TAP v1, TAP interfaces are always virtio TAPs (version 2)",
        )
    if ctx.ok("disable_nat_virtual_reassembly") and cfg.disable_nat_virtual_reassembly:
        yield ConfigProblem(
            ctx.where("disable_nat_virtual_reassembly"),
            "true is ignored: VPP 26.06's NAT44 has no setting that drops fragments (the v2.0 agent's "
            "nat_set_reass went with the old NAT plugin); fragments are translated as they arrive",
        )
    if (
        cfg.dialect == "contiv.yaml"
        and cfg.crd_node_configuration_disabled
        and "crd_node_configuration_disabled" in ctx.spelled
    ):
        yield ConfigProblem(
            ctx.where("crd_node_configuration_disabled"),
            "true: NodeConfig resources are not read, node entries come from this file only "
            "(the v2.0 agent read them whatever this key said; set it to false to keep using them)",
        )


def _ipam_warnings(ctx: _Context, node: str | None) -> Iterator[ConfigProblem]:
    cfg = ctx.cfg
    ipam = cfg.ipam
    if not ctx.ok("ipam", "ipam.contiv_cidr"):
        return
    pod_if, pods = ipam.pod_if_ip_cidr, ipam.pod_subnet_cidr
    if (
        ctx.ok("ipam.pod_if_ip_cidr", "ipam.pod_subnet_cidr", "ipam.pod_network_prefix_len")
        and pod_if is not None
        and pods is not None
        and pod_if.version == pods.version
        and pod_if.prefixlen > ipam.pod_network_prefix_len
    ):
        # the host part of a pod address is added to the range's start, unmasked (subnets.pod_if_address)
        last = pod_if.network_address + (1 << (pod_if.max_prefixlen - ipam.pod_network_prefix_len)) - 1
        yield ConfigProblem(
            ctx.where("ipam", "pod_if_ip_cidr"),
            f"{pod_if} is smaller than one node's pod subnet (/{ipam.pod_network_prefix_len}): "
            f"as in the original, the VPP-side pod interface addresses run past it, up to {last}",
        )
    if (
        node is None
        and ctx.ok("ipam.node_interconnect_cidr", "ipam.node_interconnect_dhcp", "node_config")
        and ipam.node_interconnect_cidr is None
        and not ipam.node_interconnect_dhcp
        and (named := _node_ip_sources(cfg))
    ):
        dhcp = key_path(cfg.dialect, Config, "ipam", "node_interconnect_dhcp")
        yield ConfigProblem(
            ctx.where("ipam", "node_interconnect_cidr"),
            f"is not set and {dhcp} is false: only the nodes whose entry gives them an IP "
            f"({', '.join(map(repr, named))}) have a node IP; the agent refuses to start on any other node",
        )


def _node_problems(ctx: _Context) -> Iterator[ConfigProblem]:
    cfg = ctx.cfg
    if not ctx.ok("node_config"):
        return
    names = Counter(n.node_name for n in cfg.node_config)
    for i, node in enumerate(cfg.node_config):
        if not node.node_name:
            yield ConfigProblem(ctx.item("node_config", i, "node_name"), "is required")
        elif names[node.node_name] > 1:
            yield ConfigProblem(ctx.item("node_config", i, "node_name"), f"{node.node_name!r} has more than one entry")
        for j, other in enumerate(node.other_vpp_interfaces):
            if not other.interface_name:
                where = ctx.item("node_config", i, "other_vpp_interfaces")
                name_key = key_path(cfg.dialect, Config, "node_config", "main_vpp_interface", "interface_name")
                yield ConfigProblem(f"{where}[{j}].{name_key.rsplit('.', 1)[1]}", "is required")


#: STNVersion values and what they mean (render/vpp/stn.py)
STN_VERSIONS = {0: "an STN rule", 1: "an STN rule", 2: "an IP punt redirect"}


def _stn_nodes(ctx: _Context, node: str | None) -> Iterator[tuple[str, Any]]:
    """(key path prefix, effective config) of each node the rules judge that is in STN mode."""
    cfg = ctx.cfg
    if node is not None:
        eff = effective_config(cfg, node)
        if eff.stn_mode:
            yield "", eff
        return
    if cfg.steal_first_nic or cfg.steal_interface:
        yield "", effective_config(cfg, "")
    for n in cfg.node_config:
        eff = effective_config(cfg, n.node_name)
        if eff.stn_mode:
            yield n.node_name, eff


def _stn_problems(ctx: _Context, node: str | None) -> Iterator[ConfigProblem]:
    """What STN mode cannot do (docs/stn.md): refused here rather than accepted and not done."""
    cfg = ctx.cfg
    if ctx.ok("stn_version") and cfg.stn_version not in STN_VERSIONS:
        allowed = ", ".join(f"{v} ({what})" for v, what in STN_VERSIONS.items())
        yield ConfigProblem(ctx.where("stn_version"), f"{cfg.stn_version} is not an STN version (allowed: {allowed})")
    if not ctx.ok("ipam", "node_config", "steal_first_nic", "steal_interface"):
        return
    nodes = list(_stn_nodes(ctx, node))
    if not nodes:
        return
    pods = cfg.ipam.pod_subnet_cidr
    if pods is not None and pods.version == 6:
        yield ConfigProblem(
            ctx.where("ipam", "pod_subnet_cidr"),
            f"{pods} is IPv6; STN steals IPv4 addresses only (as the original): STN mode needs IPv4 ranges",
        )
    if node is not None:
        yield from _stn_dhcp(ctx, node, nodes)


def _stn_dhcp(ctx: _Context, node: str | None, nodes: list[tuple[str, Any]]) -> Iterator[ConfigProblem]:
    """A stealing node with DHCP: refused for the node the agent runs on, a warning for the file as a whole."""
    cfg = ctx.cfg
    dhcp = ctx.where("ipam", "node_interconnect_dhcp")
    for name, eff in nodes:
        if not eff.use_dhcp:
            continue
        if cfg.ipam.node_interconnect_dhcp and not eff.node.main_vpp_interface.use_dhcp:
            where = dhcp
        else:
            index = next((i for i, n in enumerate(cfg.node_config) if n.node_name == (name or node)), None)
            where = ctx.item("node_config", index, "main_vpp_interface", "use_dhcp") if index is not None else dhcp
        who = f"node {name!r}" if name else (f"node {node!r}" if node else "a node without an entry")
        refusal = "" if node is not None else f"; the agent of {who} refuses to start"
        yield ConfigProblem(
            where,
            f"true, and {who} steals its NIC (STN): DHCP on a stolen NIC is not supported; "
            f"give the NIC a static address in Linux before it is stolen{refusal}",
        )


def _stn_warnings(ctx: _Context, node: str | None) -> Iterator[ConfigProblem]:
    """In STN mode the stolen NIC's address and gateway win: a configured one is ignored."""
    cfg = ctx.cfg
    if not ctx.ok("ipam", "node_config", "steal_first_nic", "steal_interface"):
        return
    nodes = list(_stn_nodes(ctx, node))
    if node is None:
        yield from _stn_dhcp(ctx, node, nodes)
    for name, eff in nodes:
        who = f"node {name!r}" if name else (f"node {node!r}" if node else "a node without an entry")
        index = next((i for i, n in enumerate(cfg.node_config) if n.node_name == (name or node)), None)
        if eff.main_interface.ip is not None and index is not None:
            yield ConfigProblem(
                ctx.item("node_config", index, "main_vpp_interface", "ip"),
                f"{eff.main_interface.ip} is ignored: {who} steals its NIC (STN), whose first address is the node IP",
            )
        if eff.node.gateway is not None and index is not None:
            yield ConfigProblem(
                ctx.item("node_config", index, "gateway"),
                f"{eff.node.gateway} is ignored: {who} steals its NIC (STN), whose default route gives the gateway",
            )
