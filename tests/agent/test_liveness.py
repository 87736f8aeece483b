"""Liveness from outside the loop: a stuck event loop makes ``/liveness`` answer 503, and says so in the log.

The loop is held the way a bug would hold it, by a blocking call on it
(here, waiting on a threading.Event that the probing thread sets once it
has seen the 503): a probe served on the loop could then not answer at all.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from contivctl.agent.health import Watchdog
from contivctl.agent.looplag import LoopLag
from contivctl.cli import build_parser
from contivctl.ipam import node_setup
from contivctl.rest import RestServer, is_liveness
from contivctl.testing.vppemu import Emulator
from tests.agent.inprocess import get, options, running_agent
from tests.agent.support import config


def probe(port: int, method: str = "GET", path: str = "/liveness") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def hold_the_loop_until(seen: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Block the calling (loop) thread while another thread polls ``seen``; whether it held before the deadline."""
    released = threading.Event()
    result: list[bool] = []

    def watch() -> None:
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if seen():
                    result.append(True)
                    return
                time.sleep(0.02)
            result.append(False)
        finally:
            released.set()

    threading.Thread(target=watch, daemon=True).start()
    released.wait(timeout + 5)  # the bug being played: the loop blocked
    return result == [True]


def rest_server(alive: Callable[[], tuple[bool, str]]) -> RestServer:
    cfg = config()
    plan = node_setup(cfg, "node-a", 5).plan
    return RestServer(
        node_name="node-a",
        plan=lambda: plan,
        ipam=cfg.ipam,
        ready=lambda: (True, "ready"),
        history=list,
        alive=alive,
    )


async def test_a_stuck_loop_fails_liveness_from_a_thread_and_it_recovers() -> None:
    lag = LoopLag(interval=0.005)
    lag.start()
    watchdog = Watchdog(lag, limit=0.3)
    rest = rest_server(watchdog.alive)
    await rest.start("127.0.0.1", 0)
    try:
        status, body = await asyncio.to_thread(probe, rest.port)
        assert (status, body) == (200, b'{"alive": true}')
        answers: list[tuple[int, bytes]] = []

        def stuck_seen() -> bool:
            answers.append(probe(rest.port))
            return answers[-1][0] == 503

        assert hold_the_loop_until(stuck_seen), answers[-3:]
        assert b'"alive": false' in answers[-1][1] and b"has not turned for" in answers[-1][1]
        assert probe(rest.port, "HEAD")[1] == b""  # HEAD: the status line and headers only

        def alive_again() -> bool:
            return watchdog.alive()[0]

        deadline = asyncio.get_running_loop().time() + 10
        while not alive_again():
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert (await asyncio.to_thread(probe, rest.port))[0] == 200
        # everything else is still the loop's: aiohttp answers it
        assert (await asyncio.to_thread(probe, rest.port, "GET", "/readiness"))[0] == 200
        assert (await asyncio.to_thread(probe, rest.port, "GET", "/liveness-not"))[0] == 404
    finally:
        await rest.stop()
        await lag.stop()


async def test_the_agent_fails_liveness_while_its_loop_is_stuck_and_logs_where(
    emu: Emulator, sockdir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="contivctl.agent.health")
    async with running_agent(options(emu, sockdir, tmp_path, liveness_timeout=0.4)) as run:
        url = f"{run.url}/liveness"
        assert await asyncio.to_thread(get, url) == (200, {"alive": True})

        def stuck_seen_and_logged() -> bool:
            logged = any("has not turned" in r.getMessage() for r in caplog.records)
            return logged and get(url)[0] == 503

        assert hold_the_loop_until(stuck_seen_and_logged)
        status, body = await asyncio.to_thread(get, url)
        deadline = asyncio.get_running_loop().time() + 10
        while status != 200:  # the loop turns again
            assert asyncio.get_running_loop().time() < deadline, body
            await asyncio.sleep(0.02)
            status, body = await asyncio.to_thread(get, url)
    stuck = [r for r in caplog.records if "has not turned" in r.getMessage()]
    assert stuck and "hold_the_loop_until" in stuck[0].getMessage()  # the loop's stack, where it is stuck


def test_only_a_liveness_request_line_is_answered_by_the_thread() -> None:
    assert is_liveness(b"GET /liveness HTTP/1.1\r")
    assert is_liveness(b"HEAD /liveness?verbose=1 HTTP/1.0")
    assert not is_liveness(b"POST /liveness HTTP/1.1")
    assert not is_liveness(b"GET /liveness/x HTTP/1.1")
    assert not is_liveness(b"GET /readiness HTTP/1.1")
    assert not is_liveness(b"")


def test_the_limit_from_the_command_line_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTIV_LIVENESS_TIMEOUT", raising=False)
    assert build_parser().parse_args(["agent"]).liveness_timeout == 20.0
    assert build_parser().parse_args(["agent", "--liveness-timeout", "2.5"]).liveness_timeout == 2.5
    monkeypatch.setenv("CONTIV_LIVENESS_TIMEOUT", "7")
    assert build_parser().parse_args(["agent"]).liveness_timeout == 7.0
    for bad in ("0", "-1", "soon", "nan"):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(["agent", "--liveness-timeout", bad])
        assert exit_.value.code == 2
