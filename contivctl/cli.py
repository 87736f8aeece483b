"""Command-line entry point (placeholder until the CLI lands)."""

from __future__ import annotations

import sys

from contivctl import __version__


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--version":
        print(f"contivctl {__version__}")
        return 0
    print("usage: contivctl --version", file=sys.stderr)
    return 2
