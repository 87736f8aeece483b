"""Hypothesis over what the agent reads from files and from Kubernetes: clear errors only.

The agent's configuration (contiv.yaml or contiv.conf form, as text), a
NodeConfig resource's spec, and the nodes file. Whatever they hold, the
answer is a value or a ConfigError whose problems each name a key; never
another exception (a traceback instead of a line a user can act on), and
never an error without a message.

The data is shaped after the schema (the keys each setting answers to,
nested sections, lists of entries), with values of every YAML type, so most
examples get past the first key lookup to the converters.
"""

from __future__ import annotations

import os
import string
from pathlib import Path
from typing import Any

import attrs
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contivctl.cluster.static import parse_nodes
from contivctl.config import load_config, parse_config
from contivctl.config.model import Config, NodeConfig
from contivctl.config.schema import _LIST_OF, _NESTED, keys_of
from contivctl.errors import ConfigError
from contivctl.k8s.objects import node_config_of

#: examples per property: CI-sized; CONTIV_FUZZ_EXAMPLES asks for a longer run
EXAMPLES = int(os.environ.get("CONTIV_FUZZ_EXAMPLES", "150"))

#: values a YAML file can hold, plus look-alikes of what the settings want
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "10.1.0.0/16",
            "10.1.0.0/33",
            "192.168.16.0/24",
            "::/0",
            "fe80::/10",
            "10.0.0.1",
            "1.2.3.4/24",
            "256.1.1.1",
            "",
            " ",
            "true",
            "0",
            "-1",
            "5s",
            "1h30m",
            "vxlan",
            "nooverlay",
            "eth0",
            "GigabitEthernet0/8/0",
            "0x10",
            "1e9",
        ]
    ),
)
anything = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def shaped(cls: type[Any], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Mappings with keys the schema of ``cls`` knows (any spelling), nested the way it nests."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(cls):
        keys = keys_of(field)
        if not keys:
            continue
        nested, listed = field.metadata.get(_NESTED), field.metadata.get(_LIST_OF)
        if nested is not None and depth < 3:
            value: st.SearchStrategy[Any] = shaped(nested, depth + 1) | anything
        elif listed is not None and depth < 3:
            value = st.lists(shaped(listed, depth + 1) | anything, max_size=3) | anything
        else:
            value = anything
        for key in keys:
            fields[key] = value
    unknown = st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=10), anything, max_size=2)
    return st.builds(
        lambda picked, extra: {**extra, **picked},
        st.fixed_dictionaries({}, optional=fields),
        unknown,
    )


def clear(exc: ConfigError) -> None:
    assert exc.problems, "a ConfigError without a problem"
    for problem in exc.problems:
        assert str(problem).strip(), exc.problems


def dumped(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True)


def mangled(text: str, data: st.DataObject) -> str:
    """The text cut short or with a few characters changed, as a half-saved edit leaves it."""
    if not text:
        return text
    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(":{}[]-#&*!|>'\"%@`,\n\t ", max_size=4))
    return text[:cut] + junk + text[cut:] if data.draw(st.booleans()) else text[:cut]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cfg=shaped(Config), node=st.none() | st.sampled_from(["k8s-worker1", "node-a"]), data=st.data())
def test_a_config_file_loads_or_names_its_problems(
    cfg: dict[str, Any], node: str | None, data: st.DataObject, tmp_path: Path
) -> None:
    text = dumped(cfg)
    if data.draw(st.booleans()):
        text = mangled(text, data)
    path = tmp_path / "contiv.yaml"
    path.write_text(text)
    try:
        load_config(path, node=node)
    except ConfigError as exc:
        clear(exc)


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=anything | shaped(Config))
def test_any_data_parses_as_a_config_or_names_its_problems(data: Any) -> None:
    try:
        parse_config(data)
    except ConfigError as exc:
        clear(exc)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    spec=shaped(NodeConfig) | anything,
    name=st.text(max_size=20),
    metadata=st.sampled_from(["named", "missing", "odd"]),
)
def test_a_node_config_spec_is_read_or_names_its_problems(spec: Any, name: str, metadata: str) -> None:
    obj: dict[str, Any] = {"apiVersion": "nodeconfig.contiv.vpp/v1", "kind": "NodeConfig", "spec": spec}
    if metadata == "named":
        obj["metadata"] = {"name": name}
    elif metadata == "odd":
        obj["metadata"] = {"name": spec}
    try:
        node_config_of(obj)
    except ConfigError as exc:
        clear(exc)


node_entry = st.fixed_dictionaries(
    {},
    optional={
        "id": st.integers(-2, 5) | anything,
        "name": st.sampled_from(["node1", "node2", ""]) | anything,
        "ip": st.sampled_from(["10.88.0.1/24", "10.88.0.1", "::1/128"]) | st.lists(scalars, max_size=3) | anything,
        "management_ip": st.sampled_from(["192.168.1.2", "x"]) | st.lists(scalars, max_size=3) | anything,
    },
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.fixed_dictionaries({"nodes": st.lists(node_entry | anything, max_size=4) | anything}) | anything)
def test_a_nodes_file_parses_or_names_its_problems(data: Any) -> None:
    try:
        nodes = parse_nodes(data)
    except ConfigError as exc:
        clear(exc)
    else:
        assert len({n.id for n in nodes}) == len(nodes) == len({n.name for n in nodes})
