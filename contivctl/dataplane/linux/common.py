"""What every Linux descriptor shares: which errors heal, the link an item sits on, deleting a link."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import Any

from contivctl.dataplane.linux import channel, nlmsg
from contivctl.dataplane.linux.channel import Channel, Channels
from contivctl.errors import LinkNotFound, LinuxError, NetlinkFailed, NetnsNotFound
from contivctl.items.linux import ALIAS_NOTE, ALIAS_PREFIX

log = logging.getLogger(__name__)

#: Errors that a later attempt may not meet: the kernel was busy, or a
#: just-deleted device still lingers (netns teardown is asynchronous).
#: ENODEV: the link the item is on is gone, and may be back (a TAP VPP makes again): tried again after
#: its kind and the kinds it depends on are read again
RETRIABLE_ERRNOS = frozenset({errno.EBUSY, errno.EAGAIN, errno.ENOBUFS, errno.EINTR, errno.ENODEV})

__all__ = [
    "RETRIABLE_ERRNOS",
    "alias_for",
    "delete_link",
    "delete_link_here",
    "goes_with",
    "gone",
    "is_retriable",
    "known_index",
    "link_index",
    "on_link",
    "run_unless_gone",
    "undo_create_here",
]


#: The link items whose removal takes what sits on the link with it: a veth
#: deleted, a VPP TAP's device moved out of the pod's namespace, a VXLAN device
#: deleted. An adopted link is only unmarked: what is on it stays.
_TAKES_ITS_ITEMS = ("linux/veth/", "linux/tap/", "linux/vxlan/")


def goes_with(link_key: str) -> str | None:
    """For ``Descriptor.deleted_with``: the link item whose removal removes an item on it, if it does."""
    return link_key if link_key.startswith(_TAKES_ITS_ITEMS) else None


def is_retriable(exc: Exception) -> bool:
    return isinstance(exc, NetlinkFailed) and exc.code in RETRIABLE_ERRNOS


def alias_for(key: str, note: str = "") -> str:
    return ALIAS_PREFIX + key + (ALIAS_NOTE + note if note else "")


def known_index(ctx: Any, link_key: str, netns: str) -> int | None:
    """The ifindex in ``netns`` that the link item recorded as metadata, if it did."""
    try:
        md = ctx.metadata(link_key)
    except KeyError:
        return None
    return md.get(netns) if isinstance(md, dict) else None


def link_index(here: Channel, known: int | None, name: str) -> int:
    """A dependent's link: the index its link item recorded (``known_index``), else looked up by name.

    Runs inside a job, where ``here`` is the channel of the link's namespace.
    """
    return known if known is not None else here.require_link(name)


def gone(exc: BaseException) -> bool:
    """True when the object (or its whole namespace) no longer exists: a delete is then done."""
    if isinstance(exc, NetnsNotFound | LinkNotFound):
        return True
    return isinstance(exc, NetlinkFailed) and exc.code in (errno.ENODEV, errno.ENOENT, errno.ESRCH, errno.EADDRNOTAVAIL)


def undo_create_here(channels: Channels, netns: str, name: str, what: str) -> None:
    """Remove a link whose create failed half-way (a job's part); the create's own error is the one to report."""
    try:
        delete_link_here(channels, netns, name, f"half-made {what}")
    except LinuxError as undo:
        log.warning("could not remove half-made %s %s: %s", what, name, undo)


async def on_link(
    netns: str, known: int | None, name: str, make: Callable[[int], nlmsg.Request], what: str, *, gone_ok: bool = False
) -> None:
    """Send the request ``make(index)`` about link ``name`` of ``netns`` (its index ``known`` or looked up).

    With ``gone_ok`` (a delete), a link or namespace that is no longer there
    means there is nothing left to do.
    """

    def job(channels: Channels) -> None:
        here = channels(netns)
        here.request(make(link_index(here, known, name)), what)

    try:
        await channel.run(job)
    except LinuxError as exc:
        if not (gone_ok and gone(exc)):
            raise


def delete_link_here(channels: Channels, netns: str, name: str, what: str) -> None:
    """``delete_link`` inside a job."""
    try:
        here = channels(netns)
        index = here.find_link(name)
        if index is not None:
            here.request(nlmsg.del_link(index), f"delete {what} {name}")
    except LinuxError as exc:
        if not gone(exc):
            raise


async def run_unless_gone(job: Callable[[Channels], object]) -> None:
    """Run a delete's job; what is no longer there (the object or its namespace) counts as deleted."""
    try:
        await channel.run(job)
    except LinuxError as exc:
        if not gone(exc):
            raise


async def delete_link(netns: str, name: str, what: str) -> None:
    """Delete a link if it is there; a link (or namespace) already gone counts as deleted."""
    await channel.run(lambda channels: delete_link_here(channels, netns, name, what))
