"""Services in nftables: the shared table, and one Service's chains, sets and map elements per item.

The table is made without ever deleting it: ``add`` of its maps and
chains keeps what is there (the Services' elements), and its own chains
are flushed and written again, so making it again over a damaged one
repairs it without touching a single Service.

A Service's objects are named after it (``svc/<ns>/<name>/<proto>/<port>``
and the like), so a listing of the table says which Service each chain,
set and map element belongs to; that set of names is the item's
footprint. ``create`` writes the Service in one ``nft -f`` transaction and
keeps its footprint as metadata; ``update`` deletes the old footprint and
writes the new value in one transaction, so a reader never sees half a
Service; ``delete`` removes the footprint. ``retrieve`` reads the table
once and compares each Service's footprint, and a digest of its value
kept in a rule comment, with what is expected; a Service that differs, or
that nothing expects, is reported with what is there as its metadata, so
it can be rewritten or removed.

Transactions requested together (the reconciler runs several items at
once) go to libnftables as one (libnft.py); should that fail, each runs
alone, so a bad one fails by itself. Every transaction makes nftables read
the table's chains first, so a Service has few: one per port, translating
with a map from a random number to an endpoint, and one for its node port
and external addresses; only with session affinity a chain per endpoint
(which remembers the clients sent there), as kube-proxy has for all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from contivctl.dataplane.linux import libnft
from contivctl.dataplane.linux.nftables import run_nft
from contivctl.errors import LinuxError, NetnsNotFound
from contivctl.items.kernel import ServiceBackend, ServicePortRules, ServiceRules, ServiceTable
from contivctl.items.linux import ns_label
from contivctl.reconcile.descriptor import Context, Descriptor
from contivctl.reconcile.item import Dependency, Metadata, Retrieved

FAMILY = "ip"
MASQ_MARK = "0x4000"
SERVICE_IPS, NODE_PORTS = "service-ips", "service-nodeports"
NO_ENDPOINT_IPS, NO_ENDPOINT_PORTS = "no-endpoint-services", "no-endpoint-nodeports"
_MAPS = {
    SERVICE_IPS: "ipv4_addr . inet_proto . inet_service",
    NODE_PORTS: "inet_proto . inet_service",
    NO_ENDPOINT_IPS: "ipv4_addr . inet_proto . inet_service",
    NO_ENDPOINT_PORTS: "inet_proto . inet_service",
}
_LOCAL = "fib daddr type local ip daddr != 127.0.0.0/8"
_CHECK = "ct state new jump endpoints-check"
#: the table's own chains: hook (or None) and rules
_CHAINS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "mark-for-masquerade": (None, (f"meta mark set meta mark | {MASQ_MARK}",)),
    "masquerading": (
        None,
        (
            f"meta mark & {MASQ_MARK} == 0 return",
            f"meta mark set meta mark ^ {MASQ_MARK}",
            "masquerade fully-random",
        ),
    ),
    "services": (
        None,
        (
            f"ip daddr . meta l4proto . th dport vmap @{SERVICE_IPS}",
            f"{_LOCAL} meta l4proto . th dport vmap @{NODE_PORTS}",
        ),
    ),
    "endpoints-check": (
        None,
        (
            f"ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_IPS}",
            f"{_LOCAL} meta l4proto . th dport vmap @{NO_ENDPOINT_PORTS}",
        ),
    ),
    "nat-prerouting": ("type nat hook prerouting priority dstnat; policy accept;", ("jump services",)),
    "nat-output": ("type nat hook output priority -100; policy accept;", ("jump services",)),
    "nat-postrouting": ("type nat hook postrouting priority srcnat; policy accept;", ("jump masquerading",)),
    # before NAT: a Service without endpoints still has its own address here
    "filter-forward": (
        "type filter hook forward priority -110; policy accept;",
        ("ct state new jump endpoints-check",),
    ),
    "filter-input": ("type filter hook input priority -110; policy accept;", ("ct state new jump endpoints-check",)),
    "filter-output": ("type filter hook output priority -110; policy accept;", ("ct state new jump endpoints-check",)),
}
_COMMENT = "contiv "

Footprint = frozenset[str]


def table_script(value: ServiceTable) -> str:
    t = f"{FAMILY} {value.name}"
    lines = [f"add table {t}"]
    lines += [f"add map {t} {name} {{ type {kind} : verdict; }}" for name, kind in _MAPS.items()]
    for name, (hook, rules) in _CHAINS.items():
        lines.append(f"add chain {t} {name}" + (f" {{ {hook} }}" if hook else ""))
        lines.append(f"flush chain {t} {name}")
        lines += [f"add rule {t} {name} {r}" for r in rules]
    return "\n".join(lines) + "\n"


# -- one Service ---------------------------------------------------------------------


def _base(v: ServiceRules, p: ServicePortRules) -> str:
    return f"{v.namespace}/{v.name}/{p.protocol}/{p.port}"


def _chain(kind: str, v: ServiceRules, p: ServicePortRules) -> str:
    return f"{kind}/{_base(v, p)}"


def _ep(v: ServiceRules, p: ServicePortRules, b: ServiceBackend) -> str:
    return f"ep/{_base(v, p)}/{b.ip}/{b.port}"


def _aff(v: ServiceRules, p: ServicePortRules, b: ServiceBackend) -> str:
    return f"aff/{_base(v, p)}/{b.ip}/{b.port}"


def digest(v: ServiceRules) -> str:
    return hashlib.sha256(repr(v).encode()).hexdigest()[:16]


def _set(items: Iterable[object]) -> str:
    return "{ " + ", ".join(str(i) for i in items) + " }"


class _Writer:
    """The commands that make one Service, and its footprint, built together so they cannot disagree."""

    def __init__(self, v: ServiceRules) -> None:
        self.v = v
        self.t = f"{FAMILY} {v.table}"
        self.lines: list[str] = []
        self.footprint: set[str] = set()
        self.mark = _COMMENT + digest(v)

    def chain(self, name: str, rules: Sequence[str]) -> None:
        self.lines.append(f"add chain {self.t} {name}")
        self.lines += [f"add rule {self.t} {name} {r}" for r in rules]
        self.footprint.add(f"chain {name}")

    def element(self, table_map: str, key: str, target: str) -> None:
        self.lines.append(f"add element {self.t} {table_map} {{ {key} : goto {target} }}")
        self.footprint.add(f"element {table_map} {key}")

    def pick(self, p: ServicePortRules, backends: Sequence[ServiceBackend], head: list[str]) -> list[str]:
        """Rules that translate to one of ``backends`` by weight (sticky per client with affinity)."""
        v = self.v
        rules = list(head)
        local = [b.ip for b in backends if b.local]
        if local and not v.affinity_timeout:  # with affinity, each endpoint's chain does it exactly
            rules.append(f"ip saddr {_set(local)} jump mark-for-masquerade")
        arms, at = [], 0
        for b in backends:
            # a weight as that many keys, not a range: a map of ranges is an interval set, and every
            # transaction would then make nftables read the elements of all of them first
            target = f"goto {_ep(v, p, b)}" if v.affinity_timeout else f"{b.ip} . {b.port}"
            for _ in range(max(1, b.weight)):
                arms.append(f"{at} : {target}")
                at += 1
        if v.affinity_timeout:
            rules += [f"ip saddr @{_aff(v, p, b)} goto {_ep(v, p, b)}" for b in backends]
            rules.append(f'numgen random mod {at} vmap {{ {", ".join(arms)} }} comment "{self.mark}"')
        else:
            rules.append(
                f"meta l4proto {p.protocol} dnat ip to numgen random mod {at} map {{ {', '.join(arms)} }}"
                f' comment "{self.mark}"'
            )
        return rules

    def endpoint(self, p: ServicePortRules, b: ServiceBackend) -> None:
        """With session affinity: a chain per endpoint, which remembers who was sent there."""
        v = self.v
        name = _aff(v, p, b)
        self.lines.append(
            f"add set {self.t} {name} {{ type ipv4_addr; flags dynamic,timeout; timeout {v.affinity_timeout}s; }}"
        )
        self.footprint.add(f"set {name}")
        rules = [
            f"ip saddr {b.ip} jump mark-for-masquerade",
            f"update @{name} {{ ip saddr }}",
            f"meta l4proto {p.protocol} dnat to {b.ip}:{b.port}",
        ]
        self.chain(_ep(v, p, b), rules)

    def port(self, p: ServicePortRules) -> None:
        v = self.v
        cluster = _chain("svc", v, p)
        internal = _set(v.internal)
        local_policy = p.external_backends is not None
        external = p.external_backends if p.external_backends is not None else p.backends
        endpoints = {(b.ip, b.port): b for b in (*p.backends, *external)}
        if not endpoints:
            # nothing anywhere: every address of the port is rejected (the filter hooks find it)
            self.chain(cluster, [f'reject comment "{self.mark}"'])
            for ip in (*p.cluster_ips, *p.external_ips):
                self.element(NO_ENDPOINT_IPS, f"{ip} . {p.protocol} . {p.port}", cluster)
            if p.node_port:
                self.element(NO_ENDPOINT_PORTS, f"{p.protocol} . {p.node_port}", cluster)
            return
        if v.affinity_timeout:
            for b in endpoints.values():
                self.endpoint(p, b)
        if p.backends:
            head = [f"ip saddr != {internal} jump mark-for-masquerade"] if v.internal else []
            self.chain(cluster, self.pick(p, p.backends, head))
        else:
            self.chain(cluster, [f'reject comment "{self.mark}"'])
        for ip in p.cluster_ips:
            self.element(SERVICE_IPS if p.backends else NO_ENDPOINT_IPS, f"{ip} . {p.protocol} . {p.port}", cluster)
        if not (p.external_ips or p.node_port):
            return
        ext = _chain("ext", v, p)
        if not local_policy:
            self.chain(ext, ["jump mark-for-masquerade", f"goto {cluster}"])
        else:
            head = [f"ip saddr {internal} goto {cluster}"] if v.internal and p.backends else []
            self.chain(ext, self.pick(p, external, head) if external else [*head, "drop"])
        for ip in p.external_ips:
            self.element(SERVICE_IPS, f"{ip} . {p.protocol} . {p.port}", ext)
        if p.node_port:
            self.element(NODE_PORTS, f"{p.protocol} . {p.node_port}", ext)


def _written(v: ServiceRules) -> _Writer:
    w = _Writer(v)
    for p in v.ports:
        w.port(p)
    return w


def footprint(v: ServiceRules) -> Footprint:
    w = _written(v)
    return frozenset(w.footprint | {f"digest {w.mark}"})


def create_script(v: ServiceRules) -> list[str]:
    return _written(v).lines


def delete_script(table: str, found: Footprint) -> list[str]:
    """Elements first (they name the chains), then rules, chains and sets."""
    t = f"{FAMILY} {table}"
    kinds: dict[str, list[str]] = {"element": [], "chain": [], "set": []}
    for entry in sorted(found):
        kind, _, rest = entry.partition(" ")
        if kind in kinds:
            kinds[kind].append(rest)
    lines = []
    for rest in kinds["element"]:
        table_map, _, key = rest.partition(" ")
        lines.append(f"delete element {t} {table_map} {{ {key} }}")
    lines += [f"flush chain {t} {c}" for c in kinds["chain"]]
    lines += [f"delete chain {t} {c}" for c in kinds["chain"]]
    lines += [f"delete set {t} {s}" for s in kinds["set"]]
    return lines


def _service_of(name: str) -> tuple[str, str] | None:
    parts = name.split("/")
    if len(parts) >= 5 and parts[0] in ("svc", "ext", "ep", "aff"):
        return parts[1], parts[2]
    return None


def read_table(listing: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """Every Service's footprint in one table's JSON listing, by (namespace, name)."""
    found: dict[tuple[str, str], set[str]] = {}

    def add(name: str, entry: str) -> None:
        svc = _service_of(name)
        if svc is not None:
            found.setdefault(svc, set()).add(entry)

    for obj in listing:
        if "chain" in obj:
            add(obj["chain"]["name"], f"chain {obj['chain']['name']}")
        elif "set" in obj:
            add(obj["set"]["name"], f"set {obj['set']['name']}")
        elif "map" in obj and obj["map"]["name"] in _MAPS:
            table_map = obj["map"]["name"]
            for key, verdict in obj["map"].get("elem") or []:
                target = (verdict.get("goto") or verdict.get("jump") or {}).get("target", "")
                add(target, f"element {table_map} {_key_text(key)}")
        elif "rule" in obj:
            rule = obj["rule"]
            comment = str(rule.get("comment", ""))
            if comment.startswith(_COMMENT) and rule["chain"].startswith("svc/"):
                add(rule["chain"], f"digest {comment}")
    return found


def _key_text(key: Any) -> str:
    if isinstance(key, dict) and "concat" in key:
        return " . ".join(str(k) for k in key["concat"])
    return str(key)


def _objects(text: str) -> list[dict[str, Any]]:
    data = json.loads(text or "{}")
    objects: list[dict[str, Any]] = data.get("nftables", [])
    return objects


class _Batch:
    """nft transactions asked for in the same turn of the event loop, run as one."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self._pending: list[tuple[list[str], asyncio.Future[None]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    def run(self, lines: list[str]) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._start)
        self._pending.append((lines, fut))
        return fut

    def _start(self) -> None:
        task = asyncio.get_running_loop().create_task(self._flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if len(batch) > 1:
            try:
                await self._nft([line for lines, _ in batch for line in lines])
            except Exception:  # one of them is bad: each on its own, so only it fails
                pass
            else:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)
                return
        for lines, fut in batch:
            try:
                await self._nft(lines)
            except Exception as exc:
                if not fut.done():
                    fut.set_exception(exc)
            else:
                if not fut.done():
                    fut.set_result(None)

    async def _nft(self, lines: list[str]) -> None:
        if lines:
            await libnft.apply(self.netns, "\n".join(lines) + "\n")


