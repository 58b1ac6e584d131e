"""``moviepulse new-plugin NAME``: write a ready-to-install plugin package from templates.

``render(name)`` returns ``{relative path: text}``; ``create(name, directory)`` writes it.
The templates live in ``moviepulse.scaffold.templates`` as plain strings (no packaging data
files to forget) and the generated package's own test passes as soon as it is written.
"""

from __future__ import annotations

from moviepulse.scaffold.names import PluginNames, plugin_names
from moviepulse.scaffold.render import create, render

__all__ = ["PluginNames", "create", "plugin_names", "render"]
