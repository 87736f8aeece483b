"""Idle NAT44 sessions, found in VPP's dumps and deleted (CleanupIdleNATSessions).

A session VPP keeps after its flow ended holds an outside port and a slot
of the session table until VPP needs the slot; on a busy node the table
fills with the dead. As the original did, the agent sweeps on a timer:
TCP sessions idle longer than TCPNATSessionTimeout go, others after
OtherNATSessionTimeout. How long a session has been idle is VPP's own
figure (``time_since_last_heard`` of the v3 session dump), so the sweep
is right however long VPP ran before the agent started; the original
counted from its own start and swept too late or too early after either
restarted.

Sessions are not items: nothing renders them, and no resync would bring a
deleted one back. The sweep is a side effect of the VPP flavour alone,
outside the queue, and changes nothing any view holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from contivctl.dataplane.vpp.connection import Request, VPPConnection
from contivctl.dataplane.vpp.retvals import Retval
from contivctl.errors import VPPError

log = logging.getLogger(__name__)

NAT_IS_TWICE_NAT = 0x01
NAT_IS_INSIDE = 0x20
NAT_IS_EXT_HOST_VALID = 0x80
IP_PROTO_TCP = 6

#: users whose sessions are dumped in one pipelined group (bounds what one step of the sweep holds)
USERS_PER_GROUP = 256


@attrs.frozen
class IdleTimeouts:
    """Seconds of silence after which a session goes: TCP's, and every other protocol's."""

    tcp: float
    other: float

    def exceeded(self, protocol: int, idle: float) -> bool:
        return idle > (self.tcp if protocol == IP_PROTO_TCP else self.other)


@attrs.frozen
class SweepResult:
    sessions: int = 0
    deleted: int = 0
    #: gone between the dump and the delete (VPP expired it, or traffic closed it)
    vanished: int = 0
    failed: int = 0

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(
            self.sessions + other.sessions,
            self.deleted + other.deleted,
            self.vanished + other.vanished,
            self.failed + other.failed,
        )

    def to_dict(self) -> dict[str, int]:
        return {"sessions": self.sessions, "deleted": self.deleted, "vanished": self.vanished, "failed": self.failed}


def deletion(session: Any, vrf_id: int) -> Request:
    """The ``nat44_del_session`` of one dumped session, by its inside flow.

    nat44-ed finds the session by local address and port and the remote
    host as that side sees it; the inside of a twice-NAT session sees the
    remote host by its translated address.
    """
    if int(session.flags) & NAT_IS_TWICE_NAT:
        remote, remote_port = session.ext_host_nat_address, session.ext_host_nat_port
    else:
        remote, remote_port = session.ext_host_address, session.ext_host_port
    return (
        "nat44_del_session",
        {
            "address": session.inside_ip_address,
            "port": session.inside_port,
            "protocol": session.protocol,
            "vrf_id": vrf_id,
            "flags": NAT_IS_INSIDE | NAT_IS_EXT_HOST_VALID,
            "ext_host_address": remote,
            "ext_host_port": remote_port,
        },
    )


def idle_deletions(sessions: Iterable[Any], vrf_id: int, timeouts: IdleTimeouts) -> list[Request]:
    """The deletions of those of one user's sessions that were idle too long."""
    return [deletion(s, vrf_id) for s in sessions if timeouts.exceeded(int(s.protocol), float(s.time_since_last_heard))]


async def _sweep_users(vpp: VPPConnection, users: Sequence[Any], timeouts: IdleTimeouts) -> SweepResult:
    dumps = await vpp.dump_many(
        ("nat44_user_session_v3_dump", {"ip_address": u.ip_address, "vrf_id": u.vrf_id}) for u in users
    )
    deletions: list[Request] = []
    for user, sessions in zip(users, dumps, strict=True):
        deletions.extend(idle_deletions(sessions, int(user.vrf_id), timeouts))
    replies = await vpp.call_many(deletions, check=False)
    retvals = [int(r.retval) for r in replies]
    deleted = retvals.count(Retval.OK)
    vanished = retvals.count(Retval.NO_SUCH_ENTRY)
    return SweepResult(sum(map(len, dumps)), deleted, vanished, len(retvals) - deleted - vanished)


async def sweep_idle_sessions(vpp: VPPConnection, timeouts: IdleTimeouts) -> SweepResult:
    """Delete every session idle longer than its protocol's timeout; what was seen and done."""
    users = await vpp.dump("nat44_user_dump")
    result = SweepResult()
    for start in range(0, len(users), USERS_PER_GROUP):
        result += await _sweep_users(vpp, users[start : start + USERS_PER_GROUP], timeouts)
    return result


@runtime_checkable
class SweepObserver(Protocol):
    def nat_sessions_swept(self, deleted: int) -> None:
        """Told after every sweep that ran, with how many sessions it deleted."""


class IdleSessionSweeper:
    """Sweeps every ``interval`` seconds while running; a failed sweep is logged and the next one tries again."""

    def __init__(self, vpp: VPPConnection, timeouts: IdleTimeouts, interval: float) -> None:
        self.vpp = vpp
        self.timeouts = timeouts
        self.interval = interval
        self.sweeps = 0
        self.total = SweepResult()
        self.last: SweepResult | None = None
        self.last_error = ""
        self.observer: SweepObserver | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="NAT session sweep")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def sweep(self) -> SweepResult | None:
        """One sweep now (None when VPP is not connected or failed: the next one retries)."""
        if not self.vpp.connected:
            return None
        try:
            result = await sweep_idle_sessions(self.vpp, self.timeouts)
        except VPPError as exc:
            self.last_error = str(exc)
            log.warning("NAT session sweep failed: %s", exc)
            return None
        self.sweeps += 1
        self.last, self.last_error = result, ""
        self.total += result
        if self.observer is not None:
            self.observer.nat_sessions_swept(result.deleted)
        if result.deleted or result.failed:
            log.info(
                "NAT sessions: %d idle deleted of %d (%d gone meanwhile, %d refused)",
                result.deleted,
                result.sessions,
                result.vanished,
                result.failed,
            )
        return result

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.sweep()

    def describe(self) -> dict[str, Any]:
        return {
            "intervalSeconds": self.interval,
            "tcpTimeoutSeconds": self.timeouts.tcp,
            "otherTimeoutSeconds": self.timeouts.other,
            "sweeps": self.sweeps,
            "deleted": self.total.deleted,
            "last": self.last.to_dict() if self.last else None,
            "lastError": self.last_error,
        }
