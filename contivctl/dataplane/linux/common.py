"""What every Linux descriptor shares: error translation and link lookup."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from contivctl.dataplane.linux.netns import iproute
from contivctl.errors import LinuxError, NetnsNotFound
from contivctl.items.linux import ALIAS_NOTE, ALIAS_PREFIX, ns_label

#: Errors that a later attempt may not meet: the kernel was busy, or a
#: just-deleted device still lingers (netns teardown is asynchronous).
RETRIABLE_ERRNOS = frozenset({errno.EBUSY, errno.EAGAIN, errno.ENOBUFS, errno.EINTR})


class LinkNotFound(LinuxError):
    """The interface an operation needs is not there (yet, or any more)."""


class NetlinkFailed(LinuxError):
    """A netlink request was refused; ``code`` is the errno."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@contextlib.contextmanager
def netlink_errors(what: str) -> Iterator[None]:
    """Turn pyroute2's NetlinkError into a LinuxError that says what was being done."""
    try:
        yield
    except NetlinkError as exc:
        raise NetlinkFailed(f"{what}: {exc.args[1] if len(exc.args) > 1 else exc}", exc.code) from None


def is_retriable(exc: Exception) -> bool:
    return isinstance(exc, NetlinkFailed) and exc.code in RETRIABLE_ERRNOS


def alias_for(key: str, note: str = "") -> str:
    return ALIAS_PREFIX + key + (ALIAS_NOTE + note if note else "")


async def find_link(ipr: Any, name: str) -> int | None:
    """The ifindex of ``name``, asked of the kernel by name (no dump of every link)."""
    try:
        found = await ipr.link("get", ifname=name)
    except NetlinkError as exc:
        if exc.code in (errno.ENODEV, errno.ENOENT):
            return None
        raise NetlinkFailed(f"look up {name}: {exc}", exc.code) from None
    return int(found[0]["index"]) if found else None


def known_index(ctx: Any, link_key: str, netns: str) -> int | None:
    """The ifindex in ``netns`` that the link item recorded as metadata, if it did."""
    try:
        md = ctx.metadata(link_key)
    except KeyError:
        return None
    return md.get(netns) if isinstance(md, dict) else None


async def link_index(ipr: Any, ctx: Any, link_key: str, netns: str, name: str) -> int:
    """A dependent's link: from the link item's metadata when it has it, else by name."""
    index = known_index(ctx, link_key, netns)
    if index is not None:
        return index
    return await require_link(ipr, netns, name)


async def link_info(ipr: Any, index: int) -> Any:
    return (await ipr.link("get", index=index))[0]


async def require_link(ipr: Any, netns: str, name: str) -> int:
    index = await find_link(ipr, name)
    if index is None:
        raise LinkNotFound(f"no interface {name} in namespace {ns_label(netns)}")
    return index


def gone(exc: BaseException) -> bool:
    """True when the object (or its whole namespace) no longer exists: a delete is then done."""
    if isinstance(exc, NetnsNotFound):
        return True
    return isinstance(exc, NetlinkFailed) and exc.code in (errno.ENODEV, errno.ENOENT, errno.ESRCH, errno.EADDRNOTAVAIL)


async def delete_link(netns: str, name: str, what: str) -> None:
    """Delete a link if it is there; a link (or namespace) already gone counts as deleted."""
    try:
        async with iproute(netns) as ipr:
            index = await find_link(ipr, name)
            if index is not None:
                with netlink_errors(f"delete {what} {name}"):
                    await ipr.link("del", index=index)
    except LinuxError as exc:
        if not gone(exc):
            raise
