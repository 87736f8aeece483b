"""nftables transactions through libnftables (the library ``nft`` is built on), off the event loop.

Running the ``nft`` command costs a process start (a few milliseconds)
and, before it does anything, a read of the whole table it touches from
the kernel — every chain of a table with thousands of Services, tens of
milliseconds. The library keeps no process to start; its one context per
namespace still reads the table's chains per transaction, which is why
the Services' table keeps few chains per Service (nftservices.py).

Calls run on a thread of their own (the GIL is released while the library
works), inside the namespace they are for (``setns`` around each call, as
the netlink channels do), each with a context of its own: a context
kept open would keep a deleted namespace alive, and would save nothing,
since every transaction reads the table again. Without the library (not installed), the
``nft`` command is used instead; the two take the same script.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from typing import Any

from contivctl.dataplane.linux.netns import in_netns
from contivctl.dataplane.linux.nftables import run_nft
from contivctl.dataplane.linux.worker import Worker
from contivctl.errors import LinuxError
from contivctl.items.linux import ns_label

_worker = Worker("contiv-nft")
_lock = threading.Lock()


class _Lib:
    def __init__(self, lib: Any) -> None:
        self.lib = lib
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int

    def run(self, netns: str, script: str) -> str | None:
        """Run ``script`` as one transaction in ``netns``; the error text, or None (on the worker thread)."""

        def call() -> str | None:
            lib = self.lib
            ctx = lib.nft_ctx_new(0)  # inside the namespace: its netlink socket is bound there
            if not ctx:
                return "libnftables: no context"
            try:
                lib.nft_ctx_buffer_output(ctx)
                lib.nft_ctx_buffer_error(ctx)
                rc = lib.nft_run_cmd_from_buffer(ctx, script.encode())
                if rc == 0:
                    return None
                err: bytes = lib.nft_ctx_get_error_buffer(ctx) or b""
                return err.decode(errors="replace").strip() or f"libnftables returned {rc}"
            finally:
                lib.nft_ctx_free(ctx)

        return in_netns(netns, call)


_loaded: list[_Lib | None] = []


def _library() -> _Lib | None:
    with _lock:
        if not _loaded:
            name = ctypes.util.find_library("nftables") or "libnftables.so.1"
            try:
                _loaded.append(_Lib(ctypes.CDLL(name)))
            except OSError:
                _loaded.append(None)
        return _loaded[0]


async def apply(netns: str, script: str) -> None:
    """One nftables transaction in ``netns`` ("" = the agent's own); LinuxError with nft's message."""
    lib = _library()
    if lib is not None:
        err = await _worker.run(lambda: lib.run(netns, script))
    else:
        status, _, text = await run_nft(netns, ["-f", "-"], stdin=script)
        err = None if status == 0 else text.strip()
    if err is not None:
        raise LinuxError(f"nft in {ns_label(netns)}: {err}")
