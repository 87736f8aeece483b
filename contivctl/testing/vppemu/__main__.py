"""`python -m contivctl.testing.vppemu --socket PATH [--api-dir DIR] [--nic NAME ...] [--fault SPEC ...]`.

``--fault`` adds a random fault rule (``Faults.at_random``) from the start:
``ACTION:FRACTION[:MESSAGE]``, where ACTION is ``fail`` or ``fail=RETVAL``
(default -1), ``delay=SECONDS``, ``drop`` or ``ignore``, FRACTION the share
of the requests it hits and MESSAGE the request it is limited to (any
request but dumps and control pings without it). Rule *i* draws from a
generator seeded with ``--fault-seed`` and *i*. SIGUSR1 stops injecting:
the rules are reported and cleared, the emulator serves on. The report
(``--fault-report``: a JSON object ``{"faults": [rule, ...]}``, each rule
with ``seen`` and ``fired``) is written then, and at exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

from .emulator import Emulator
from .faults import Action, Faults

_ACTIONS = {"fail": Action.FAIL, "delay": Action.DELAY, "drop": Action.DROP_CONNECTION, "ignore": Action.IGNORE}


def fault_spec(text: str) -> dict[str, Any]:
    """``ACTION[=ARG]:FRACTION[:MESSAGE]`` as the arguments of ``Faults.at_random``; ValueError when it is not one."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"{text!r}: ACTION:FRACTION[:MESSAGE], e.g. fail=-1:0.05 or delay=0.2:0.01:tap_create_v3")
    name, _, arg = parts[0].partition("=")
    action = _ACTIONS.get(name)
    if action is None:
        raise ValueError(f"{text!r}: the action is one of {', '.join(_ACTIONS)}")
    out: dict[str, Any] = {"action": action, "message": parts[2] if len(parts) == 3 and parts[2] else None}
    try:
        out["fraction"] = float(parts[1])
        if action is Action.FAIL and arg:
            out["retval"] = int(arg)
        elif action is Action.DELAY:
            out["seconds"] = float(arg)
        elif arg:
            raise ValueError(f"{name} takes no argument")
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    if not 0.0 <= out["fraction"] <= 1.0:
        raise ValueError(f"{text!r}: the fraction is between 0 and 1")
    if action is Action.DELAY and out["seconds"] <= 0:
        raise ValueError(f"{text!r}: delay=SECONDS with SECONDS > 0")
    return out


def _fault_arg(text: str) -> dict[str, Any]:
    try:
        return fault_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m contivctl.testing.vppemu", description="VPP binary-API emulator")
    p.add_argument("--socket", required=True, help="unix socket path to serve (VPP: /run/vpp/api.sock)")
    p.add_argument("--api-dir", default=None, help="directory of *.api.json (default: the bundled v26.06 set)")
    p.add_argument("--nic", action="append", default=[], help="a physical NIC name, e.g. GigabitEthernet0/8/0")
    p.add_argument("--log-level", default="WARNING")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault_arg,
        metavar="ACTION:FRACTION[:MESSAGE]",
        help="a random fault rule (repeatable): fail[=RETVAL], delay=SECONDS, drop or ignore, on FRACTION of "
        "the requests (of MESSAGE only, if given); SIGUSR1 clears them",
    )
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the random fault rules (default 0)")
    p.add_argument(
        "--fault-report", default=None, help="write the fault rules' counts here (JSON) on SIGUSR1 and at exit"
    )
    return p.parse_args(argv)


def add_faults(faults: Faults, specs: list[dict[str, Any]], seed: int) -> None:
    for i, spec in enumerate(specs):
        faults.at_random(seed=f"{seed}/{i}", **spec)


class _Report:
    """The fault counts, kept across SIGUSR1 (which clears the rules) and written to a file."""

    def __init__(self, faults: Faults, path: str | None) -> None:
        self._faults = faults
        self._path = Path(path) if path else None
        self._cleared: list[dict[str, Any]] = []

    def stop_injecting(self) -> None:
        self._cleared += self._faults.report()
        self._faults.clear()
        self.write()

    def write(self) -> None:
        if self._path is None:
            return
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"faults": [*self._cleared, *self._faults.report()]}) + "\n")
        os.replace(tmp, self._path)


async def run(args: argparse.Namespace) -> None:
    emu = Emulator(args.socket, args.nic, args.api_dir)
    add_faults(emu.faults, args.fault, args.fault_seed)
    report = _Report(emu.faults, args.fault_report)
    await emu.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, report.stop_injecting)
    try:
        await stop.wait()
    finally:
        await emu.stop()
        report.write()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s vppemu %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
