"""Readiness and liveness say the truth: failed items of a resync, a VPP being restored, a stuck loop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from contivctl.agent.vpp import VppParts
from contivctl.dataplane.vpp.connection import Reconnected, VPPConnection, VPPInfo
from contivctl.events import Event, Resync
from contivctl.testing.vppemu import Emulator
from tests.agent.inprocess import get, options, running_agent
from tests.polling import until


async def test_not_ready_while_the_startup_resync_left_failed_items_named_until_they_heal(
    emu: Emulator, sockdir: Path, tmp_path: Path
) -> None:
    emu.faults.ignore("ip_route_add_del", times=None)  # every route times out: retried, never done
    async with running_agent(options(emu, sockdir, tmp_path, vpp_timeout=0.3)) as run:
        ok, reason = run.agent.readiness()
        assert not ok
        assert reason.startswith("startup resync left "), reason
        assert "vpp/route/" in reason and "VPPTimeout" in reason, reason
        status, body = await asyncio.to_thread(get, f"{run.url}/readiness")
        assert status == 503 and body["ready"] is False
        assert body["reason"].startswith("startup resync left ") and "vpp/route/" in body["reason"]

        emu.faults.clear()  # the next retry goes through
        await until(lambda: run.agent.readiness()[0], timeout=20)
        assert await asyncio.to_thread(get, f"{run.url}/readiness") == (200, {"ready": True, "reason": "ready"})


async def test_a_startup_resync_that_cannot_read_vpp_is_tried_again(
    emu: Emulator, sockdir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """VPP refusing a read at start delays readiness; it does not end the agent."""
    emu.faults.fail("sw_interface_get_table", retval=-1, times=2)
    caplog.set_level(logging.WARNING, logger="contivctl.controller.controller")
    async with running_agent(options(emu, sockdir, tmp_path)) as run:
        assert run.agent.readiness() == (True, "ready")
        tries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("startup resync: ")]
        assert tries and all("trying again" in t and "sw_interface_get_table" in t for t in tries), tries
        assert [r.trigger for r in run.agent.node.reconciler.history()].count("startup resync") == 1  # type: ignore[union-attr]
        assert run.agent.node.controller.startup_problem is None  # type: ignore[union-attr]


async def test_a_clean_start_is_ready(emu: Emulator, sockdir: Path, tmp_path: Path) -> None:
    async with running_agent(options(emu, sockdir, tmp_path)) as run:
        assert run.agent.readiness() == (True, "ready")


def test_not_ready_from_a_vpp_restart_until_its_full_resync_is_done() -> None:
    async def scenario() -> None:
        vpp, parts, posted = _followed()
        assert parts.not_ready() is None
        assert vpp.on_reconnect is not None
        vpp.on_reconnect(Reconnected(True, "VPP pid changed from 1 to 2", VPPInfo("26.06", 2, 0)))
        (resync,) = posted
        assert isinstance(resync, Resync) and resync.full
        reason = parts.not_ready()
        assert reason is not None and "being restored" in reason and "pid changed" in reason
        resync.reply.set_result(None)
        await asyncio.sleep(0)  # done callbacks run on the next turn of the loop
        assert parts.not_ready() is None

    asyncio.run(scenario())


class _Connected:
    """Stands in for a live client: ``VPPConnection.connected`` reads only ``lost``."""

    lost: Any = None


def _followed() -> tuple[VPPConnection, VppParts, list[Event]]:
    """VPP parts following a connection that reads as connected; what they post is collected."""
    vpp = VPPConnection("/nonexistent")
    parts = VppParts(vpp, scope="t")
    posted: list[Event] = []
    parts.follow(posted.append)
    vpp._client = _Connected()  # type: ignore[assignment]
    return vpp, parts, posted


def test_a_reconnect_to_a_vpp_that_kept_its_state_reads_it_again_and_stays_ready() -> None:
    """Requests in flight when the connection broke may have been done or not: a downstream resync says."""

    async def scenario() -> None:
        vpp, parts, posted = _followed()
        assert vpp.on_reconnect is not None
        vpp.on_reconnect(Reconnected(False, "connection restored; VPP kept its state", VPPInfo("26.06", 1, 0)))
        (resync,) = posted
        assert isinstance(resync, Resync) and not resync.full and "kept its state" in resync.reason
        assert parts.not_ready() is None

    asyncio.run(scenario())
