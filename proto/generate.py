"""Regenerate the Python code of ``proto/cni.proto`` into ``contivctl/cni/generated/``.

The generated code is committed, so neither the agent nor the plugin needs
a compiler at run time; ``--check`` (run by the test suite) fails when the
committed code is not what the pinned compiler makes of the .proto today.

Needs ``protoc`` (Debian ``protobuf-compiler``) and the ``betterproto2-compiler``
package (the ``test`` extra), which provides the protoc plugin.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO_DIR = ROOT / "proto"
OUT = ROOT / "contivctl" / "cni" / "generated"
OPTIONS = "client_generation=async,server_generation=async"


def _plugin() -> str:
    name = "protoc-gen-python_betterproto2"
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: pip install betterproto2-compiler (the 'test' extra)")
    return found


def generate(into: Path) -> None:
    protoc = shutil.which("protoc")
    if protoc is None:
        raise SystemExit("protoc not found: apt-get install protobuf-compiler")
    subprocess.run(
        [
            protoc,
            f"-I{PROTO_DIR}",
            f"--plugin=protoc-gen-python_betterproto2={_plugin()}",
            f"--python_betterproto2_out={into}",
            f"--python_betterproto2_opt={OPTIONS}",
            str(PROTO_DIR / "cni.proto"),
        ],
        check=True,
        capture_output=True,
    )


def files(top: Path) -> set[str]:
    return {str(p.relative_to(top)) for p in top.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def differences(fresh: Path, committed: Path) -> list[str]:
    """Paths (relative to the package) that are missing, extra or different in `committed`."""
    a, b = files(fresh), files(committed)
    out = [f"missing {p}" for p in sorted(a - b)] + [f"not generated {p}" for p in sorted(b - a)]
    out += [f"differs {p}" for p in sorted(a & b) if not filecmp.cmp(fresh / p, committed / p, shallow=False)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed code, change nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        if args.check:
            diff = differences(fresh, OUT)
            for line in diff:
                print(f"contivctl/cni/generated: {line}", file=sys.stderr)
            if diff:
                print("run: python proto/generate.py", file=sys.stderr)
            return 1 if diff else 0
        if OUT.exists():
            shutil.rmtree(OUT)
        shutil.copytree(fresh, OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
