"""Regenerate the Python code of ``proto/cni.proto`` into ``contivctl/cni/generated/``.

The generated code is committed, so neither the agent nor the plugin needs
a compiler at run time; ``--check`` (run by the test suite) fails when the
committed code is not what the pinned compiler makes of the .proto today.

The compiler is ``grpcio-tools`` (the ``test`` extra; it carries its own
protoc): protobuf message classes (``cni_pb2``, backed by the protobuf
runtime's upb) and their type stubs (``cni_pb2.pyi``). The service's
method table is written by hand in ``contivctl/cni/server.py``, so no
untyped stub module is generated. The .proto is mapped to the package's
path (``-Icontivctl/cni/generated=proto``) so that the generated module
names its own package; the proto's package (``cni``), and with it the
method paths and the wire, stay as they are.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO_DIR = ROOT / "proto"
PACKAGE = Path("contivctl") / "cni" / "generated"
OUT = ROOT / PACKAGE
#: the compiler the committed code was made with: another version writes other code
GRPCIO_TOOLS = "1.85.1"
INIT = '"""Generated from proto/cni.proto by proto/generate.py: do not edit."""\n'


def check_compiler() -> None:
    """Stop, saying what to install, unless grpcio-tools is the pinned version."""
    if importlib.util.find_spec("grpc_tools") is None:
        raise SystemExit(f"grpcio-tools not found: pip install grpcio-tools=={GRPCIO_TOOLS} (the 'test' extra)")
    from importlib.metadata import version

    found = version("grpcio-tools")
    if found != GRPCIO_TOOLS:
        raise SystemExit(f"grpcio-tools {found} is installed; the committed code is made by {GRPCIO_TOOLS}")


def protoc(*args: str) -> None:
    """The pinned compiler (grpcio-tools' own protoc) run with `args`, from the repository's root."""
    check_compiler()
    done = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"grpc_tools.protoc failed: {done.stderr.strip()}")


def generate(into: Path) -> None:
    """The generated package, as files under `into` (the package's own folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        protoc(
            f"-I{PACKAGE.as_posix()}={PROTO_DIR}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            str(PROTO_DIR / "cni.proto"),
        )
        made = Path(tmp) / PACKAGE
        for name in ("cni_pb2.py", "cni_pb2.pyi"):
            shutil.copy(made / name, into / name)
    (into / "__init__.py").write_text(INIT)


def files(top: Path) -> set[str]:
    return {str(p.relative_to(top)) for p in top.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def differences(fresh: Path, committed: Path) -> list[str]:
    """Paths (relative to the package) that are missing, extra or different in `committed`."""
    a, b = files(fresh), files(committed)
    out = [f"missing {p}" for p in sorted(a - b)] + [f"not generated {p}" for p in sorted(b - a)]
    out += [f"differs {p}" for p in sorted(a & b) if not filecmp.cmp(fresh / p, committed / p, shallow=False)]
    return out


def command_line(description: str, generate: Callable[[Path], None], out: Path, package: Path, again: str) -> int:
    """A generator's command: write ``generate``'s code to ``out``, or with ``--check`` compare and change nothing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="compare with the committed code, change nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        if args.check:
            diff = differences(fresh, out)
            for line in diff:
                print(f"{package.as_posix()}: {line}", file=sys.stderr)
            if diff:
                print(f"run: {again}", file=sys.stderr)
            return 1 if diff else 0
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(fresh, out)
    return 0


def main() -> int:
    return command_line(__doc__.splitlines()[0], generate, OUT, PACKAGE, "python proto/generate.py")


if __name__ == "__main__":
    raise SystemExit(main())
