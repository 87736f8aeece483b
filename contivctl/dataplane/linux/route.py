"""Main-table routes, marked with the agent's own route protocol number."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.common import gone, link_index, netlink_errors
from contivctl.dataplane.linux.netns import iproute
from contivctl.dataplane.linux.snapshot import RT_TABLE_MAIN, RTPROT_CONTIV
from contivctl.errors import LinuxError
from contivctl.items.linux import Route, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved

RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253


class RouteDescriptor(SnapshotDescriptor[Route]):
    prefix = "linux/route/"

    async def create(self, ctx: Context, key: str, value: Route) -> Metadata:
        self._snapshots.invalidate()
        await self._set(ctx, "replace", value)
        return None

    async def update(self, ctx: Context, key: str, old: Route, new: Route, metadata: Metadata) -> Metadata:
        self._snapshots.invalidate()
        await self._set(ctx, "replace", new)
        return None

    def needs_recreate(self, old: Route, new: Route) -> bool:
        return (old.netns, old.dst) != (new.netns, new.dst)

    async def _set(self, ctx: Context, op: str, value: Route) -> None:
        async with iproute(value.netns) as ipr:
            index = await link_index(ipr, ctx, value.link, value.netns, value.dev)
            spec: dict[str, Any] = {
                "dst": str(value.dst),
                "oif": index,
                "table": RT_TABLE_MAIN,
                "proto": RTPROT_CONTIV,
                "scope": RT_SCOPE_LINK if value.via is None else RT_SCOPE_UNIVERSE,
            }
            if value.via is not None:
                spec["gateway"] = str(value.via)
            with netlink_errors(f"route {value.dst} in {ns_label(value.netns)}"):
                await ipr.route(op, **spec)

    async def delete(self, ctx: Context, key: str, value: Route, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        try:
            async with iproute(value.netns) as ipr:
                with netlink_errors(f"remove route {value.dst} in {ns_label(value.netns)}"):
                    await ipr.route("del", dst=str(value.dst), table=RT_TABLE_MAIN, proto=RTPROT_CONTIV)
        except LinuxError as exc:
            if not gone(exc):
                raise

    async def retrieve(self, ctx: Context) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx)
        found = []
        for dump in snapshot.namespaces.values():
            for entry in dump.routes:
                link = dump.owned_link(entry.oif)
                if link is None or link.owner_key is None:
                    continue
                value = Route(netns=dump.netns, dst=entry.dst, dev=link.name, link=link.owner_key, via=entry.via)
                found.append(Retrieved(value.key, value, owned=True))
        return found

    def equivalent(self, desired: Route, actual: Route) -> bool:
        return (desired.netns, desired.dst, desired.dev, desired.via) == (
            actual.netns,
            actual.dst,
            actual.dev,
            actual.via,
        )
