"""Deleting retired links in batches, so many pods' veths cost one kernel wait.

The kernel deletes a network device under its global lock and then waits
for an RCU grace period (~15-20 ms here), one device at a time: a burst of
pod deletions would queue behind each other for that alone. A device group,
though, is deleted in one request and one wait. So a veth being deleted is
*retired* at once — both ends moved to the agent's graveyard group, where
nothing counts as the agent's any more — and the graveyard is emptied a
moment later in one request per namespace, on a thread of its own so that
the wait holds up no other netlink work.

A retired link keeps its name until then. Freeing names at once (taking
the ends down and renaming them) cost the kernel more than creating the
pair, for every pod; a name is needed again that soon only when the same
attachment is added back, and then ``clear_names`` deletes the retired
holder on the spot.

A graveyard left by a crash is emptied on the next resync.
"""

from __future__ import annotations

import asyncio
import errno
import logging

from contivctl.dataplane.linux import channel, nlmsg
from contivctl.dataplane.linux.channel import Channel, Channels
from contivctl.dataplane.linux.netns import netns_exists
from contivctl.errors import LinuxError, NetlinkFailed

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

    def _bury(self, here: Channel, name: str) -> bool:
        """Move ``name`` to the graveyard; False if it is not there."""
        index = here.find_link(name)
        if index is None:
            return False
        here.request(nlmsg.set_link(index, alias="", group=self.group), f"retire {name}")
        return True

    async def retire(self, netns: str, name: str, peer: tuple[str, str] | None = None) -> bool:
        """Take link ``name`` of ``netns`` out of the agent's hands now; False if it is not there.

        ``peer`` (namespace, name) is its veth peer, retired with it (the
        kernel deletes it with the link).
        """

        def job(channels: Channels) -> bool:
            if not netns_exists(netns) or not self._bury(channels(netns), name):
                return False
            if peer is not None and peer[1] and netns_exists(peer[0]):
                try:
                    self._bury(channels(peer[0]), peer[1])
                except LinuxError as exc:  # it goes with its pair anyway
                    log.debug("could not retire %s in %s: %s", peer[1], peer[0], exc)
            return True

        if not await channel.run(job):
            return False
        self.schedule(netns)
        return True

    def clear_names(self, channels: Channels, names: list[tuple[str, str]]) -> bool:
        """Delete now the retired links that hold any of ``names`` ((namespace, name) pairs); True if any did.

        A job's part, for a create that met a name still taken.
        """
        cleared = False
        for netns, name in names:
            if not name or not netns_exists(netns):
                continue
            here = channels(netns)
            found = here.find_link_group(name)
            if found is not None and found[1] == self.group:
                here.request(nlmsg.del_link(found[0]), f"delete retired {name}")
                cleared = True
        return cleared

    def schedule(self, netns: str) -> None:
        if netns not in self._tasks:
            self._tasks[netns] = asyncio.get_running_loop().create_task(self._reap(netns))

    async def _reap(self, netns: str) -> None:
        await asyncio.sleep(self._delay)
        del self._tasks[netns]
        req = nlmsg.del_group(self.group)
        try:
            await channel.run(
                lambda channels: channels(netns).request(req, "empty the graveyard"), pool=channel.reaper_pool
            )
        except NetlinkFailed as exc:
            if exc.code not in (errno.ENODEV, errno.ENOENT):
                log.warning("emptying the link graveyard in %s failed: %s", netns or "the host", exc)
        except LinuxError as exc:  # the namespace went away, and its graveyard with it
            log.debug("graveyard of %s: %s", netns, exc)

    async def flush(self) -> None:
        """Wait until every retired link is deleted (on shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
