"""Regenerate the CRI client (``generated/``) from ``api.proto``, Kubernetes' CRI, runtime/v1.

``api.proto`` is ``pkg/apis/runtime/v1/api.proto`` of the Go module
``k8s.io/cri-api`` v0.30.14, unchanged. Its gogoproto options only steer Go
code generation and never the bytes on the wire, so they are left out of
the copy handed to protoc, which then needs no gogo definitions.

The client is made by the same pinned compiler as the agent's own protocol
(grpcio-tools, proto/generate.py): protobuf message classes (``api_pb2``)
with their type stubs (``api_pb2.pyi``), and gRPC stubs (``api_pb2_grpc``:
``RuntimeServiceStub``, ``ImageServiceStub``) that work on a ``grpc.aio``
channel. The .proto is mapped to the package's path so that the stubs
import the messages by their full module name; the proto's package
(``runtime.v1``), and with it the method paths and the wire, stay as they
are. The output is committed; ``--check`` (run by the test suite) fails
when it differs from what the compiler makes of the .proto today.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "proto"))

import generate as cni_generate  # noqa: E402  (proto/generate.py: the same compiler, the same checks)

HERE = Path(__file__).resolve().parent
PROTO = HERE / "api.proto"
PACKAGE = Path("tests") / "install" / "cri" / "generated"
OUT = ROOT / PACKAGE
MODULES = ("api_pb2.py", "api_pb2.pyi", "api_pb2_grpc.py")
INIT = '"""Generated from tests/install/cri/api.proto by tests/install/cri/generate.py: do not edit."""\n'


def generate(into: Path) -> None:
    """The generated package, as files under `into` (the package's own folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "src", Path(tmp) / "out"
        src.mkdir()
        out.mkdir()
        lines = [line for line in PROTO.read_text().splitlines(keepends=True) if "gogoproto" not in line]
        (src / "api.proto").write_text("".join(lines))
        cni_generate.protoc(
            f"-I{PACKAGE.as_posix()}={src}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            str(src / "api.proto"),
        )
        for name in MODULES:
            shutil.copy(out / PACKAGE / name, into / name)
    (into / "__init__.py").write_text(INIT)


def main() -> int:
    return cni_generate.command_line(
        __doc__.splitlines()[0], generate, OUT, PACKAGE, "python tests/install/cri/generate.py"
    )


if __name__ == "__main__":
    raise SystemExit(main())