class ServiceTableDescriptor(Descriptor[ServiceTable]):
    prefix = "linux/svctable/"

    def __init__(self, netns: str, names: Iterable[str]) -> None:
        self.netns = netns
        self.names = tuple(names)

    async def create(self, ctx: Context, key: str, value: ServiceTable) -> Metadata:
        await libnft.apply(value.netns, table_script(value))
        return None

    async def delete(self, ctx: Context, key: str, value: ServiceTable, metadata: Metadata) -> None:
        try:
            status, _, err = await run_nft(value.netns, ["delete", "table", FAMILY, value.name])
        except NetnsNotFound:
            return
        if status != 0 and "No such file" not in err:
            raise LinuxError(f"remove nft table {value.name} in {ns_label(value.netns)}: {err.strip()}")

    async def retrieve(self, ctx: Context, expected: Mapping[str, ServiceTable]) -> Iterable[Retrieved]:
        found = []
        for name in self.names:
            listing = await _list_table(self.netns, name)
            if listing is None:
                continue
            have = {o["chain"]["name"] for o in listing if "chain" in o} | {
                o["map"]["name"] for o in listing if "map" in o
            }
            if set(_CHAINS) | set(_MAPS) <= have:  # a damaged table reads as missing: made again, in place
                value = ServiceTable(netns=self.netns, name=name)
                found.append(Retrieved(value.key, value, owned=True))
        return found

    def owns(self, key: str, value: ServiceTable) -> bool:
        return True


