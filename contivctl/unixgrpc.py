"""A gRPC service on a unix socket that only root can reach, from the moment the socket exists.

The agent's CNI server and the STN daemon are both reached through such a
socket. gRPC's C core binds the socket itself, with the process's umask;
so it binds in a fresh directory beside the path that only root can enter,
the socket is made 0600 there and only then linked to its path. ``link``
(unlike ``rename``) never replaces a socket that appeared at the path
meanwhile. A stale socket (nobody listening: its server is gone) is
replaced; a live one, or a file that is not a socket, is never touched.
On stop the socket is removed only if it is still the one this server made.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc

from contivctl.errors import ContivError

log = logging.getLogger(__name__)

#: the longest path a unix socket address holds (sun_path, less its terminating NUL)
MAX_SOCKET_PATH = 107
#: what the private bind adds to the directory's path: "/" + mkdtemp's "." and 8 characters + "/s"
_PRIVATE_BIND = "/.XXXXXXXX/s"


class PrivateSocketServer:
    """``handlers`` of ``service`` on ``path``; failures are ``error``s naming ``what`` (CNI, STN) and the path."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        service: str,
        handlers: Mapping[str, Any],
        *,
        what: str,
        error: type[ContivError] = ContivError,
        options: Sequence[tuple[str, Any]] = (),
        parent_mode: int | None = None,
    ) -> None:
        self.path = Path(path)
        self._service = service
        self._handlers = dict(handlers)
        self._what = what
        self._error = error
        self._options = tuple(options)
        #: a missing parent directory is made with this mode (None: the umask's)
        self._parent_mode = parent_mode
        self._server: Any = None
        self._inode: int | None = None

    def _fail(self, reason: str) -> ContivError:
        return self._error(f"cannot serve {self._what} on {self.path}: {reason}")

    def _taken(self) -> ContivError:
        return self._error(f"another process is serving {self._what} on {self.path}; not taking it over")

    async def start(self) -> None:
        longest = len(os.fsencode(self.path.parent)) + len(_PRIVATE_BIND)
        if max(longest, len(os.fsencode(self.path))) > MAX_SOCKET_PATH:
            raise self._fail(
                "AF_UNIX path too long "
                f"(its directory's path may have at most {MAX_SOCKET_PATH - len(_PRIVATE_BIND)} bytes)"
            )
        parent = self.path.parent
        try:
            if self._parent_mode is None:
                parent.mkdir(parents=True, exist_ok=True)
            elif not parent.exists():
                parent.mkdir(mode=self._parent_mode, parents=True)
                os.chmod(parent, self._parent_mode)  # whatever the umask made of it
            self._remove_stale()
            private = Path(tempfile.mkdtemp(prefix=".", dir=parent))  # mode 0700
        except OSError as exc:  # a read-only or foreign directory: the user's to fix, in one line
            raise self._fail(exc.strerror or str(exc)) from None
        bound = private / "s"
        server = grpc.aio.server(options=self._options)
        try:
            server.add_registered_method_handlers(self._service, self._handlers)
            try:
                server.add_insecure_port(f"unix:{bound}")
            except RuntimeError as exc:
                raise self._fail(str(exc)) from None
            os.chmod(bound, 0o600)
            await server.start()
            try:
                os.link(bound, self.path)
            except FileExistsError:
                raise self._taken() from None
            except OSError as exc:
                raise self._fail(exc.strerror or str(exc)) from None
        except BaseException:
            await server.stop(None)
            raise
        finally:
            shutil.rmtree(private, ignore_errors=True)
        self._inode = os.stat(self.path).st_ino
        self._server = server
        log.info("%s server listening on %s", self._what, self.path)

    def _remove_stale(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise self._error(f"{self._what} socket path {self.path} exists and is not a socket; not removing it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.path))
        except OSError:
            pass  # nobody listens: the socket of a server that is gone
        else:
            raise self._taken()
        finally:
            probe.close()
        log.info("removing stale %s socket %s", self._what, self.path)
        self.path.unlink()

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        await server.stop(None)
        # removed only if still ours (a newer server may have replaced it)
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(self.path).st_ino == self._inode:
                self.path.unlink()
