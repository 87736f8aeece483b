"""One log line per event the controller answers, saying what a user looks for.

For a pod: which pod (namespace/name), which container and interface, the
address it got, the outcome and how long it took, and the event's sequence
number (the transaction records name it). A failed ADD is a WARNING with
its reason: a pod without network is what an operator greps for. With
``--log-format json`` the same facts are fields of the record.
"""

from __future__ import annotations

import logging
from typing import Any

from contivctl.events import AddPod, AddResult, CheckPod, DeletePod, Event, GarbageCollect
from contivctl.model import Attachment

log = logging.getLogger("contivctl.controller")

_COMMANDS: dict[type[Event], str] = {AddPod: "ADD", DeletePod: "DEL", CheckPod: "CHECK", GarbageCollect: "GC"}


def log_event(
    event: Event, error: BaseException | None, ms: float, result: object = None, att: Attachment | None = None
) -> None:
    """Log how ``event`` ended; ``att`` is the attachment it concerned, when known before it ran."""
    fields: dict[str, Any] = {"event": event.name, "seq": event.seq, "durationMs": round(ms, 1)}
    if isinstance(result, AddResult):
        att = result.attachment
    command = _COMMANDS.get(type(event))
    if command is not None:
        fields["command"] = command
    if isinstance(event, AddPod | DeletePod | CheckPod):
        fields.update(containerId=event.container_id, ifname=event.ifname)
        if isinstance(event, AddPod):
            fields["pod"] = str(event.pod)
        if att is not None:
            fields.update(pod=str(att.pod), netns=att.netns, ip=str(att.ip))
    fields["outcome"] = "ok" if error is None else "error"
    if error is not None:
        fields["error"] = str(error)
    what = _subject(event, fields)
    outcome = "ok" if error is None else f"error: {error}"
    level = logging.WARNING if error is not None and command is not None else logging.INFO
    log.log(level, "%s: %s in %.1f ms (event %d)", what, outcome, ms, event.seq, extra=fields)


def _subject(event: Event, fields: dict[str, Any]) -> str:
    if "containerId" not in fields:
        return f"{event.name}"
    parts = [fields["command"], fields.get("pod", ""), f"{fields['containerId'][:12]}/{fields['ifname']}"]
    if "ip" in fields:
        parts.append(fields["ip"])
    return " ".join(p for p in parts if p)
