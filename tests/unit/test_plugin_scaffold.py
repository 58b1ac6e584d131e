"""``moviepulse new-plugin``: names, rendered files, the command, and the generated tests passing."""

from __future__ import annotations

import configparser
import importlib
import subprocess
import sys

import pytest

from moviepulse.scaffold import create, plugin_names, render


def test_plugin_names_are_normalised():
    names = plugin_names("Moviepulse Watch-Time 2")
    assert (names.slug, names.name, names.dist, names.package) == (
        "watch-time-2", "watch_time_2", "moviepulse-watch-time-2", "moviepulse_watch_time_2")
    assert (names.env, names.cls, names.title) == ("WATCH_TIME_2", "WatchTime2", "Watch Time 2")


@pytest.mark.parametrize("bad", ["", "  ", "2fast", "moviepulse", "---"])
def test_plugin_names_reject_unusable_names(bad):
    with pytest.raises(ValueError):
        plugin_names(bad)


def test_rendered_package_declares_the_entry_point():
    files = render("box office")
    assert set(files) >= {"pyproject.toml", "setup.cfg", "README.md",
                          "moviepulse_box_office/__init__.py", "tests/test_box_office.py"}
    cfg = configparser.ConfigParser()
    cfg.read_string(files["setup.cfg"])
    assert cfg["metadata"]["name"] == "moviepulse-box-office"
    assert cfg["options.entry_points"]["moviepulse"].strip() == "box_office = moviepulse_box_office"
    assert "{{" not in "".join(files.values())
    assert "MOVIEPULSE_API = 1" in files["moviepulse_box_office/__init__.py"]


def test_generated_code_is_ruff_clean(tmp_path):
    root = create("lint me", tmp_path)
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "B,E,F,I,UP,W",
                             str(root)], capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_tests_pass_out_of_the_box(tmp_path, monkeypatch):
    root = create("scaffold check", tmp_path)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.syspath_prepend(str(root / "tests"))
    module = importlib.import_module("test_scaffold_check")
    try:
        tests = [getattr(module, n) for n in dir(module) if n.startswith("test_")]
        assert len(tests) == 6
        for test in tests:
            test()
    finally:
        for name in ("test_scaffold_check", "moviepulse_scaffold_check"):
            sys.modules.pop(name, None)


def test_new_plugin_command(make_app, tmp_path):
    runner = make_app(only_plugins=["core"]).test_cli_runner()
    result = runner.invoke(args=["new-plugin", "night owls", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "moviepulse-night-owls" / "moviepulse_night_owls" / "__init__.py").is_file()
    assert "pip install -e" in result.output
    again = runner.invoke(args=["new-plugin", "night owls", "--directory", str(tmp_path)])
    assert again.exit_code != 0 and "--force" in again.output
    forced = runner.invoke(args=["new-plugin", "night owls", "--directory", str(tmp_path), "--force"])
    assert forced.exit_code == 0


def test_new_plugin_command_is_registered_by_core(make_app):
    app = make_app(only_plugins=["core"])
    core = {p["name"]: p for p in app.extensions["moviepulse"].describe_plugins()}["core"]
    assert "new-plugin" in core["registered"]["commands"]
