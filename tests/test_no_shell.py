"""No shell, and no command line glued together from strings, anywhere in the product.

A CNI request, a Kubernetes object or a REST body carries names and paths
that reach commands (``nft``, ``nsenter``, the demo's ``ip``); passed as an
argument vector they are only ever arguments. A shell, or a command built
as one string, would let a crafted name run something. This reads every
module of ``contivctl`` (its syntax tree, not its text) and names each
place that would.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "contivctl"

#: calls that run their argument through a shell, whatever it is
SHELL_CALLS = {
    ("os", "system"),
    ("os", "popen"),
    ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"),
    ("asyncio", "create_subprocess_shell"),
}
#: methods that do the same on any object (an event loop)
SHELL_METHODS = {"subprocess_shell"}
#: calls that run a program from an argument vector
EXEC_CALLS = {
    ("subprocess", "run"),
    ("subprocess", "Popen"),
    ("subprocess", "call"),
    ("subprocess", "check_call"),
    ("subprocess", "check_output"),
    ("asyncio", "create_subprocess_exec"),
    ("os", "execv"),
    ("os", "execvp"),
    ("os", "execve"),
    ("os", "spawnv"),
}


def _name(func: ast.expr) -> tuple[str, str] | None:
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id, func.attr
    return None


def _built_string(node: ast.expr) -> bool:
    """An f-string, a concatenation, a ``%`` or a ``.format`` of strings: text made from values."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return _stringy(node.left) or _stringy(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
        return isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str)
    return False


def _stringy(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def problems_in(source: str, where: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source, where)):
        if not isinstance(node, ast.Call):
            continue
        line = f"{where}:{node.lineno}"
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                found.append(f"{line}: shell= other than False")
        name = _name(node.func)
        if name in SHELL_CALLS or (isinstance(node.func, ast.Attribute) and node.func.attr in SHELL_METHODS):
            what = ".".join(name) if name else ast.unparse(node.func)
            found.append(f"{line}: {what}() runs a shell")
        if name in EXEC_CALLS and node.args:
            program = node.args[0]
            if _built_string(program):
                found.append(f"{line}: {'.'.join(name)}() of a command built as one string")
            elif isinstance(program, ast.Constant) and isinstance(program.value, str) and " " in program.value:
                found.append(f"{line}: {'.'.join(name)}() of a command line in one string")
    return found


def test_the_product_runs_no_shell_and_builds_no_command_line() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += problems_in(path.read_text(), str(path.relative_to(PACKAGE.parent)))
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "import subprocess\nsubprocess.run(cmd, shell=True)",
        "import os\nos.system('ip link del ' + name)",
        "import subprocess\nsubprocess.Popen(f'nft -f {path}')",
        "import subprocess\nsubprocess.check_output('ip -j link show')",
        "import subprocess\nsubprocess.run(' '.join(argv))",
        "import asyncio\nasyncio.create_subprocess_shell(cmd)",
        "loop.subprocess_shell(factory, cmd)",
    ],
)
def test_each_kind_of_shell_is_found(source: str) -> None:
    assert problems_in(source, "x.py")


def test_an_argument_vector_is_fine() -> None:
    ok = "import subprocess, asyncio\nsubprocess.run(['ip', 'link', 'del', name], check=False)\n"
    ok += "asyncio.create_subprocess_exec('nft', '-f', '-', stdin=PIPE)\nsubprocess.run(argv, shell=False)\n"
    assert problems_in(ok, "x.py") == []
