"""Debian's containerd with its CRI plugin, run by a test in directories of its own: kubelet's side of a node.

The daemon gets a config of the test's (root, state, sockets, the CNI
directories, the sandbox image) and nothing of the machine's containerd
(``/var/lib/containerd``, ``/run/containerd``, ``/etc/containerd``,
``/opt/containerd``) is read or written. No image can be pulled, so the
test makes its own: a static ``pause`` executable (``pause/main.go``) in an
OCI image archive, imported with ``ctr images import``.

Whatever the daemon leaves when it is stopped is removed by ``cleanup``:
the runc shims it started (they outlive it by design), the mounts under
its directories, the network namespaces of the sandboxes the test made.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

IMAGE = "localhost/contiv-test/pause:1"


def build_pause(out: Path) -> Path:
    """The pause executable, static (CGO_ENABLED=0): the image has nothing else, no libc."""
    source = Path(__file__).resolve().parent / "pause" / "main.go"
    go = shutil.which("go") or "/usr/local/go/bin/go"
    env = {**os.environ, "CGO_ENABLED": "0"}
    subprocess.run(
        [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(out), str(source)],
        check=True,
        capture_output=True,
        env=env,
        cwd=out.parent,
    )
    return out


def _blob(layout: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}"


def image_archive(pause: Path, out: Path, name: str = IMAGE) -> Path:
    """An OCI image layout in a tar, as ``ctr images import`` takes it: one layer with /pause."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        info = tarfile.TarInfo("pause")
        data = pause.read_bytes()
        info.size, info.mode = len(data), 0o755
        t.addfile(info, io.BytesIO(data))
    raw = layer.getvalue()
    compressed = gzip.compress(raw, mtime=0)
    layout = out.parent / (out.name + ".d")
    layout.mkdir()
    layer_digest = _blob(layout, compressed)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/pause"], "Env": ["PATH=/"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(raw).hexdigest()}"]},
    }
    config_bytes = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _blob(layout, config_bytes),
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": len(compressed),
            }
        ],
    }
    manifest_bytes = json.dumps(manifest).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _blob(layout, manifest_bytes),
                "size": len(manifest_bytes),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "1"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    with tarfile.open(out, "w") as t:
        for p in sorted(layout.rglob("*")):
            t.add(p, arcname=str(p.relative_to(layout)), recursive=False)
    shutil.rmtree(layout)
    return out


CONFIG = """\
version = 2
root = "{root}"
state = "{state}"
# nothing this test does not use, so that nothing reaches outside its directories
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{image}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{root}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"
    max_conf_num = 1
"""


SHIM_DIRS = ("/run/containerd/s", "/run/containerd")


class Containerd:
    """One containerd process of the test's, and the removal of everything it made."""

    def __init__(self, top: Path, cni_bin: Path, cni_conf: Path) -> None:
        self.top = top
        self.root = top / "root"
        self.state = top / "state"
        self.sock = top / "containerd.sock"
        self.config = top / "config.toml"
        self.log = top / "containerd.log"
        self.config.write_text(
            CONFIG.format(
                root=self.root,
                state=self.state,
                sock=self.sock,
                opt=top / "opt",
                image=IMAGE,
                cni_bin=cni_bin,
                cni_conf=cni_conf,
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None
        #: the shims' sockets are under /run/containerd/s whatever the config says (containerd 1.6):
        #: what of it did not exist before is removed again
        self._made = [d for d in SHIM_DIRS if not Path(d).exists()]
        #: network namespaces of the test's sandboxes, removed by cleanup if the runtime left them
        self.netns: set[str] = set()

    def start(self, timeout: float = 30.0) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                ["containerd", "--config", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not self.sock.exists() or self.ctr("version", check=False).returncode != 0:
            if self.proc.poll() is not None:
                raise RuntimeError(f"containerd exited {self.proc.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"containerd did not answer within {timeout}s: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ctr", "--address", str(self.sock), "--namespace", "k8s.io", *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def import_image(self, archive: Path) -> None:
        self.ctr("images", "import", "--snapshotter", "overlayfs", str(archive))

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def shims(self) -> list[int]:
        """The shims this daemon started: they are given its socket's address."""
        found = []
        needle = str(self.sock).encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmdline and needle in cmdline:
                found.append(int(entry))
        return found

    def mounts(self) -> list[str]:
        """Mount points under the test's directories, deepest first."""
        top = str(self.top)
        points = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point == top or point.startswith(top + "/"):
                points.append(point)
        return sorted(points, key=len, reverse=True)

    def cleanup(self) -> None:
        self.stop()
        for pid in self.shims():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.shims() and time.monotonic() < deadline:
            time.sleep(0.05)
        for point in self.mounts():
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        for path in self.netns:
            if Path(path).exists():
                subprocess.run(["umount", path], capture_output=True, check=False)
                with contextlib.suppress(OSError):
                    os.unlink(path)
        for d in self._made:
            with contextlib.suppress(OSError):  # not empty: someone else's now
                os.rmdir(d)
