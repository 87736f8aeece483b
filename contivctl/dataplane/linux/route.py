"""Main-table routes, marked with the agent's own route protocol number."""

from __future__ import annotations

from collections.abc import Iterable

from contivctl.dataplane.linux import nlmsg
from contivctl.dataplane.linux.base import ReplacingOnLinkDescriptor
from contivctl.dataplane.linux.common import run_unless_gone
from contivctl.dataplane.linux.snapshot import RTPROT_CONTIV, NamespaceDump
from contivctl.items.linux import Route, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata


class RouteDescriptor(ReplacingOnLinkDescriptor[Route]):
    prefix = "linux/route/"

    def needs_recreate(self, old: Route, new: Route) -> bool:
        return (old.netns, old.dst) != (new.netns, new.dst)

    async def replace(self, ctx: Context, value: Route) -> None:
        await self.on_link(
            ctx,
            value,
            value.dev,
            lambda index: nlmsg.replace_route(value.dst, oif=index, via=value.via, protocol=RTPROT_CONTIV),
            f"route {value.dst} in {ns_label(value.netns)}",
        )

    async def delete(self, ctx: Context, key: str, value: Route, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        req = nlmsg.del_route(value.dst, protocol=RTPROT_CONTIV)
        what = f"remove route {value.dst} in {ns_label(value.netns)}"
        await run_unless_gone(lambda channels: channels(value.netns).request(req, what))

    def found(self, dump: NamespaceDump) -> Iterable[Route]:
        for link, owner, entry in dump.on_owned_links((r.oif, r) for r in dump.routes):
            yield Route(netns=dump.netns, dst=entry.dst, dev=link.name, link=owner, via=entry.via)

    def equivalent(self, desired: Route, actual: Route) -> bool:
        return (desired.netns, desired.dst, desired.dev, desired.via) == (
            actual.netns,
            actual.dst,
            actual.dev,
            actual.via,
        )
