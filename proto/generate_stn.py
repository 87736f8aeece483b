"""Regenerate the Python code of ``proto/stn.proto`` into ``contivctl/stn/generated/``.

The same pinned compiler and options as the CNI protocol (``proto/generate.py``):
an async grpclib server and client, no grpcio. The output is committed;
``--check`` (run by the test suite) fails when it differs from what the
compiler makes of the .proto today.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate as cni_generate  # proto/generate.py: the same compiler, the same options

PROTO = cni_generate.PROTO_DIR / "stn.proto"
OUT = cni_generate.ROOT / "contivctl" / "stn" / "generated"


def generate(into: Path) -> None:
    protoc = shutil.which("protoc")
    if protoc is None:
        raise SystemExit("protoc not found: apt-get install protobuf-compiler")
    subprocess.run(
        [
            protoc,
            f"-I{cni_generate.PROTO_DIR}",
            f"--plugin=protoc-gen-python_betterproto2={cni_generate._plugin()}",
            f"--python_betterproto2_out={into}",
            f"--python_betterproto2_opt={cni_generate.OPTIONS}",
            str(PROTO),
        ],
        check=True,
        capture_output=True,
    )


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
                print(f"contivctl/stn/generated: {line}", file=sys.stderr)
            if diff:
                print("run: python proto/generate_stn.py", file=sys.stderr)
            return 1 if diff else 0
        if OUT.exists():
            shutil.rmtree(OUT)
        shutil.copytree(fresh, OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
