"""Guard tests: the plugin documentation and the hook tests cannot fall behind the code.

* every hook in ``moviepulse/core/hookspecs.py`` has a ``## <hook>`` section in
  ``docs/plugins/hooks.md`` that shows its exact signature, and a ``test_hook_<hook>`` test;
* the page documents no hook that does not exist;
* ``docs/plugins/api.md`` lists exactly the public names of ``moviepulse`` and ``moviepulse.testing``.
"""

from __future__ import annotations

import functools
import inspect
import re
from pathlib import Path

import pytest

from moviepulse.core import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS_MD = ROOT / "docs" / "plugins" / "hooks.md"
API_MD = ROOT / "docs" / "plugins" / "api.md"

HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if callable(fn) and hasattr(fn, "moviepulse_spec"))


def _sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## +", markdown, flags=re.M)[1:]
    return {part.split("\n", 1)[0].strip(): part for part in parts}


def _test_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^\s*def (test_hook_\w+)\(", path.read_text(), flags=re.M))
    return names


def test_hookspecs_found():
    assert len(HOOKS) >= 18 and "register_widgets" in HOOKS and "prepare_figure" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_with_its_signature(hook):
    sections = _sections(HOOKS_MD.read_text())
    assert hook in sections, f"docs/plugins/hooks.md has no '## {hook}' section"
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"def {hook}({params})" in sections[hook], f"section {hook} does not show def {hook}({params})"
    assert "@hookimpl" in sections[hook], f"section {hook} has no example"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    names = _test_names()
    assert any(n == f"test_hook_{hook}" or n.startswith(f"test_hook_{hook}_") for n in names), \
        f"no test named test_hook_{hook}[_...] under tests/"


def test_hooks_page_documents_no_unknown_hook():
    documented = set(_sections(HOOKS_MD.read_text()))
    assert documented - set(HOOKS) == set()


def test_api_page_lists_the_public_api():
    import moviepulse
    import moviepulse.testing

    text = API_MD.read_text()
    listed = set(re.findall(r"^\| `([\w.]+)`", text, flags=re.M))
    public = {f"moviepulse.{n}" for n in moviepulse.__all__} | {
        f"moviepulse.testing.{n}" for n in moviepulse.testing.__all__}
    assert public - listed == set(), "public names missing from docs/plugins/api.md"
    assert f"HOOK_API_VERSION = {moviepulse.HOOK_API_VERSION}" in text


def _resolve(dotted: str):
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_every_name_on_the_api_page_exists():
    listed = re.findall(r"^\| `(moviepulse[\w.]*)`", API_MD.read_text(), flags=re.M)
    assert len(listed) > 40
    missing = []
    for name in listed:
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert missing == []


def test_every_public_name_resolves():
    import moviepulse

    for name in moviepulse.__all__:
        assert getattr(moviepulse, name) is not None, name


@functools.cache
def _builtin_implementers() -> dict[str, set[str]]:
    from moviepulse.core.plugins import make_plugin_manager

    pm = make_plugin_manager(load_entrypoints=False)
    return {hook: {impl.plugin_name for impl in getattr(pm.hook, hook).get_hookimpls()} for hook in HOOKS}


@pytest.mark.parametrize("hook", HOOKS)
def test_hooks_page_names_the_built_ins_that_implement_each_hook(hook):
    from moviepulse.core.plugins import DEFAULT_PLUGINS

    builtin_names = {name for name, _module in DEFAULT_PLUGINS}
    section = _sections(HOOKS_MD.read_text())[hook]
    match = re.search(r"\*\*Implemented by built-ins:\*\*(.*?)(?:\n\n|\Z)", section, flags=re.S)
    assert match, f"section {hook} has no '**Implemented by built-ins:**' line"
    claimed = set(re.findall(r"`([\w]+)`", match.group(1))) & builtin_names
    assert claimed == _builtin_implementers()[hook], f"hooks.md is out of date for {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hooks_page_names_the_module_that_calls_event_hooks(hook):
    section = _sections(HOOKS_MD.read_text())[hook]
    match = re.search(r"\*\*(?:Emitted|Called) by:\*\* `([\w/.]+\.py)`", section)
    if match is None:
        assert not hook.endswith(("_recorded", "_completed", "_event", "_detected")), f"{hook}: who emits it?"
        return
    source = (ROOT / match.group(1)).read_text()
    assert f'emit("{hook}"' in source or f"hook.{hook}(" in source, f"{match.group(1)} does not call {hook}"
