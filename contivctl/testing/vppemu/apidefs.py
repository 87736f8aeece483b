"""The API definitions the emulator serves, loaded with vpp_papi's own classes.

Message ids follow VPP's rules (memclnt first at 1..28 in file order, then one
contiguous block per module in file order), so the message table, the
`get_api_json` payload and the dispatch table all come from one load and can
never disagree. Everything here is computed once per process: vpp_papi keeps
its type registry global, so loading twice would only re-use the first set.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import attrs
from vpp_papi.vpp_papi import VPPApiJSONFiles

DEFAULT_API_DIR = Path(__file__).parent / "api"

MEMCLNT = "memclnt"
# The clients hard-code these two ids (vpp_papi: sync and async transports).
SOCKCLNT_CREATE_ID = 15
SOCKCLNT_CREATE_REPLY_ID = 16


@attrs.define(slots=True)
class MessageSpec:
    """One message as the dispatcher needs it, resolved once at load."""

    msg_id: int
    name: str
    crc: str
    msg: Any  # vpp_papi VPPMessage
    size: int
    reply: MessageSpec | None = None
    stream: bool = False
    stream_msg: MessageSpec | None = None
    has_context: bool = True

    @property
    def name_crc(self) -> str:
        return f"{self.name}_{self.crc}"


@attrs.define
class ApiDefinitions:
    api_dir: Path
    by_name: dict[str, MessageSpec]
    by_id: list[MessageSpec | None]
    modules: dict[str, tuple[int, int]]  # module -> (first id, count)
    versions: dict[str, tuple[int, int, int]]
    api_json: str

    def spec(self, name: str) -> MessageSpec:
        return self.by_name[name]

    def table(self) -> list[dict[str, object]]:
        return [{"index": s.msg_id, "name": s.name_crc} for s in self.by_name.values()]


def _api_files(api_dir: Path) -> list[Path]:
    files = sorted(Path(p) for p in VPPApiJSONFiles.find_api_files(str(api_dir)))
    if not files:
        raise FileNotFoundError(f"no *.api.json under {api_dir}")
    # memclnt must come first: its ids are fixed by the protocol.
    files.sort(key=lambda p: (not p.name.startswith(MEMCLNT + "."), str(p)))
    return files


def _module_name(path: Path) -> str:
    return path.name.removesuffix(".api.json")


def _version(raw: dict[str, Any]) -> tuple[int, int, int]:
    ver = str(raw.get("options", {}).get("version", "0.0.0"))
    parts = [int(x) for x in ver.split(".")[:3]] + [0, 0, 0]
    return parts[0], parts[1], parts[2]


def _iter_message_names(raw: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for m in raw.get("messages", []):
        crc = next(f["crc"] for f in m[1:] if isinstance(f, dict) and "crc" in f)
        yield m[0], crc[2:]


@functools.cache
def load(api_dir: str | None = None) -> ApiDefinitions:
    root = Path(api_dir) if api_dir else DEFAULT_API_DIR
    files = _api_files(root)
    by_name: dict[str, MessageSpec] = {}
    by_id: list[MessageSpec | None] = [None]
    modules: dict[str, tuple[int, int]] = {}
    versions: dict[str, tuple[int, int, int]] = {}
    services: dict[str, dict[str, Any]] = {}
    texts: list[str] = []
    for path in files:
        text = path.read_text()
        texts.append(text.strip())
        raw = json.loads(text)
        # vpp_papi mutates what it parses, so it gets its own copy.
        messages, svc = VPPApiJSONFiles.process_json_str(text)
        services.update(svc)
        module = _module_name(path)
        versions[module] = _version(raw)
        first = len(by_id)
        for name, crc in _iter_message_names(raw):
            if name in by_name:
                continue
            msg = messages[name]
            spec = MessageSpec(
                msg_id=len(by_id),
                name=name,
                crc=crc,
                msg=msg,
                size=int(msg.size),
                has_context="context" in msg.field_by_name,
            )
            by_name[name] = spec
            by_id.append(spec)
        modules[module] = (first, len(by_id) - first)
    if len(by_id) > 0xFFFF:
        raise ValueError("message ids exceed u16")
    if by_name["sockclnt_create"].msg_id != SOCKCLNT_CREATE_ID:
        raise ValueError("memclnt.api.json does not put sockclnt_create at id 15")
    for name, svc in services.items():
        found = by_name.get(name)
        reply = by_name.get(str(svc.get("reply", "")))
        if found is None or reply is None:
            continue
        spec = found
        spec.reply = reply
        spec.stream = bool(svc.get("stream", False))
        if "stream_msg" in svc:
            spec.stream_msg = by_name.get(str(svc["stream_msg"]))
    return ApiDefinitions(
        api_dir=root,
        by_name=by_name,
        by_id=by_id,
        modules=modules,
        versions=versions,
        api_json="[" + ",".join(texts) + "]",
    )


def default_api_dir() -> str:
    return os.fspath(DEFAULT_API_DIR)


def as_dict(tup: Any) -> dict[str, Any]:
    """A decoded message (a namedtuple) as a plain dict, for tests and logs."""
    return cast(dict[str, Any], tup._asdict())
