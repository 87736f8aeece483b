"""The demo's TCP server and client, run inside a pod's or node's namespace (``ip netns exec``).

``python -m contivctl.demo.tcp serve PORT NAME MARKER`` answers every
connection with NAME (MARKER, the demo's run directory, is only there so
the teardown recognises the process by its command line);
``python -m contivctl.demo.tcp connect TIMEOUT HOST:PORT…`` makes one
connection to each and prints a JSON list: who answered, or
``error:<errno name>`` (``error:TIMEOUT`` when nothing came back).
"""

from __future__ import annotations

import errno
import json
import socket
import sys

READY = "listening"


def serve(port: int, name: str) -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(128)
    print(READY, flush=True)
    while True:
        conn, _ = srv.accept()
        with conn:
            try:
                conn.sendall(name.encode() + b"\n")
            except OSError:
                continue  # the client went away first: the next one


def connect(timeout: float, targets: list[str]) -> list[str]:
    out = []
    for target in targets:
        host, _, port = target.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout) as s:
                s.settimeout(timeout)
                out.append(s.makefile().readline().strip() or "error:EMPTY")
        except TimeoutError:
            out.append("error:TIMEOUT")
        except OSError as exc:
            out.append(f"error:{errno.errorcode.get(exc.errno or 0, 'OSError')}")
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) >= 3:
        serve(int(argv[1]), argv[2])
        return 0
    if argv[:1] == ["connect"] and len(argv) >= 2:
        print(json.dumps(connect(float(argv[1]), argv[2:])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
