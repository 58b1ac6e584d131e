"""Documentation that must not drift from the code: the README's settings table, docs/architecture.md."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_settings_table_lists_every_declared_setting():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "update_readme_settings.py"), "--check"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, "README settings table is stale: run .venv/bin/python scripts/update_readme_settings.py"


def test_architecture_doc_names_every_package_and_builtin_plugin():
    from moviepulse.core.plugins import DEFAULT_PLUGINS

    text = (ROOT / "docs" / "architecture.md").read_text()
    for package in ("core", "models", "migrations", "tasks", "plugins", "site", "ssr", "ingestion", "analytics",
                    "dash_app", "upstreams", "demo"):
        assert package in text, package
    for name, _module in DEFAULT_PLUGINS:
        assert f"`{name}`" in text, f"built-in plugin {name} is not described in docs/architecture.md"
