"""`python -m contivctl.testing.vppemu --socket PATH [--api-dir DIR] [--nic NAME ...]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from .emulator import Emulator


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m contivctl.testing.vppemu", description="VPP binary-API emulator")
    p.add_argument("--socket", required=True, help="unix socket path to serve (VPP: /run/vpp/api.sock)")
    p.add_argument("--api-dir", default=None, help="directory of *.api.json (default: the bundled v26.06 set)")
    p.add_argument("--nic", action="append", default=[], help="a physical NIC name, e.g. GigabitEthernet0/8/0")
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    emu = Emulator(args.socket, args.nic, args.api_dir)
    await emu.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emu.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s vppemu %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
