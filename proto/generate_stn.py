"""Regenerate the Python code of ``proto/stn.proto`` into ``contivctl/stn/generated/``.

The same pinned compiler as the CNI protocol (``proto/generate.py``, whose
checks and helpers this reuses): grpcio-tools, with its own protoc, makes
protobuf message classes (``stn_pb2``) and their type stubs
(``stn_pb2.pyi``). The service's method table is written by hand, in
``contivctl/stnd/daemon.py`` (the server) and ``contivctl/stn/client.py``
(the client), so no untyped stub module is generated. The .proto is mapped
to the package's path (``-Icontivctl/stn/generated=proto``) so that the
generated module names its own package; the proto's package (``stn``), and
with it the method paths and the wire, stay the original's. The output is
committed; ``--check`` (run by the test suite) fails when it differs from
what the compiler makes of the .proto today.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate as cni_generate  # proto/generate.py: the same compiler, the same checks

PROTO = cni_generate.PROTO_DIR / "stn.proto"
PACKAGE = Path("contivctl") / "stn" / "generated"
OUT = cni_generate.ROOT / PACKAGE
MODULES = ("stn_pb2.py", "stn_pb2.pyi")
INIT = '"""Generated from proto/stn.proto by proto/generate_stn.py: do not edit."""\n'


def generate(into: Path) -> None:
    """The generated package, as files under `into` (the package's own folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        cni_generate.protoc(
            f"-I{PACKAGE.as_posix()}={cni_generate.PROTO_DIR}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            str(PROTO),
        )
        for name in MODULES:
            shutil.copy(Path(tmp) / PACKAGE / name, into / name)
    (into / "__init__.py").write_text(INIT)


def main() -> int:
    return cni_generate.command_line(__doc__.splitlines()[0], generate, OUT, PACKAGE, "python proto/generate_stn.py")


if __name__ == "__main__":
    raise SystemExit(main())
