"""The ``contiv-cni`` executable: a static Go program built from ``cni-plugin/`` into ``bin/contiv-cni``.

In a source tree the binary is built when it is missing, and rebuilt when
it is older than its sources and Go is there, so the demo, the tests and
the benchmarks run what the tree says. Without a source tree (an installed
package) it is ``contiv-cni`` from PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from contivctl.demo.sh import DemoError

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "cni-plugin"
BINARY = ROOT / "bin" / "contiv-cni"
BUILD = SOURCE / "build.sh"


class PluginUnavailable(DemoError):
    """contiv-cni cannot be had: its message says what is needed."""


def _newest_source() -> float:
    paths = [p for p in SOURCE.rglob("*") if p.suffix == ".go" or p.name in ("go.mod", "go.sum", "build.sh")]
    return max(p.stat().st_mtime for p in paths)


def stale(binary: Path = BINARY) -> bool:
    """True when `binary` is missing or older than any of the Go sources."""
    try:
        built = binary.stat().st_mtime
    except FileNotFoundError:
        return True
    return built < _newest_source()


def build(binary: Path = BINARY) -> None:
    """Build into a temporary name and rename, so that a concurrent user never runs a half-written file."""
    if shutil.which("go") is None:
        raise PluginUnavailable(
            f"{binary} is {'out of date' if binary.exists() else 'not built'} and Go is not installed: "
            "contiv-cni is a Go program (cni-plugin/); install Go 1.26 or newer (https://go.dev/dl/) "
            "and run `bash cni-plugin/build.sh`"
        )
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_name(f".{binary.name}.{os.getpid()}")
    done = subprocess.run(["bash", str(BUILD), str(tmp)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise PluginUnavailable(f"building contiv-cni failed (bash cni-plugin/build.sh):\n{done.stderr.strip()}")
    os.replace(tmp, binary)


def ensure() -> str:
    """The path of a current contiv-cni, built first when needed; raises PluginUnavailable."""
    if SOURCE.is_dir():
        # without Go, an existing binary is all there is: use it rather than fail
        if stale() and (shutil.which("go") is not None or not BINARY.exists()):
            build()
        return str(BINARY)
    installed = shutil.which("contiv-cni")
    if installed is None:
        raise PluginUnavailable(
            "contiv-cni is not on PATH and there is no source tree to build it from (cni-plugin/, needs Go)"
        )
    return installed