async def _list_table(netns: str, name: str) -> list[dict[str, Any]] | None:
    """The table's JSON listing; None when the table (or the namespace) is not there."""
    try:
        status, out, err = await run_nft(netns, ["-j", "list", "table", FAMILY, name])
    except NetnsNotFound:
        return None
    if status != 0:
        if "No such file" in err:
            return None
        raise LinuxError(f"nft list table {name} in {ns_label(netns)}: {err.strip()}")
    return _objects(out)


class ServiceRulesDescriptor(Descriptor[ServiceRules]):
    prefix = "linux/svcrules/"

    def __init__(self, netns: str, tables: Iterable[str]) -> None:
        self.netns = netns
        self.tables = tuple(tables)
        self._batches: dict[str, _Batch] = {}

    def _batch(self, netns: str) -> _Batch:
        found = self._batches.get(netns)
        if found is None:
            found = self._batches[netns] = _Batch(netns)
        return found

    async def create(self, ctx: Context, key: str, value: ServiceRules) -> Metadata:
        await self._batch(value.netns).run(create_script(value))
        return footprint(value)

    async def update(
        self, ctx: Context, key: str, old: ServiceRules, new: ServiceRules, metadata: Metadata
    ) -> Metadata:
        lines = delete_script(old.table, _footprint_of(old, metadata)) + create_script(new)
        await self._batch(new.netns).run(lines)
        return footprint(new)

    def needs_recreate(self, old: ServiceRules, new: ServiceRules) -> bool:
        return (old.netns, old.table) != (new.netns, new.table)

    def dependencies(self, key: str, value: ServiceRules) -> Iterable[Dependency]:
        return value.deps()  # the table first

    async def delete(self, ctx: Context, key: str, value: ServiceRules, metadata: Metadata) -> None:
        try:
            await self._batch(value.netns).run(delete_script(value.table, _footprint_of(value, metadata)))
        except NetnsNotFound:
            return

    async def retrieve(self, ctx: Context, expected: Mapping[str, ServiceRules]) -> Iterable[Retrieved]:
        out: list[Retrieved] = []
        for table in self.tables:
            listing = await _list_table(self.netns, table)
            if listing is None:
                continue
            for (namespace, name), found in read_table(listing).items():
                stub = ServiceRules(netns=self.netns, table=table, namespace=namespace, name=name)
                have = frozenset(found)
                want = expected.get(stub.key)
                value = want if want is not None and footprint(want) == have else stub
                out.append(Retrieved(stub.key, value, metadata=have, owned=True))
        return out

    def owns(self, key: str, value: ServiceRules) -> bool:
        return True


def _footprint_of(value: ServiceRules, metadata: Metadata) -> Footprint:
    return metadata if isinstance(metadata, frozenset) else footprint(value)
