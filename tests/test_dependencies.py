"""Every library the code imports is declared, so a fresh install runs what the tests ran."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "mailwatch"


def declared(requirements: list[str]) -> set[str]:
    return {_normal(re.split(r"[<>=~!\[; ]", req, maxsplit=1)[0]) for req in requirements}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions(files: list[Path]) -> set[str]:
    owners = packages_distributions()
    found: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "mailwatch" or top in sys.stdlib_module_names:
                    continue
                found.update(_normal(dist) for dist in owners.get(top, [top]))
    return found


def test_runtime_imports_are_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = declared(project["dependencies"])
    files = [
        p
        for p in SRC.rglob("*.py")
        if "demo" not in p.relative_to(SRC).parts
        and p not in REPORT_EXTRA_MODULES
        and p not in POSTGRESQL_EXTRA_MODULES
    ]
    assert imported_distributions(files) - runtime == set()


REPORT_EXTRA_MODULES = [SRC / "report" / "pdf.py"]
"""Modules that import the report extra's libraries (WeasyPrint), only when a PDF is asked for."""

POSTGRESQL_EXTRA_MODULES = [SRC / "store" / "server_connection.py"]
"""Modules that import the postgresql extra's driver (asyncpg), only for a PostgreSQL URL."""


def test_driver_imports_are_in_the_postgresql_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    allowed = declared(project["dependencies"]) | declared(
        project["optional-dependencies"]["postgresql"]
    )
    assert imported_distributions(POSTGRESQL_EXTRA_MODULES) - allowed == set()


def test_pdf_imports_are_in_the_report_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    allowed = declared(project["dependencies"]) | declared(
        project["optional-dependencies"]["report"]
    )
    assert imported_distributions(REPORT_EXTRA_MODULES) - allowed == set()


def test_demo_imports_are_in_the_demo_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    allowed = declared(project["dependencies"]) | declared(project["optional-dependencies"]["demo"])
    assert imported_distributions(list((SRC / "demo").rglob("*.py"))) - allowed == set()
