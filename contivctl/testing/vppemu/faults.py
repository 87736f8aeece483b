"""Fault injection: make the emulated VPP misbehave on purpose, from a test.

Rules are matched per request by message name (or any message when the name
is None) in the order they were added; each fires `times` times (None: until
cleared). The server asks `take()` only while some rule exists, so an idle
fault table costs nothing on the hot path.
"""

from __future__ import annotations

import enum

import attrs

# Never faulted by a wildcard rule: breaking them only breaks the connect/disconnect
# handshake, which tests do by naming the message explicitly.
_HANDSHAKE = frozenset({"sockclnt_create", "sockclnt_delete", "get_api_json"})


class Action(enum.Enum):
    FAIL = "fail"  # reply with the given retval, change nothing
    DELAY = "delay"  # sleep, then handle normally
    DROP_CONNECTION = "drop"  # close the client's socket instead of answering
    IGNORE = "ignore"  # no reply at all, as VPP does with a malformed request


@attrs.define
class Fault:
    message: str | None
    action: Action
    retval: int = 0
    seconds: float = 0.0
    remaining: int | None = 1
    fired: int = 0

    def matches(self, name: str) -> bool:
        if self.message is None:
            return name not in _HANDSHAKE
        return self.message == name


@attrs.define
class Faults:
    rules: list[Fault] = attrs.Factory(list)

    @property
    def active(self) -> bool:
        return bool(self.rules)

    def fail(self, message: str, retval: int, times: int | None = 1) -> Fault:
        return self._add(Fault(message, Action.FAIL, retval=retval, remaining=times))

    def delay(self, seconds: float, message: str | None = None, times: int | None = None) -> Fault:
        return self._add(Fault(message, Action.DELAY, seconds=seconds, remaining=times))

    def drop_connection(self, message: str | None = None, times: int | None = 1) -> Fault:
        return self._add(Fault(message, Action.DROP_CONNECTION, remaining=times))

    def ignore(self, message: str, times: int | None = 1) -> Fault:
        return self._add(Fault(message, Action.IGNORE, remaining=times))

    def clear(self) -> None:
        self.rules.clear()

    def _add(self, fault: Fault) -> Fault:
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError("times must be positive or None")
        self.rules.append(fault)
        return fault

    def take(self, name: str) -> Fault | None:
        for fault in self.rules:
            if fault.matches(name):
                fault.fired += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.rules.remove(fault)
                return fault
        return None
