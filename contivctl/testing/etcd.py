"""A real etcd server on loopback ports, for tests that need a cluster store.

The server runs with the short heartbeat and election timeouts that make a
single member leader in about a tenth of a second, with its data under
``/dev/shm`` when there is one (no disk fsync to wait for). Readiness is the
``/health`` endpoint polled over HTTP. ``stop``/``start`` keep the data
directory (an etcd outage); ``wipe`` removes it (an etcd that lost its data).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import attrs

ETCD_BINARY = "/usr/bin/etcd"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _scratch_root() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() else None


@attrs.frozen
class ServerTLS:
    """Server certificate and the CA whose client certificates it accepts (``--client-cert-auth``)."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    #: a client certificate the health check presents
    client_cert: Path
    client_key: Path


class EtcdServer:
    def __init__(self, binary: str = ETCD_BINARY, tls: ServerTLS | None = None) -> None:
        self.binary = binary
        self.tls = tls
        self.client_port = free_port()
        self.peer_port = free_port()
        self.data_root = Path(tempfile.mkdtemp(prefix="contiv-etcd-", dir=_scratch_root()))
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = self.data_root / "etcd.log"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.endpoint}"

    def start(self, timeout: float = 15.0) -> None:
        if self.proc is not None:
            return
        peer = f"http://127.0.0.1:{self.peer_port}"
        cmd = [
            self.binary,
            "--name=test",
            f"--data-dir={self.data_root / 'data'}",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=test={peer}",
            "--heartbeat-interval=10",
            "--election-timeout=100",
            "--log-level=error",
            "--logger=zap",
        ]
        if self.tls is not None:
            cmd += [
                "--client-cert-auth",
                f"--trusted-ca-file={self.tls.ca_file}",
                f"--cert-file={self.tls.cert_file}",
                f"--key-file={self.tls.key_file}",
            ]
        with self._log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(cafile=str(self.tls.ca_file))
            context.load_cert_chain(str(self.tls.client_cert), str(self.tls.client_key))
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.proc.returncode}: {self._log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1, context=context) as resp:
                    if json.loads(resp.read()).get("health") == "true":
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass  # not listening yet, or no leader yet: poll again until the deadline
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"etcd on {self.endpoint} not healthy within {timeout}s")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def wipe(self) -> None:
        """Lose every key: stop, remove the data directory, start afresh."""
        running = self.proc is not None
        self.stop()
        shutil.rmtree(self.data_root / "data", ignore_errors=True)
        if running:
            self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.data_root, ignore_errors=True)


@contextlib.contextmanager
def running_etcd(tls: ServerTLS | None = None) -> Iterator[EtcdServer]:
    server = EtcdServer(tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.close()


def make_certificates(directory: Path) -> ServerTLS:
    """A throwaway CA with a server certificate for 127.0.0.1 and a client certificate (openssl CLI)."""
    d = directory

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=contiv-test-ca",
        "-keyout", str(d / "ca-key.pem"), "-out", str(d / "ca.pem"))  # fmt: skip
    ext = d / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")
    for name, extfile in (("server", ext), ("client", None)):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", str(d / f"{name}-key.pem"), "-out", str(d / f"{name}.csr"))  # fmt: skip
        sign = ["x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
                str(d / "ca-key.pem"), "-CAcreateserial", "-days", "2", "-out", str(d / f"{name}.pem")]  # fmt: skip
        if extfile is not None:
            sign += ["-extfile", str(extfile)]
        run(*sign)
    return ServerTLS(
        ca_file=d / "ca.pem",
        cert_file=d / "server.pem",
        key_file=d / "server-key.pem",
        client_cert=d / "client.pem",
        client_key=d / "client-key.pem",
    )
