"""Fill the templates for one plugin name and write them to disk."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from moviepulse.scaffold.names import PluginNames, plugin_names
from moviepulse.scaffold.templates import TEMPLATES


def _fill(text: str, names: PluginNames) -> str:
    from moviepulse import HOOK_API_VERSION, __version__

    values = {**asdict(names), "api": str(HOOK_API_VERSION), "moviepulse_version": __version__}
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def render(name: str) -> dict[str, str]:
    """``{relative path: file text}`` for the plugin called ``name``."""
    names = plugin_names(name)
    return {_fill(path, names): _fill(text, names) for path, text in TEMPLATES.items()}


def create(name: str, directory: str | Path = ".", force: bool = False) -> Path:
    """Write ``<directory>/moviepulse-<slug>/``; refuses to overwrite unless ``force``."""
    names = plugin_names(name)
    root = Path(directory) / names.dist
    if root.exists() and any(root.iterdir()) and not force:
        raise FileExistsError(f"{root} exists and is not empty (use --force to overwrite)")
    for rel, text in render(name).items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root
