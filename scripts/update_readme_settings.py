"""Rewrite the configuration table in README.md from the settings plugins declare."""

from __future__ import annotations

import pathlib
import re
import sys

from moviepulse.app import create_app
from moviepulse.plugins.core import settings_markdown

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- settings-table:start -->\n).*?(<!-- settings-table:end -->)", re.S)


def render() -> str:
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", LOAD_ENTRYPOINT_PLUGINS=False)
    return BLOCK.sub(lambda m: m.group(1) + settings_markdown(app.extensions["moviepulse"]) + "\n" + m.group(2),
                     README.read_text())


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if text == README.read_text() else 1)
    README.write_text(text)
