"""Fault injection: make the emulated VPP misbehave on purpose, from a test.

Rules are matched per request by message name (or any message when the name
is None) in the order they were added; each fires `times` times (None: until
cleared). A rule made by `at_random` fires on a fraction of the requests it
matches instead, drawn from a random generator of its own seeded by the
caller: a chaos run says "5 % of requests fail" and gets the same draws for
the same sequence of requests. The server asks `take()` only while some rule
exists, so an idle fault table costs nothing on the hot path.
"""

from __future__ import annotations

import enum
import random
from typing import Any

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
    #: the fraction of matching requests it hits (``at_random``), drawn from ``rng``; 1.0: every one
    fraction: float = 1.0
    rng: random.Random | None = None
    #: matching requests it was asked about (``at_random``): ``fired`` of them were hit
    seen: int = 0

    def matches(self, name: str, plain: bool = True) -> bool:
        if self.message is None:
            # A random rule for any message leaves dumps and control pings alone: VPP never refuses
            # those, and a failed dump has no reply of its own to carry the error.
            return name not in _HANDSHAKE and (plain or self.rng is None)
        return self.message == name

    def report(self) -> dict[str, Any]:
        """What the rule is and how often it hit, as JSON."""
        out: dict[str, Any] = {"action": self.action.value, "message": self.message, "fired": self.fired}
        if self.action is Action.FAIL:
            out["retval"] = self.retval
        if self.action is Action.DELAY:
            out["seconds"] = self.seconds
        if self.rng is not None:
            out.update(fraction=self.fraction, seen=self.seen)
        return out


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

    def at_random(
        self,
        fraction: float,
        action: Action = Action.FAIL,
        message: str | None = None,
        *,
        retval: int = -1,
        seconds: float = 0.0,
        seed: int | str = 0,
    ) -> Fault:
        """Hit ``fraction`` of the requests named ``message`` (None: any request but dumps), until cleared.

        ``action`` as the other rules: FAIL with ``retval`` (default -1, VPP's
        UNSPECIFIED), DELAY by ``seconds``, DROP_CONNECTION, IGNORE. The draws
        come from ``random.Random(seed)``, one generator per rule. A request a
        random rule lets pass goes on to the rules after it.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction {fraction} is not between 0 and 1")
        if action is Action.DELAY and seconds <= 0:
            raise ValueError("a delay needs seconds > 0")
        rng = random.Random(seed)
        return self._add(
            Fault(message, action, retval=retval, seconds=seconds, remaining=None, fraction=fraction, rng=rng)
        )

    def report(self) -> list[dict[str, Any]]:
        """Every rule still in the table with how often it hit (rules used up are gone)."""
        return [fault.report() for fault in self.rules]

    def clear(self) -> None:
        self.rules.clear()

    def _add(self, fault: Fault) -> Fault:
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError("times must be positive or None")
        self.rules.append(fault)
        return fault

    def take(self, name: str, plain: bool = True) -> Fault | None:
        """The rule that hits this request, or None; ``plain``: a request with one reply (not a dump, not a ping)."""
        for fault in self.rules:
            if fault.matches(name, plain):
                if fault.rng is not None:
                    fault.seen += 1
                    if fault.rng.random() >= fault.fraction:
                        continue
                fault.fired += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.rules.remove(fault)
                return fault
        return None
