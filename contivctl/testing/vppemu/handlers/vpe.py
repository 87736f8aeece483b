"""vpe.api, vlib.api and memclnt extras: version, module versions, plugin ids."""

from __future__ import annotations

import re
from typing import Any

from ..errors import Retval, VppApiError
from ..server import BUILD_DATE, PROGRAM, VERSION
from .base import Context, Fields, reply, text


@reply("show_version")
def show_version(ctx: Context, m: Any) -> Fields:
    return {
        "program": PROGRAM,
        "version": VERSION,
        "build_date": BUILD_DATE,
        "build_directory": "emulated",
    }


@reply("api_versions")
def api_versions(ctx: Context, m: Any) -> Fields:
    versions = ctx.defs.versions
    entries = [{"major": v[0], "minor": v[1], "patch": v[2], "name": name} for name, v in sorted(versions.items())]
    return {"count": len(entries), "api_versions": entries}


@reply("get_first_msg_id")
def get_first_msg_id(ctx: Context, m: Any) -> Fields:
    name = re.sub(r"_[0-9a-f]{8}$", "", text(m.name))  # VPP registers modules as <name>_<crc>
    first = ctx.defs.modules.get(name)
    if first is None:
        raise VppApiError(Retval.UNSPECIFIED, name, first_msg_id=0xFFFF)
    return {"first_msg_id": first[0]}


@reply("cli_inband")
def cli_inband(ctx: Context, m: Any) -> Fields:
    """`show version` answers; `trace add` is accepted silently, as VPP does; others answer empty."""
    cmd = text(m.cmd).strip()
    ctx.state.cli.append(cmd)
    if cmd == "show version":
        return {"reply": f"{PROGRAM} v{VERSION} built on {BUILD_DATE}\n"}
    return {"reply": ""}
