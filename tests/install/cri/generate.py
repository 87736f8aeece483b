"""Regenerate the CRI client (``generated/``) from ``api.proto``, Kubernetes' CRI, runtime/v1.

``api.proto`` is ``pkg/apis/runtime/v1/api.proto`` of the Go module
``k8s.io/cri-api`` v0.30.14, unchanged. Its gogoproto options only steer Go
code generation and never the bytes on the wire, so they are left out of
the copy handed to protoc, which then needs no gogo definitions.

The client is made by the same pinned compiler as the agent's own protocol
(betterproto2-compiler, proto/generate.py): an async grpclib client, no
grpcio. The output is committed; ``--check`` (run by the test suite) fails
when it differs from what the compiler makes of the .proto today.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "proto"))

import generate as cni_generate  # noqa: E402  (proto/generate.py: the same compiler, the same options)

HERE = Path(__file__).resolve().parent
PROTO = HERE / "api.proto"
OUT = HERE / "generated"
OPTIONS = "client_generation=async,server_generation=none"


def generate(into: Path) -> None:
    protoc = shutil.which("protoc")
    if protoc is None:
        raise SystemExit("protoc not found: apt-get install protobuf-compiler")
    with tempfile.TemporaryDirectory() as tmp:
        lines = [line for line in PROTO.read_text().splitlines(keepends=True) if "gogoproto" not in line]
        (Path(tmp) / "api.proto").write_text("".join(lines))
        subprocess.run(
            [
                protoc,
                f"-I{tmp}",
                f"--plugin=protoc-gen-python_betterproto2={cni_generate._plugin()}",
                f"--python_betterproto2_out={into}",
                f"--python_betterproto2_opt={OPTIONS}",
                str(Path(tmp) / "api.proto"),
            ],
            check=True,
            capture_output=True,
        )
    for py in into.rglob("*.py"):
        text = py.read_text()
        # the compiler's long lines and warnings: its code, not ours to restyle
        codes = [code for code, found in (("E501", _long_lines(text)), ("B028", "warnings.warn(" in text)) if found]
        if codes:
            py.write_text(f"# ruff: noqa: {', '.join(codes)}\n" + text)


def _long_lines(text: str) -> bool:
    return any(len(line) > 120 for line in text.splitlines())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed code, change nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        if args.check:
            diff = cni_generate.differences(fresh, OUT)
            for line in diff:
                print(f"tests/install/cri/generated: {line}", file=sys.stderr)
            return 1 if diff else 0
        if OUT.exists():
            shutil.rmtree(OUT)
        shutil.copytree(fresh, OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
