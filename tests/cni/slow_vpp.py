"""A VPP emulator process whose answer to one message is slow, for a test that kills an agent in the middle of work.

``python -m tests.cni.slow_vpp --socket PATH --message NAME --delay SECONDS``: serves PATH until
SIGTERM; every request named NAME waits SECONDS first (the emulator's fault injection,
``emu.faults.delay``). Its own process, so that it can run in the network namespace of the
agent it serves (the emulator binds af_packet interfaces to links of its own namespace).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from contivctl.testing.vppemu import Emulator


async def serve(args: argparse.Namespace) -> None:
    emu = Emulator(args.socket)
    emu.faults.delay(args.delay, args.message)
    await emu.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emu.stop()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tests.cni.slow_vpp")
    p.add_argument("--socket", required=True)
    p.add_argument("--message", required=True)
    p.add_argument("--delay", type=float, required=True)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s slow_vpp %(levelname)s %(message)s")
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
