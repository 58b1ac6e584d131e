"""The names a plugin goes by: distribution, import package, entry-point name, task prefix."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PluginNames:
    """``plugin_names("Watch time")`` -> dist ``moviepulse-watch-time``, package ``moviepulse_watch_time``."""

    slug: str      # watch-time      (URLs, widget and page slugs)
    name: str      # watch_time      (entry-point name = plugin name; task prefix; blueprint prefix)
    dist: str      # moviepulse-watch-time
    package: str   # moviepulse_watch_time
    title: str     # Watch Time
    env: str       # WATCH_TIME      (prefix of the plugin's config keys)
    cls: str       # WatchTime       (class name prefix)


def plugin_names(raw: str) -> PluginNames:
    words = re.findall(r"[a-z0-9]+", raw.strip().lower())
    if words[:1] == ["moviepulse"]:
        words = words[1:]
    if not words or not words[0][0].isalpha():
        raise ValueError(f"plugin name {raw!r} must start with a letter (e.g. 'watch-time')")
    slug = "-".join(words)
    return PluginNames(
        slug=slug,
        name="_".join(words),
        dist=f"moviepulse-{slug}",
        package="moviepulse_" + "_".join(words),
        title=" ".join(w.capitalize() for w in words),
        env="_".join(words).upper(),
        cls="".join(w.capitalize() for w in words),
    )
