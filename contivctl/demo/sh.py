"""Running the few system commands the demo needs (``ip``), with errors that say which command failed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from contivctl.errors import ContivError


class DemoError(ContivError):
    """The demo could not build or check its cluster."""


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise DemoError(f"{args[0]} is not installed") from None
    if check and done.returncode != 0:
        raise DemoError(f"{' '.join(args)}: {done.stderr.strip() or f'exit status {done.returncode}'}")
    return done


def netns_exists(name: str) -> bool:
    return Path("/var/run/netns", name).exists()
