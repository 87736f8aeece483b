"""The SNAT table of the kernel dataplane, made with the ``nft`` command in the vswitch namespace.

The whole table is written in one ``nft -f`` transaction (create it if
missing, delete it, write it again), so an update never leaves a half
table and never stacks a second rule. The rule's comment carries the
value it was made from; ``retrieve`` reads the value back from it, and a
table whose comment is missing or does not parse reads as different, so a
resync writes it again. ``nft`` runs under ``nsenter --net`` for a
namespace other than the agent's own; it takes a few milliseconds, paid
only when the table changes and once per resync.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from contivctl.errors import LinuxError, NetnsNotFound
from contivctl.iptypes import IPNetwork
from contivctl.items.kernel import SnatTable
from contivctl.items.linux import ns_label
from contivctl.reconcile.descriptor import Context, Descriptor
from contivctl.reconcile.item import Metadata, Retrieved

FAMILY = "ip"
CHAIN = "postrouting"
_MARK = "contiv-snat"


def encode(value: SnatTable) -> str:
    """The rule comment: what the table was made from (nft keeps at most 128 bytes)."""
    src = ",".join(str(n) for n in value.sources)
    internal = ",".join(str(n) for n in value.internal)
    return f"{_MARK} src={src} int={internal}"


def decode(netns: str, name: str, comment: str) -> SnatTable:
    parts = dict(p.split("=", 1) for p in comment.split()[1:] if "=" in p)
    if not comment.startswith(_MARK + " ") or set(parts) != {"src", "int"}:
        return SnatTable(netns=netns, name=name, sources=(), internal=())

    def nets(text: str) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(t) for t in text.split(",") if t)

    try:
        return SnatTable(netns=netns, name=name, sources=nets(parts["src"]), internal=nets(parts["int"]))
    except ValueError:
        return SnatTable(netns=netns, name=name, sources=(), internal=())


def script(value: SnatTable) -> str:
    """The nft transaction that (re)writes the table."""
    table = f"table {FAMILY} {value.name}"
    lines = [f"{table}", f"delete {table}", f"{table} {{", f"  chain {CHAIN} {{"]
    lines.append("    type nat hook postrouting priority srcnat; policy accept;")
    if value.sources:
        src = ", ".join(str(n) for n in value.sources)
        rule = f"ip saddr {{ {src} }}"
        if value.internal:
            rule += f" ip daddr != {{ {', '.join(str(n) for n in value.internal)} }}"
        lines.append(f'    {rule} masquerade comment "{encode(value)}"')
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


async def run_nft(netns: str, args: Sequence[str], stdin: str | None = None) -> tuple[int, str, str]:
    """Run ``nft`` in ``netns`` ("" = the agent's own); returns (status, stdout, stderr)."""
    cmd = ["nft", *args] if not netns else ["nsenter", f"--net={netns}", "nft", *args]
    if netns:
        try:
            open(netns).close()
        except FileNotFoundError:
            raise NetnsNotFound(f"network namespace {netns} does not exist") from None
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    return proc.returncode or 0, out.decode(), err.decode()


class SnatTableDescriptor(Descriptor[SnatTable]):
    prefix = "linux/nftables/"

    def __init__(self, netns: str, names: Iterable[str]) -> None:
        #: the namespace the agent's tables are in, and the names it owns there
        self.netns = netns
        self.names = tuple(names)

    async def create(self, ctx: Context, key: str, value: SnatTable) -> Metadata:
        await self._write(value)
        return None

    async def update(self, ctx: Context, key: str, old: SnatTable, new: SnatTable, metadata: Metadata) -> Metadata:
        await self._write(new)
        return None

    def needs_recreate(self, old: SnatTable, new: SnatTable) -> bool:
        return (old.netns, old.name) != (new.netns, new.name)

    async def _write(self, value: SnatTable) -> None:
        status, _, err = await run_nft(value.netns, ["-f", "-"], stdin=script(value))
        if status != 0:
            raise LinuxError(f"nft table {value.name} in {ns_label(value.netns)}: {err.strip()}")

    async def delete(self, ctx: Context, key: str, value: SnatTable, metadata: Metadata) -> None:
        try:
            status, _, err = await run_nft(value.netns, ["delete", "table", FAMILY, value.name])
        except NetnsNotFound:
            return
        if status != 0 and "No such file" not in err:
            raise LinuxError(f"remove nft table {value.name} in {ns_label(value.netns)}: {err.strip()}")

    async def retrieve(self, ctx: Context, expected: Mapping[str, SnatTable]) -> Iterable[Retrieved]:
        try:
            status, out, err = await run_nft(self.netns, ["-j", "list", "tables", FAMILY])
        except NetnsNotFound:
            return []
        if status != 0:
            raise LinuxError(f"nft list tables in {ns_label(self.netns)}: {err.strip()}")
        present = {t["table"]["name"] for t in _objects(out) if "table" in t}
        found = []
        for name in self.names:
            if name not in present:
                continue
            status, out, err = await run_nft(self.netns, ["-j", "list", "table", FAMILY, name])
            if status != 0:
                raise LinuxError(f"nft list table {name} in {ns_label(self.netns)}: {err.strip()}")
            comments = [o["rule"].get("comment", "") for o in _objects(out) if "rule" in o]
            value = decode(self.netns, name, comments[0] if len(comments) == 1 else "")
            found.append(Retrieved(value.key, value, owned=True))
        return found

    def owns(self, key: str, value: SnatTable) -> bool:
        return True


def _objects(text: str) -> list[dict[str, Any]]:
    data = json.loads(text or "{}")
    objects: list[dict[str, Any]] = data.get("nftables", [])
    return objects
