"""The kernel side of a VPP TAP: VPP creates it in our namespace, we hand it to the pod.

VPP names the kernel device (a temporary name); this descriptor finds it
there, moves it into the pod's namespace, renames it to the name the
runtime asked for and marks it as ours. Deleting it hands it back under the
temporary name, so that VPP (which owns the device) can remove it.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterable, Mapping

from contivctl.dataplane.linux import channel, nlmsg, rtnl
from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.channel import Channels
from contivctl.dataplane.linux.common import alias_for, run_unless_gone
from contivctl.dataplane.linux.netns import in_netns, netns_fd, set_checksum_offload_here
from contivctl.errors import LinuxError, NetlinkFailed
from contivctl.items.linux import HOST_NS, TapPodSide, ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved

log = logging.getLogger(__name__)


class TapPodSideDescriptor(SnapshotDescriptor[TapPodSide]):
    prefix = "linux/tap/"

    async def create(self, ctx: Context, key: str, value: TapPodSide) -> Metadata:
        self._snapshots.invalidate()
        group = self._snapshots.group

        def job(channels: Channels) -> Metadata:
            pod = channels(value.netns)
            if pod.find_link(value.ifname) is not None:
                if not _marked_ours(pod, key, value, group):
                    raise LinuxError(
                        f"interface {value.ifname} already exists in {ns_label(value.netns)} and is not ours"
                    )
                # ours, though the reading that planned this create did not see it: configured again
                return {value.netns: _configure(channels, key, value, value.ifname, group)}
            home = channels(HOST_NS)
            index = home.require_link(value.temp_name)
            what = f"move {value.temp_name} into {ns_label(value.netns)}"
            home.request(nlmsg.set_link(index, up=False), what)
            with netns_fd(value.netns) as fd:
                home.request(nlmsg.set_link(index, netns_fd=fd), what)
            try:
                return {value.netns: _configure(channels, key, value, value.temp_name, group)}
            except BaseException:
                try:
                    _hand_back(channels, value, value.temp_name)
                except LinuxError as undo:  # the create's own error is the one to report
                    log.warning("could not hand %s back to the vswitch: %s", value.temp_name, undo)
                raise

        return await channel.run(job)

    async def update(self, ctx: Context, key: str, old: TapPodSide, new: TapPodSide, metadata: Metadata) -> Metadata:
        self._snapshots.invalidate()
        group = self._snapshots.group
        return {new.netns: await channel.run(lambda channels: _configure(channels, key, new, new.ifname, group))}

    def needs_recreate(self, old: TapPodSide, new: TapPodSide) -> bool:
        return (old.netns, old.ifname, old.temp_name) != (new.netns, new.ifname, new.temp_name)

    async def delete(self, ctx: Context, key: str, value: TapPodSide, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        await run_unless_gone(lambda channels: _hand_back(channels, value, value.ifname))
        self._snapshots.let_go(value.netns)

    async def retrieve(self, ctx: Context, expected: Mapping[str, TapPodSide]) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx, self.namespaces(expected))
        found = []
        for key, link in snapshot.links_of(self.prefix):
            value = TapPodSide(
                temp_name=link.note,
                netns=link.netns,
                ifname=link.name,
                vpp_tap="",
                mtu=link.mtu,
                mac=link.mac,
                up=link.up,
            )
            found.append(Retrieved(key, value, metadata={link.netns: link.index}, owned=True))
        return found

    def equivalent(self, desired: TapPodSide, actual: TapPodSide) -> bool:
        return (
            (desired.netns, desired.ifname, desired.up) == (actual.netns, actual.ifname, actual.up)
            and (not desired.mtu or desired.mtu == actual.mtu)
            and (not desired.mac or desired.mac.lower() == (actual.mac or ""))
        )


def _marked_ours(here: channel.Channel, key: str, value: TapPodSide, group: int) -> bool:
    """Whether ``value.ifname`` here carries this item's mark in this agent's device group."""
    marks = (alias_for(key, note=value.temp_name), alias_for(key))
    return any(
        link.name == value.ifname and link.group == group and link.alias in marks for link in rtnl.links(here.dump)
    )


def _configure(channels: Channels, key: str, value: TapPodSide, current_name: str, group: int) -> int:
    """Rename, mark and bring up the device in the pod's namespace (a job's part)."""
    here = channels(value.netns)
    index = here.require_link(current_name)
    # The temporary name goes into the alias: a restarted agent must
    # still know what to rename the device back to on delete.
    here.request(
        nlmsg.set_link(
            index,
            name=value.ifname if current_name != value.ifname else None,
            alias=alias_for(key, note=value.temp_name),
            group=group,
            mtu=value.mtu,
            mac=value.mac,
            up=value.up,
        ),
        f"configure {value.ifname} in {ns_label(value.netns)}",
    )
    if not value.checksum_offload:
        in_netns(value.netns, lambda: set_checksum_offload_here(value.ifname, False))
    return index


def _hand_back(channels: Channels, value: TapPodSide, current_name: str) -> None:
    """Give the device back to the vswitch's namespace under its temporary name (a job's part)."""
    here = channels(value.netns)
    index = here.find_link(current_name)
    if index is None:
        return
    what = f"hand {current_name} back to the vswitch"
    try:
        here.request(nlmsg.set_link(index, up=False), what)
        here.request(nlmsg.set_link(index, name=value.temp_name, alias="", group=0), what)
        with netns_fd(HOST_NS) as home:
            here.request(nlmsg.set_link(index, netns_fd=home), what)
    except NetlinkFailed as exc:
        if exc.code != errno.EEXIST:
            raise
        # the name is taken back home: VPP's removal of the device still works
