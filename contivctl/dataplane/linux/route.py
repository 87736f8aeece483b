"""Main-table routes, marked with the agent's own route protocol number."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contivctl.dataplane.linux import nlmsg
from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.common import goes_with, known_index, on_link, run_unless_gone
from contivctl.dataplane.linux.snapshot import RTPROT_CONTIV
from contivctl.items.linux import Route, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved


class RouteDescriptor(SnapshotDescriptor[Route]):
    prefix = "linux/route/"

    async def create(self, ctx: Context, key: str, value: Route) -> Metadata:
        self._snapshots.invalidate()
        await self._replace(ctx, value)
        return None

    async def update(self, ctx: Context, key: str, old: Route, new: Route, metadata: Metadata) -> Metadata:
        self._snapshots.invalidate()
        await self._replace(ctx, new)
        return None

    def needs_recreate(self, old: Route, new: Route) -> bool:
        return (old.netns, old.dst) != (new.netns, new.dst)

    async def _replace(self, ctx: Context, value: Route) -> None:
        await on_link(
            value.netns,
            known_index(ctx, value.link, value.netns),
            value.dev,
            lambda index: nlmsg.replace_route(value.dst, oif=index, via=value.via, protocol=RTPROT_CONTIV),
            f"route {value.dst} in {ns_label(value.netns)}",
        )

    async def delete(self, ctx: Context, key: str, value: Route, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        req = nlmsg.del_route(value.dst, protocol=RTPROT_CONTIV)
        what = f"remove route {value.dst} in {ns_label(value.netns)}"
        await run_unless_gone(lambda channels: channels(value.netns).request(req, what))

    def deleted_with(self, key: str, value: Route) -> str | None:
        return goes_with(value.link)

    async def retrieve(self, ctx: Context, expected: Mapping[str, Route]) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx, self.namespaces(expected))
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
