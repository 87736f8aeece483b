"""The error tree in ``contivctl/errors.py`` holds every product error, and its drawing is the truth.

The CLI prints a :class:`ContivError` and exits; anything else a user meets
is a traceback. And the drawing is where a reader learns what can go wrong,
so a class missing from it, or drawn under another parent, misleads.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import contivctl
from contivctl import errors
from contivctl.errors import ContivError

#: Packages with errors of their own on purpose: the reconciler is generic and
#: imports no product module; test infrastructure is not the product.
OWN_TREES = ("contivctl.reconcile", "contivctl.testing")

#: Product errors still outside the tree, each with the reason; the test fails
#: once one has joined, so that the entry goes.
OUTSIDE: dict[str, str] = {
    "contivctl.cni.server.StatusError": "the gRPC status a CNI call ends with: raised and caught inside the server",
    "contivctl.stnd.daemon.StatusError": "the gRPC status an STN call ends with: raised and caught inside the daemon",
    "contivctl.cni.delqueue.NotQueuedDelete": "a queue file that is no DEL: raised and caught by the drain, set aside",
}

#: ContivError subclasses not drawn yet, likewise.
UNDRAWN: dict[str, str] = {}


def product_errors() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(contivctl.__path__, "contivctl."):
        name = info.name
        if name.startswith(OWN_TREES) or name.rsplit(".", 1)[-1] == "__main__":
            continue
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == name:
                found[f"{name}.{obj.__qualname__}"] = obj
    return found


def drawing() -> dict[str, str | None]:
    """Class name → parent name, read from the tree in the module docstring."""
    assert errors.__doc__ is not None
    lines = errors.__doc__.split("::", 1)[1].strip("\n").splitlines()
    tree: dict[str, str | None] = {}
    path: list[str] = []
    for line in lines:
        if not line.strip():
            break
        if line.strip() == "ContivError":
            tree["ContivError"] = None
            path = ["ContivError"]
            continue
        m = re.match(r"^\s{4}((?:[│ ]   )*)[├└]── (\w+)", line)
        assert m is not None, f"not a tree line: {line!r}"
        depth = len(m.group(1)) // 4 + 1
        name = m.group(2)
        assert name not in tree, f"{name} drawn twice"
        del path[depth:]
        tree[name] = path[-1]
        path.append(name)
    return tree


def test_every_product_error_derives_from_contiv_error() -> None:
    found = product_errors()
    outside = sorted(k for k, cls in found.items() if not issubclass(cls, ContivError) and k not in OUTSIDE)
    assert not outside, f"errors outside the tree of contivctl.errors: {outside}"
    joined = sorted(k for k in OUTSIDE if k not in found or issubclass(found[k], ContivError))
    assert not joined, f"no longer outside the tree (or gone): drop them from OUTSIDE: {joined}"


def test_the_drawing_shows_every_class_under_its_parent() -> None:
    tree = drawing()
    found = {k: cls for k, cls in product_errors().items() if issubclass(cls, ContivError)}
    undrawn = sorted(k for k, cls in found.items() if cls.__name__ not in tree and k not in UNDRAWN)
    assert not undrawn, f"ContivError subclasses missing from the drawing in contivctl/errors.py: {undrawn}"
    stale = sorted(k for k in UNDRAWN if k not in found or found[k].__name__ in tree)
    assert not stale, f"drawn now (or gone): drop them from UNDRAWN: {stale}"
    by_name = {cls.__name__: cls for cls in found.values()}
    for name, parent in tree.items():
        assert name in by_name, f"{name} is drawn but no such ContivError subclass exists"
        if parent is not None:
            assert by_name[name].__bases__ == (by_name[parent],), f"{name} is drawn under {parent}"


def test_drawing_parser_reads_depth_and_parent() -> None:
    tree = drawing()
    assert tree["ContivError"] is None
    assert tree["DataplaneError"] == "ContivError"
    assert tree["VPPTimeout"] == "VPPError"
    assert tree["LinkNotFound"] == "LinuxError"
    assert tree["RecordError"] == "ClusterError"
