"""The packages' lazy exports: each table, the names type checkers see, and what loads."""

import ast
import importlib
from pathlib import Path

import pytest

import convcli

# Each package that loads names on first use, its table, and how a table's entry names a module.
LAZY_TABLES = {
    "convcli": ("_LAZY", lambda home: home),
    "convcli.engine": ("_HOMES", lambda home: f"convcli.engine.{home}"),
    "convcli.distributed": ("_HOMES", lambda home: f"convcli.distributed.{home}"),
}


def _type_checking_imports(package: str) -> dict[str, str]:
    """Map each name imported under `if TYPE_CHECKING:` in a package's __init__ to its module."""
    source = Path(importlib.import_module(package).__file__).read_text()
    names = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                for alias in statement.names:
                    names[alias.asname or alias.name] = statement.module
    return names


def _table(package: str) -> dict[str, str]:
    attribute, module_of = LAZY_TABLES[package]
    table = getattr(importlib.import_module(package), attribute)
    return {name: module_of(home) for name, home in table.items()}


@pytest.mark.parametrize("package", sorted(LAZY_TABLES))
def test_a_lazy_table_names_what_type_checkers_see(package):
    assert _table(package) == _type_checking_imports(package)


@pytest.mark.parametrize("package", sorted(LAZY_TABLES))
def test_every_lazy_name_loads_from_its_module_and_is_exported(package):
    module = importlib.import_module(package)
    for name, home in _table(package).items():
        assert getattr(module, name) is getattr(importlib.import_module(home), name)
        assert name in module.__all__


def test_the_package_names_only_its_own_lazy_tables():
    # A new lazy table (a module-level __getattr__) belongs in LAZY_TABLES above.
    root = Path(convcli.__file__).parent
    lazy = {
        ".".join(("convcli", *path.parent.relative_to(root).parts))
        for path in root.rglob("__init__.py")
        if "def __getattr__(" in path.read_text()
    }
    assert lazy == set(LAZY_TABLES)


# Issue 26: modules and functions small enough to read whole. A body is counted from its first
# statement after the docstring to its last line (comments and blank lines inside count).
MAX_MODULE_LINES = 600
MAX_BODY_LINES = 50


def _sources() -> dict[str, str]:
    """Each module of the package, by its path in it, and its text."""
    root = Path(convcli.__file__).parent
    return {str(path.relative_to(root)): path.read_text() for path in sorted(root.rglob("*.py"))}


def _body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = function.body
    if ast.get_docstring(function, clean=False) is not None:
        body = body[1:]
    return function.end_lineno - body[0].lineno + 1 if body else 0


def test_no_module_is_over_600_lines():
    lines = {name: len(text.splitlines()) for name, text in _sources().items()}
    assert {name: n for name, n in lines.items() if n > MAX_MODULE_LINES} == {}


def test_no_function_body_is_over_50_lines():
    lengths = {
        f"{name}:{node.lineno} {node.name}": _body_lines(node)
        for name, text in _sources().items()
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assert {where: n for where, n in lengths.items() if n > MAX_BODY_LINES} == {}


def test_a_body_is_counted_after_its_docstring():
    source = (
        'def f():\n    """Say what f does.\n\n    At length.\n    """\n    x = 1\n\n    return x\n'
    )
    (function,) = ast.parse(source).body
    assert _body_lines(function) == 3
