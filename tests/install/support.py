"""What the installation tests share: the tools they need, and running ``contivctl`` as a node would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "contiv-vpp"
EXAMPLES = ROOT / "examples"
#: Debian's containernetworking-plugins
SYSTEM_PLUGINS = Path("/usr/lib/cni")


def require(ok: bool, why: str) -> None:
    """Skip on a developer's machine without the tool; in CI a missing tool is a failure, not a skip."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (.ci/run installs it)")
    pytest.skip(why)


def tool(name: str, env: str | None = None) -> str:
    """``name`` from the variable ``env`` or PATH."""
    found = (os.environ.get(env) if env else None) or shutil.which(name)
    require(found is not None, f"{name} is not installed")
    assert found is not None
    return found


def contiv_cni() -> Path:
    """The tree's contiv-cni, built when it is missing or stale (needs Go)."""
    from contivctl.demo.cni_binary import PluginUnavailable, ensure

    if not shutil.which("go") and Path("/usr/local/go/bin/go").exists():
        os.environ["PATH"] = f"/usr/local/go/bin:{os.environ['PATH']}"
    try:
        return Path(ensure())
    except PluginUnavailable as exc:
        require(False, str(exc).splitlines()[0])
        raise


def contivctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command as the image's entrypoint runs it: a process of its own, exit status and stderr as seen."""
    return subprocess.run(
        [sys.executable, "-m", "contivctl", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
