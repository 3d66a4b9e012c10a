"""The shape of the code, checked: no import cycles between the project's own modules, and
the permission rules in one module only (docs/architecture.md)."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from django.conf import settings

PACKAGES = ("accounts", "mailings", "home", "blog", "site_config")
ROOT = Path(settings.BASE_DIR)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file (in functions too: a
    function-level import hides a cycle, it does not remove it)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target.partition(".")[0] in PACKAGES:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph = defaultdict(set)
    for name, path in modules.items():
        graph[name] |= imports_of(name, path, modules)
    return graph


def test_the_project_has_no_import_cycle():
    graph = import_graph()

    assert len(graph) > 50  # the walk found the project
    assert graph["mailings.sending"] >= {"mailings.queue", "mailings.ledger", "mailings.smtp"}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = defaultdict(set, {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})

    assert cycles(graph) == [["a", "b", "c"]]


# Asking "may this user…" or narrowing rows to an owner by hand, outside the policy.
PERMISSION_CHECKS = re.compile(
    r"MODERATE_PERMISSION|mailings\.moderate_mailing|has_perm\(|"
    r"\.(?:filter|exclude|get)\([^)]*(?:\b|__)owner(?:_id|__pk|__id)?=|\bowner_id\s*==",
)


def test_only_the_permission_policy_knows_who_may_see_what():
    offenders = []
    for path in sorted((ROOT / "mailings").rglob("*.py")):
        if path.name == "permissions.py" or "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if PERMISSION_CHECKS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")

    assert offenders == []


# The send path in modules of one job each (docs/architecture.md): none grows past 300 lines.
SEND_PATH = ("sending", "queue", "ledger", "composing", "smtp")


def test_no_module_of_the_send_path_is_over_300_lines():
    sizes = {
        name: len((ROOT / "mailings" / f"{name}.py").read_text().splitlines()) for name in SEND_PATH
    }

    assert {name: n for name, n in sizes.items() if n > 300} == {}
