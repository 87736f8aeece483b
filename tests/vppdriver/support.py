"""Helpers: drive one descriptor through create → retrieve → update → delete with a tiny context."""

from __future__ import annotations

from typing import Any

from contivctl.reconcile import Descriptor, Retrieved


class Ctx:
    """A Context over a plain dict of key → (value, metadata)."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[Any, Any]] = {}

    def metadata(self, key: str) -> Any:
        return self.items[key][1]

    def value(self, key: str) -> Any:
        return self.items[key][0]

    def exists(self, key: str) -> bool:
        return key in self.items

    async def create(self, d: Descriptor[Any], value: Any) -> Any:
        md = await d.create(self, value.key, value)
        self.items[value.key] = (value, md)
        return md

    async def delete(self, d: Descriptor[Any], value: Any) -> None:
        await d.delete(self, value.key, value, self.items[value.key][1])
        del self.items[value.key]

    async def update(self, d: Descriptor[Any], old: Any, new: Any) -> None:
        md = await d.update(self, new.key, old, new, self.items[old.key][1])
        self.items[new.key] = (new, md)


async def found(d: Descriptor[Any], ctx: Ctx, key: str) -> Retrieved | None:
    for r in await d.retrieve(ctx, {}):
        if r.key == key:
            return r
    return None


async def roundtrip(d: Descriptor[Any], ctx: Ctx, value: Any, updated: Any | None = None) -> None:
    """create → retrieve equivalent and owned → update → retrieve → delete → gone."""
    await ctx.create(d, value)
    r = await found(d, ctx, value.key)
    assert r is not None, f"{value.key} not retrieved after create"
    assert d.equivalent(value, r.value), f"{r.value!r} is not {value!r}"
    assert r.owned if r.owned is not None else d.owns(r.key, r.value)
    current = value
    if updated is not None:
        assert not d.equivalent(updated, r.value)
        if d.needs_recreate(value, updated):
            await ctx.delete(d, value)
            await ctx.create(d, updated)
        else:
            await ctx.update(d, value, updated)
        r = await found(d, ctx, updated.key)
        assert r is not None and d.equivalent(updated, r.value), f"{r!r} is not {updated!r}"
        current = updated
    await ctx.delete(d, current)
    assert await found(d, ctx, current.key) is None, f"{current.key} still there after delete"
