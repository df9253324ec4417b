"""The layering of the library, checked on its source with ``ast``: no import cycles, the embedded
world never imports the client-side sensors, no module reaches into another's underscore members,
nothing registers itself by being imported, and no file grows past 600 lines."""

from __future__ import annotations

import ast
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "rllib_integration"
MAX_LINES = 600


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in MODULES.items()}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def imported_modules(name: str, tree: ast.Module) -> dict[str, int]:
    """Modules of the package that ``name`` imports (at any depth, type-checking imports included),
    with the line of the first import."""
    found: dict[str, int] = {}
    base = name.split(".") if is_package(name) else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module
            targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in MODULES else origin
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in MODULES and target != name:
                found.setdefault(target, node.lineno)
    return found


GRAPH = {name: imported_modules(name, tree) for name, tree in TREES.items()}


def test_no_import_cycles():
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in GRAPH[node]:
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_embedded_world_never_imports_the_client_side_sensors():
    offenders = [f"{name} (line {line})" for name, targets in GRAPH.items() if name.startswith(f"{PACKAGE}.embedded")
                 for target, line in targets.items() if target.startswith(f"{PACKAGE}.sensors")]
    assert not offenders, f"embedded modules importing {PACKAGE}.sensors: {offenders}"


def own_private_names(tree: ast.Module) -> set[str]:
    """Underscore names a module defines: its module-level names, and its classes' methods and
    attributes (``self._x = ...``, class-level ``_x``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names.add(leaf.id)
                    elif isinstance(leaf, ast.Attribute) and isinstance(leaf.value, ast.Name) \
                            and leaf.value.id in ("self", "cls"):
                        names.add(leaf.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_no_module_reaches_into_another_modules_underscore_members():
    offenders = []
    for name, tree in TREES.items():
        own = own_private_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                    continue
                if node.attr not in own:
                    offenders.append(f"{name}:{node.lineno} .{node.attr}")
            elif isinstance(node, ast.ImportFrom):
                offenders += [f"{name}:{node.lineno} imports {alias.name}" for alias in node.names
                              if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not offenders, "access to other modules' underscore members:\n" + "\n".join(offenders)


def module_level_statements(tree: ast.Module):
    """Statements that run when the module is imported (bodies of functions and classes excluded)."""
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node  # its decorators run at import
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            pending += [child for child in getattr(node, field, []) if isinstance(child, ast.AST)]


def root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def test_nothing_registers_itself_by_being_imported():
    offenders = []
    for name, tree in TREES.items():
        imported = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
        for node in module_level_statements(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                offenders += [f"{name}:{node.lineno} @{ast.unparse(d)}" for d in node.decorator_list
                              if "register" in ast.unparse(d)]
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                offenders += [f"{name}:{node.lineno} {ast.unparse(t)} = ..." for t in targets
                              if not isinstance(t, ast.Name) and root_name(t) in imported]
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and root_name(node.value) in imported:
                offenders.append(f"{name}:{node.lineno} {ast.unparse(node.value)}")
    assert not offenders, "import-time registrations or changes to other modules:\n" + "\n".join(offenders)


def tracked_python_files() -> list[pathlib.Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [ROOT / line for line in listed.stdout.split()]


def test_no_python_file_over_600_lines():
    long = [f"{path.relative_to(ROOT)} ({count} lines)" for path in tracked_python_files()
            if path.is_file() and (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not long, f"files over {MAX_LINES} lines: {long}"
