"""The layout is a rule: import-linter contracts, no import cycles, small modules."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import grimp
import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "hitcount"
#: Modules over this many lines hold two concepts: split them by concept.
MAX_MODULE_LINES = 450
#: Modules directly in `hitcount/` (the package, its entry point, errors, version).
MAX_TOP_LEVEL_MODULES = 8


def test_import_linter_contracts_are_kept() -> None:
    if shutil.which("lint-imports") is None:
        pytest.fail("import-linter is not installed: pip install -e '.[test]'")
    result = subprocess.run(
        ["lint-imports", "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_import_cycles_between_modules() -> None:
    graph = grimp.build_graph("hitcount", exclude_type_checking_imports=True)
    cycles = sorted(
        f"{importer} -> {imported}"
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if graph.chain_exists(importer=imported, imported=importer)
    )
    assert cycles == []


def test_modules_stay_small() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_few_modules_sit_directly_in_the_package() -> None:
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_every_package_folder_has_an_init() -> None:
    folders = [p for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__"]
    missing = [f for f in folders if any(f.glob("*.py")) and not (f / "__init__.py").exists()]
    assert missing == []


def test_code_never_refers_to_documents_outside_the_project() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in [*PACKAGE.rglob("*.py"), *Path(ROOT / "docs").rglob("*.md")]
        if "SPEC.md" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
