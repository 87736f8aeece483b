"""Reading YAML mappings into attrs classes the way the original agent did.

The original parsed YAML through JSON into Go structs, so keys matched field
names case-insensitively and the later camelCase files used other names for
some of the same settings. Each attrs field therefore lists every spelling it
answers to (``keys``) and a converter (``conv``) that checks the value's type
and range. Loading collects every problem instead of stopping at the first,
because a user fixing a config file wants the whole list in one run.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import attrs

from contivctl.errors import ConfigProblem

T = TypeVar("T")

#: A converter takes the raw YAML value and returns the typed value, or raises
#: ValueError whose text says what was wrong and what is allowed.
Converter = Callable[[Any], Any]

_KEYS = "contivctl.keys"
_CONV = "contivctl.conv"
_NESTED = "contivctl.nested"
_LIST_OF = "contivctl.list_of"


def setting(default: Any, *keys: str, conv: Converter, factory: bool = False) -> Any:
    """Declare a config field: its default, its accepted spellings and its converter.

    The first key is the spelling used in messages and output.
    """
    meta = {_KEYS: keys, _CONV: conv}
    if factory:
        return attrs.field(factory=default, metadata=meta)
    return attrs.field(default=default, metadata=meta)


def section(cls: type[Any], *keys: str) -> Any:
    """Declare a nested mapping loaded into ``cls``."""
    return attrs.field(factory=cls, metadata={_KEYS: keys, _NESTED: cls})


def section_list(cls: type[Any], *keys: str) -> Any:
    """Declare a list of mappings, each loaded into ``cls``."""
    return attrs.field(factory=tuple, metadata={_KEYS: keys, _LIST_OF: cls})


def keys_of(field: attrs.Attribute[Any]) -> tuple[str, ...]:
    return tuple(field.metadata.get(_KEYS, ()))


def display_key(field: attrs.Attribute[Any], dialect: str = "contiv.yaml") -> str:
    """The spelling of ``field`` in messages and output for a file form.

    ``contiv.yaml`` (v2.0) files use Go field names; ``contiv.conf`` files use
    JSON tags: the first lower-case key listed, else the Go name in camelCase.
    """
    keys = keys_of(field)
    if not keys:
        return field.name
    if dialect == "contiv.yaml":
        return keys[0]
    return next((k for k in keys if k[0].islower()), camel(keys[0]))


def camel(go_name: str) -> str:
    """Go's exported name as its usual JSON tag: ``MTUSize`` → ``mtuSize``."""
    run = len(go_name) - len(go_name.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    if run == len(go_name):
        return go_name.lower()
    if run <= 1:
        return go_name[:1].lower() + go_name[1:]
    return go_name[: run - 1].lower() + go_name[run - 1 :]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Loader:
    """Builds attrs objects from plain mappings and collects problems on the way."""

    def __init__(self, dialect: str = "contiv.yaml") -> None:
        self.dialect = dialect
        self.problems: list[ConfigProblem] = []
        #: Attribute paths (``ipam.pod_subnet_cidr``) that the input set explicitly.
        self.given: set[str] = set()
        #: Attribute paths whose value was rejected (they keep their defaults).
        self.failed: set[str] = set()
        #: Attribute path → the key path as the user spelled it, for messages.
        self.spelled: dict[str, str] = {}

    def problem(self, path: str, message: str) -> None:
        self.problems.append(ConfigProblem(path, message))

    def load(self, cls: type[T], data: Any, path: str = "", attr_path: str = "") -> T:
        """Return ``cls`` built from ``data``; fields with problems keep their defaults."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self.problem(path, f"expected a mapping of keys, got {type_name(data)} {data!r}")
            return cls()
        by_key: dict[str, attrs.Attribute[Any]] = {}
        for field in attrs.fields(cast(Any, cls)):
            for key in keys_of(field):
                by_key[key.lower()] = field
        seen: dict[str, str] = {}
        values: dict[str, Any] = {}
        for raw_key, raw_value in data.items():
            if not isinstance(raw_key, str):
                self.problem(path, f"key {raw_key!r} is not a string")
                continue
            field = by_key.get(raw_key.lower())
            where = _join(path, raw_key)
            if field is None:
                self.problem(where, f"unknown key{self._suggest(raw_key, by_key)}")
                continue
            if field.name in seen:
                self.problem(where, f"given twice (also as {seen[field.name]!r})")
                continue
            seen[field.name] = raw_key
            field_attr_path = _join(attr_path, field.name)
            self.given.add(field_attr_path)
            self.spelled[field_attr_path] = where
            value = self._convert(field, raw_value, where, field_attr_path)
            if value is _INVALID:
                self.failed.add(field_attr_path)
            else:
                values[field.name] = value
        return cls(**values)

    def _convert(self, field: attrs.Attribute[Any], raw: Any, where: str, attr_path: str) -> Any:
        nested = field.metadata.get(_NESTED)
        if nested is not None:
            return self.load(nested, raw, where, attr_path)
        item_cls = field.metadata.get(_LIST_OF)
        if item_cls is not None:
            if raw is None:
                return ()
            if not isinstance(raw, list):
                self.problem(where, f"expected a list, got {type_name(raw)} {raw!r}")
                return _INVALID
            return tuple(self.load(item_cls, item, f"{where}[{i}]", f"{attr_path}[{i}]") for i, item in enumerate(raw))
        conv: Converter = field.metadata[_CONV]
        try:
            return conv(raw)
        except ValueError as exc:
            self.problem(where, str(exc))
            return _INVALID

    def _suggest(self, key: str, by_key: Mapping[str, attrs.Attribute[Any]]) -> str:
        match = difflib.get_close_matches(key.lower(), list(by_key), n=1, cutoff=0.6)
        if not match:
            known = sorted({display_key(f, self.dialect) for f in by_key.values()})
            return f" (known keys: {', '.join(known)})"
        field = by_key[match[0]]
        spelled = next((k for k in keys_of(field) if k.lower() == match[0]), display_key(field, self.dialect))
        return f"; did you mean {spelled!r}?"


_INVALID = object()


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__
