"""The dialogs read through core.views and change through core operations, never the store."""

from __future__ import annotations

import ast
from pathlib import Path

import c3desk.ui.dialogs as dialogs

PACKAGE = Path(dialogs.__file__).parent
FORBIDDEN = ("peewee", "playhouse", "c3desk.store")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_one_module_per_dialog() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert {"common", "new_session", "settings", "workers"} <= modules
    assert dialogs.NewSessionDialog.__module__ == "c3desk.ui.dialogs.new_session"
    assert dialogs.SettingsDialog.__module__ == "c3desk.ui.dialogs.settings"
    assert dialogs.WorkersDialog.__module__ == "c3desk.ui.dialogs.workers"


def test_public_names_are_re_exported() -> None:
    for name in dialogs.__all__:
        assert getattr(dialogs, name) is not None, name


def test_no_dialog_module_imports_the_store_or_peewee() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        imported = imported_modules(path)
        assert "c3desk.core.views.dialogs" in imported or path.stem in ("__init__", "common")
        bad = sorted(m for m in imported if m.startswith(FORBIDDEN))
        assert not bad, f"{path.name} imports {bad}"
