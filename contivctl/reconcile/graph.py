"""Dependency-graph questions that need no state of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from contivctl.reconcile.item import Dependency


class HasDeps(Protocol):
    @property
    def deps(self) -> tuple[Dependency, ...]: ...


def find_cycle(start: Iterable[str], node: Callable[[str], HasDeps | None]) -> list[str] | None:
    """A loop of exact dependencies reachable from `start`, or None.

    Only exact dependencies (and the implicit parent link of derived items)
    count: a prefix dependency is an OR over many keys, so a loop through it
    does not make anything impossible — those items just wait as PENDING.
    Only nodes reachable from `start` are visited, which keeps an
    incremental change cheap: an existing state is known to be acyclic, so a
    new loop must pass through a changed item.
    """
    done: set[str] = set()
    for root in start:
        if root in done or node(root) is None:
            continue
        path: list[str] = []
        on_path: dict[str, int] = {}
        stack: list[list[str]] = []
        key: str | None = root
        while True:
            if key is not None:
                n = node(key)
                assert n is not None
                on_path[key] = len(path)
                path.append(key)
                stack.append([d.target for d in n.deps if not d.prefix and node(d.target) is not None])
                key = None
            if not stack:
                break
            nxt = stack[-1]
            if nxt:
                t = nxt.pop()
                if t in on_path:
                    return path[on_path[t] :]
                if t not in done:
                    key = t
                continue
            stack.pop()
            finished = path.pop()
            del on_path[finished]
            done.add(finished)
    return None
