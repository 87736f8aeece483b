"""Deleting retired links in batches, so many pods' veths cost one kernel wait.

The kernel deletes a network device under its global lock and then waits
for an RCU grace period (~15-20 ms here), one device at a time: a burst of
pod deletions would queue behind each other for that alone. A device group,
though, is deleted in one request and one wait. So a veth being deleted is
*retired* at once — taken down, renamed and moved to the agent's graveyard
group, which frees its names for a new pod immediately — and the graveyard
is emptied a moment later in one request per namespace.

A graveyard left by a crash is emptied on the next resync.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import uuid

from pyroute2.netlink.exceptions import NetlinkError

from contivctl.dataplane.linux.common import find_link, netlink_errors
from contivctl.dataplane.linux.netns import iproute, netns_exists
from contivctl.errors import LinuxError

log = logging.getLogger(__name__)

#: how long retirements may gather before the graveyard is emptied
REAP_DELAY = 0.01


def graveyard_group(group: int) -> int:
    """The graveyard of the agent whose links carry device group ``group`` (0x63… → 0x64…)."""
    return 0x64000000 | (group & 0xFFFFFF)


class Reaper:
    def __init__(self, group: int, delay: float = REAP_DELAY) -> None:
        self.group = graveyard_group(group)
        self._delay = delay
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def retire(self, netns: str, name: str) -> bool:
        """Take link ``name`` of ``netns`` out of service now; False if it is not there."""
        if not netns_exists(netns):
            return False
        async with iproute(netns) as ipr:
            index = await find_link(ipr, name)
            if index is None:
                return False
            grave = "cx" + uuid.uuid4().hex[:13]
            with netlink_errors(f"retire {name}"):
                await ipr.link("set", index=index, state="down")
                await ipr.link("set", index=index, ifname=grave, ifalias="", group=self.group)
        self.schedule(netns)
        return True

    async def rename_away(self, netns: str, name: str) -> None:
        """Free ``name`` in ``netns`` (a veth's far end, deleted with its peer by the reaper)."""
        if not netns_exists(netns):
            return
        try:
            async with iproute(netns) as ipr:
                index = await find_link(ipr, name)
                if index is None:
                    return
                with netlink_errors(f"retire {name}"):
                    await ipr.link("set", index=index, state="down")
                    await ipr.link(
                        "set", index=index, ifname="cx" + uuid.uuid4().hex[:13], ifalias="", group=self.group
                    )
        except LinuxError as exc:
            log.debug("could not rename %s away in %s: %s", name, netns, exc)

    def schedule(self, netns: str) -> None:
        if netns not in self._tasks:
            self._tasks[netns] = asyncio.get_running_loop().create_task(self._reap(netns))

    async def _reap(self, netns: str) -> None:
        await asyncio.sleep(self._delay)
        del self._tasks[netns]
        try:
            async with iproute(netns) as ipr:
                await ipr.link("del", group=self.group)
        except NetlinkError as exc:
            if exc.code not in (errno.ENODEV, errno.ENOENT):
                log.warning("emptying the link graveyard in %s failed: %s", netns or "the host", exc)
        except LinuxError as exc:  # the namespace went away, and its graveyard with it
            log.debug("graveyard of %s: %s", netns, exc)

    async def flush(self) -> None:
        """Wait until every retired link is deleted (on shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
