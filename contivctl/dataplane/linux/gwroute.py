"""Routes via a next hop on the host's own link: the kernel dataplane's L2 (no-overlay) routes.

In L2 mode another node's pod subnet is routed via that node's IP out of
the NIC facing it, which is the host's link, not one the agent made; the
link is left for the kernel to find from the next hop. Such a route is the
agent's when it carries the agent's route protocol number and sits on a
link that is not the agent's (routes on the agent's links belong to the
``linux/route/`` descriptor). Only the vswitch namespace is read: one
kernel-dataplane agent plays the vswitch in a namespace.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Mapping

from contivctl.dataplane.linux import channel, nlmsg, rtnl
from contivctl.dataplane.linux.channel import Channel
from contivctl.dataplane.linux.common import is_retriable as _retriable
from contivctl.dataplane.linux.common import run_unless_gone
from contivctl.dataplane.linux.snapshot import RT_TABLE_MAIN, RTPROT_CONTIV
from contivctl.errors import NetlinkFailed, NetnsNotFound
from contivctl.items.kernel import GatewayRoute
from contivctl.items.linux import ns_label
from contivctl.reconcile.descriptor import Context, Descriptor
from contivctl.reconcile.item import Metadata, Retrieved

#: the next hop is not reachable (yet): the NIC or its address may still come
_WAIT_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH})


def _read(here: Channel, group: int) -> list[GatewayRoute]:
    ours = {lk.index for lk in rtnl.links(here.dump) if lk.group == group}
    return [
        GatewayRoute(netns=here.netns, dst=r.dst, via=r.gateway)
        for r in rtnl.routes(here.dump, table=RT_TABLE_MAIN, protocol=RTPROT_CONTIV)
        if r.gateway is not None and r.oif not in ours
    ]


class GatewayRouteDescriptor(Descriptor[GatewayRoute]):
    prefix = "linux/gwroute/"

    def __init__(self, netns: str, group: int) -> None:
        self.netns = netns
        self.group = group

    async def create(self, ctx: Context, key: str, value: GatewayRoute) -> Metadata:
        await self._replace(value)
        return None

    async def update(
        self, ctx: Context, key: str, old: GatewayRoute, new: GatewayRoute, metadata: Metadata
    ) -> Metadata:
        await self._replace(new)
        return None

    def needs_recreate(self, old: GatewayRoute, new: GatewayRoute) -> bool:
        return (old.netns, old.dst) != (new.netns, new.dst)

    async def _replace(self, value: GatewayRoute) -> None:
        req = nlmsg.replace_route(value.dst, oif=0, via=value.via, protocol=RTPROT_CONTIV)
        await channel.request(value.netns, req, f"route {value.dst} via {value.via} in {ns_label(value.netns)}")

    async def delete(self, ctx: Context, key: str, value: GatewayRoute, metadata: Metadata) -> None:
        req = nlmsg.del_route(value.dst, protocol=RTPROT_CONTIV)
        what = f"remove route {value.dst} in {ns_label(value.netns)}"
        await run_unless_gone(lambda channels: channels(value.netns).request(req, what))

    async def retrieve(self, ctx: Context, expected: Mapping[str, GatewayRoute]) -> Iterable[Retrieved]:
        try:
            routes = await channel.run(lambda channels: _read(channels(self.netns), self.group))
        except NetnsNotFound:
            return []
        return [Retrieved(r.key, r, owned=True) for r in routes]

    def owns(self, key: str, value: GatewayRoute) -> bool:
        return True

    def is_retriable(self, exc: Exception) -> bool:
        return _retriable(exc) or (isinstance(exc, NetlinkFailed) and exc.code in _WAIT_ERRNOS)
