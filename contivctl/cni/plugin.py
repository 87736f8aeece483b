"""``contiv-cni``: the CNI plugin executable kubelet/containerd run for every pod operation (CNI spec 1.1).

It checks its input against the spec, forwards the operation to the agent
over gRPC (``grpcServer`` in the netconf) and prints the result, or a CNI
error object with exit status 1. Nothing else is ever written to stdout.

It runs once per pod start, so its start-up is pod latency: only the
standard library is imported until the input is known to be good, and the
gRPC client (grpclib and the generated messages) only then. The agent,
attrs, YAML and the dataplane libraries are never imported.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from contivctl.cni import spec
from contivctl.cni.spec import CNIError


def _skip_pydantic() -> None:
    # betterproto2 imports pydantic when it is installed, for a feature the
    # plugin never uses; that costs tens of milliseconds on every pod start.
    if "pydantic" not in sys.modules:
        sys.modules["pydantic"] = None  # type: ignore[assignment]
        sys.modules["pydantic_core"] = None  # type: ignore[assignment]


def _request(env: Mapping[str, str], version: str, stdin: bytes) -> Any:
    from contivctl.cni.generated.cni import CniRequest

    return CniRequest(
        version=version,
        container_id=env.get("CNI_CONTAINERID", ""),
        network_namespace=env.get("CNI_NETNS", ""),
        interface_name=env.get("CNI_IFNAME", ""),
        extra_nw_config=stdin.decode(),
        extra_arguments=env.get("CNI_ARGS", ""),
    )


def run(env: Mapping[str, str], stdin: bytes) -> dict[str, Any] | None:
    """The command's output (None: print nothing); raises CNIError."""
    command = spec.check_env(env)
    if command == "VERSION":
        return {"cniVersion": spec.CURRENT_VERSION, "supportedVersions": list(spec.SUPPORTED_VERSIONS)}
    conf = spec.parse_netconf(stdin)
    version = spec.check_version(conf, command)
    server = spec.grpc_server(conf)
    deadline = spec.timeout(conf)
    spec.log_file(conf)
    if command == "ADD" and "prevResult" in conf:
        raise CNIError(
            spec.INVALID_NETWORK_CONFIG,
            "prevResult must not be set: contiv-cni must be the first plugin of the chain",
        )
    if command == "GC":
        valid = spec.valid_attachments(conf)
    _skip_pydantic()
    from contivctl.cni import client
    from contivctl.cni.generated import cni as pb
    from contivctl.cni.result import cni_result, prev_result_problems

    if command == "ADD":
        reply = client.call(server, "add", _request(env, version, stdin), deadline)
        return cni_result(reply, version)
    if command == "DEL":
        client.call(server, "delete", _request(env, version, stdin), deadline)
        return None
    if command == "CHECK":
        reply = client.call(server, "check", _request(env, version, stdin), deadline)
        prev = conf.get("prevResult")
        if isinstance(prev, dict):
            problems = prev_result_problems(prev, cni_result(reply, version))
            if problems:
                raise CNIError(spec.AGENT_FAILED, "; ".join(problems))
        return None
    if command == "STATUS":
        try:
            status = client.call(server, "status", pb.StatusRequest(version=version), min(deadline, 5.0))
        except CNIError as exc:
            raise CNIError(spec.NOT_AVAILABLE, exc.msg, exc.details) from None
        if status.code:
            raise CNIError(status.code, status.message or "the agent cannot serve ADD")
        return None
    # GC
    attachments = [pb.Attachment(container_id=c, interface_name=i) for c, i in valid]
    gc = client.call(
        server,
        "garbage_collect",
        pb.GcRequest(version=version, valid_attachments=attachments, extra_nw_config=stdin.decode()),
        deadline,
    )
    if gc.errors:
        raise CNIError(spec.AGENT_FAILED, "garbage collection left attachments behind", "; ".join(gc.errors))
    return None


def _log(path: str, line: str) -> None:
    """Append one line to the netconf's ``logFile`` (0600, as the original); a log must never fail a pod."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        sys.stderr.write(f"contiv-cni: cannot open log file {path}: {exc}\n")
        return
    try:
        os.write(fd, (time.strftime("%Y-%m-%dT%H:%M:%S ") + line + "\n").encode())
    finally:
        os.close(fd)


def _peek(stdin: bytes) -> tuple[str, str]:
    """``logFile`` and a supported ``cniVersion`` of the netconf, when it can be read: for logs and error objects."""
    try:
        conf = json.loads(stdin)
    except ValueError:
        return "", spec.CURRENT_VERSION
    if not isinstance(conf, dict):
        return "", spec.CURRENT_VERSION
    path, version = conf.get("logFile"), conf.get("cniVersion")
    return (
        path if isinstance(path, str) else "",
        version if version in spec.SUPPORTED_VERSIONS else spec.CURRENT_VERSION,
    )


def _read_stdin() -> bytes:
    """The netconf; a terminal (someone trying the plugin by hand) gives nothing rather than a hang."""
    if sys.stdin is None or sys.stdin.isatty():
        return b""
    return sys.stdin.buffer.read()


def main() -> int:
    started = time.monotonic()
    env = os.environ
    stdin = _read_stdin()
    try:
        output = run(env, stdin)
        code, outcome = 0, "ok"
    except CNIError as exc:
        output, code = exc.to_json(_peek(stdin)[1]), 1
        outcome = f"error {exc.code}: {exc.msg}" + (f" ({exc.details})" if exc.details else "")
    if output is not None:
        sys.stdout.write(json.dumps(output) + "\n")
        sys.stdout.flush()
    path = _peek(stdin)[0]
    if path:
        _log(
            path,
            f"{env.get('CNI_COMMAND', '')} {env.get('CNI_CONTAINERID', '')} {env.get('CNI_IFNAME', '')} "
            f"{env.get('CNI_NETNS', '')}: {outcome} in {(time.monotonic() - started) * 1e3:.1f} ms",
        )
    if code:
        sys.stderr.write(f"contiv-cni: {outcome}\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
