"""The package's import graph has no cycle, imports under ``TYPE_CHECKING`` included.

A cycle hidden behind ``TYPE_CHECKING`` still ties the modules together: none
of them can be read, moved or tested without the others. So the graph is
built the way a reader sees the code, with every import counted.
"""

from __future__ import annotations

from collections.abc import Iterable

import grimp


def cycles(graph: grimp.ImportGraph, modules: Iterable[str]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing itself), sorted.

    Tarjan's algorithm, iterative so that a deep import chain cannot hit the
    recursion limit.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(modules):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.find_modules_directly_imported_by(succ)))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph.find_modules_directly_imported_by(node):
                        found.append(sorted(component))
    return sorted(found)


def describe(graph: grimp.ImportGraph, component: list[str]) -> str:
    """The imports that close a cycle, with their lines, so the failure says where to cut."""
    members = set(component)
    lines = ["a cycle among " + ", ".join(component)]
    for importer in component:
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
            for detail in graph.get_import_details(importer=importer, imported=imported):
                lines.append(f"    {importer}:{detail['line_number']}: {detail['line_contents']}")
    return "\n".join(lines)


def test_no_import_cycle() -> None:
    graph = grimp.build_graph("contivctl", exclude_type_checking_imports=False)
    found = cycles(graph, graph.modules)
    assert not found, "import cycles in contivctl:\n" + "\n".join(describe(graph, c) for c in found)


def test_cycles_finds_every_cycle_and_only_cycles() -> None:
    """The check above is only as good as the cycle finder: it must see a cycle wherever there is one."""
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),  # a -> b -> c -> a
        ("p.c", "p.d"),  # d hangs off the cycle without being part of it
        ("p.e", "p.f"),
        ("p.f", "p.e"),  # a second, separate cycle
        ("p.g", "p.g"),  # a module importing itself
        ("p.h", "p.a"),  # h reaches the cycle but nothing leads back to it
    ]:
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    assert cycles(graph, graph.modules) == [["p.a", "p.b", "p.c"], ["p.e", "p.f"], ["p.g"]]
    assert "p.c:1: import p.a" in describe(graph, ["p.a", "p.b", "p.c"])

    graph.remove_import(importer="p.c", imported="p.a")
    assert cycles(graph, graph.modules) == [["p.e", "p.f"], ["p.g"]]
