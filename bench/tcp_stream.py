"""A minimal iperf-style TCP stream, run inside network namespaces by bench/cluster.py.

``receive PORT``: listen, print ``listening``, accept one connection, count
bytes until EOF, print ``{"bytes", "seconds"}`` (from the first byte to EOF).
``send IP PORT SECONDS``: connect and send 256 KiB buffers for SECONDS.
Standard library only: it runs in a bare namespace with this Python.
"""

from __future__ import annotations

import json
import socket
import sys
import time

CHUNK = 256 * 1024


def receive(port: int) -> None:
    with socket.create_server(("0.0.0.0", port)) as server:
        print("listening", flush=True)
        conn, _ = server.accept()
        with conn:
            buf = bytearray(CHUNK)
            total = conn.recv_into(buf)
            start = time.monotonic()
            while True:
                n = conn.recv_into(buf)
                if n == 0:
                    break
                total += n
            seconds = time.monotonic() - start
    print(json.dumps({"bytes": total, "seconds": seconds}), flush=True)


def send(ip: str, port: int, seconds: float) -> None:
    data = b"\0" * CHUNK
    with socket.create_connection((ip, port)) as conn:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            conn.sendall(data)


if __name__ == "__main__":
    if sys.argv[1] == "receive":
        receive(int(sys.argv[2]))
    else:
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
