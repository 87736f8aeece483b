"""Turning a change of desired values into a delta of expanded items.

Expansion asks each value's descriptor for its dependencies and derived
items once, when the value changes, so planning never calls back into
descriptors for unchanged items. Invalid input (unknown kind, colliding
derived keys, a dependency loop) is rejected here, before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from contivctl.reconcile.descriptor import Registry
from contivctl.reconcile.errors import DependencyCycle, KeyConflict
from contivctl.reconcile.graph import find_cycle
from contivctl.reconcile.item import Dependency
from contivctl.reconcile.store import ItemStore, Want

TOP = "the desired state"


@attrs.frozen
class Delta:
    """Desired changes, not yet committed: `items[key]` is the new Want, or None to remove."""

    top: Mapping[str, Any | None]
    items: Mapping[str, Want | None]

    def __bool__(self) -> bool:
        return bool(self.items)


def top_changes(store: ItemStore, desired: Mapping[str, Any]) -> dict[str, Any | None]:
    """The changes that turn the current desired values into `desired` (a full replacement)."""
    old = store.top
    changes: dict[str, Any | None] = {}
    for k, v in desired.items():
        o = old.get(k)
        if o is None or (o is not v and o != v):
            changes[k] = v
    for k in old:
        if k not in desired:
            changes[k] = None
    return changes


def expand(registry: Registry, store: ItemStore, changes: Mapping[str, Any | None]) -> Delta:
    """Expand changes (None removes a key) into a validated Delta."""
    items: dict[str, Want | None] = {}
    top: dict[str, Any | None] = {}
    claims: dict[str, str] = {}

    def current(key: str) -> Want | None:
        return items[key] if key in items else store.desired.get(key)

    def drop(key: str, parent: str | None) -> None:
        w = current(key)
        if w is None or w.parent != parent:
            return
        items[key] = None
        for c in w.children:
            drop(c, key)

    def put(key: str, value: Any, parent: str | None) -> None:
        d = registry.route(key)
        deps = tuple(d.dependencies(key, value))
        if parent is not None:
            deps = (*deps, Dependency.on(parent))
        kids = list(d.derived(key, value))
        old = current(key)
        if old is not None:
            new_children = {k for k, _ in kids}
            for c in old.children:
                if c not in new_children:
                    drop(c, key)
        items[key] = Want(value, d, deps, parent, tuple(k for k, _ in kids))
        for ck, cv in kids:
            if ck in claims and claims[ck] != key:
                raise KeyConflict(ck, claims[ck], key)
            claims[ck] = key
            cw = current(ck)
            if cw is not None and cw.parent == key and (cw.value is cv or cw.value == cv):
                continue
            put(ck, cv, key)

    for key, value in changes.items():
        old_top = store.top.get(key)
        if value is None:
            if key in store.top:
                top[key] = None
                drop(key, None)
            continue
        if old_top is not None and (old_top is value or old_top == value):
            continue
        top[key] = value
        put(key, value, None)

    _validate(store, items, top, claims)
    cycle = find_cycle([k for k, w in items.items() if w is not None], current)
    if cycle is not None:
        raise DependencyCycle(cycle)
    return Delta(top, items)


def _validate(
    store: ItemStore, items: dict[str, Want | None], top: dict[str, Any | None], claims: dict[str, str]
) -> None:
    def current(key: str) -> Want | None:
        return items[key] if key in items else store.desired.get(key)

    def in_top(key: str) -> bool:
        return top[key] is not None if key in top else key in store.top

    for key, parent in claims.items():
        if in_top(key):
            raise KeyConflict(key, TOP, parent)
        old = store.desired.get(key)
        if old is not None and old.parent is not None and old.parent != parent:
            other = current(old.parent)
            if other is not None and key in other.children:
                raise KeyConflict(key, old.parent, parent)
    for key, value in top.items():
        if value is None:
            continue
        old = store.desired.get(key)
        if old is not None and old.parent is not None:
            owner = current(old.parent)
            if owner is not None and key in owner.children:
                raise KeyConflict(key, old.parent, TOP)
