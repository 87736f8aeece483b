"""``serve PORT NAME``: answer every TCP connection with NAME. ``connect TIMEOUT HOST:PORT…``: JSON list of answers."""

from __future__ import annotations

import errno
import json
import socket
import sys


def serve(port: int, name: str) -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(64)
    print("listening", flush=True)
    while True:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(name.encode() + b"\n")


def connect(timeout: float, targets: list[str]) -> None:
    out = []
    for t in targets:
        host, _, port = t.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout) as s:
                s.settimeout(timeout)
                out.append(s.makefile().readline().strip() or "error:EMPTY")
        except TimeoutError:
            out.append("error:TIMEOUT")
        except OSError as exc:
            out.append(f"error:{errno.errorcode.get(exc.errno or 0, str(exc))}")
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        connect(float(sys.argv[2]), sys.argv[3:])
