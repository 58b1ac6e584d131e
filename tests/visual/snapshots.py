"""Visual regression helper: stable screenshots, PNG comparison with a tolerance, baselines per chromium major.

How it works
------------
* :func:`stable_screenshot` waits until Dash is idle and the fonts are loaded, moves the mouse away,
  blurs the focused element, freezes CSS animations/transitions and repeats the capture until two
  consecutive PNGs are byte-identical (what Node's ``toHaveScreenshot`` does).
* :func:`compare_png` compares two PNGs: exact bytes first (fast path), then per pixel on RGBA with a
  per-channel ``tolerance`` and at most ``max_diff_pixels`` differing pixels. The Pillow pitfall
  (``ImageChops.difference(a, b).getbbox()`` only looks at alpha for RGBA images) is avoided by
  counting differences on every channel explicitly.
* :class:`SnapshotStore` keeps baselines in ``tests/visual/baselines/chromium-<major>/<name>.png`` with
  ``meta.json`` recording the chromium version they were taken with. A failure writes
  ``<name>.actual.png``, ``<name>.expected.png`` and ``<name>.diff.png`` (changed pixels in red over a
  faded copy of the baseline) to ``tests/visual/__diff__/`` (git-ignored).

Updating baselines
------------------
One command: ``make snapshots-update`` (= ``scripts/test.sh --update-snapshots``, which runs
``pytest -m visual --update-snapshots``). Review the new PNGs with ``git diff --stat tests/visual/baselines``
and commit them together with the UI change. When Debian upgrades chromium to a new major, the
suite fails with "browser upgraded from X to Y — re-baseline with make snapshots-update": that is
not a UI regression; re-run the update command and commit the new ``chromium-<Y>/`` folder (delete
the old one).
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

HERE = Path(__file__).resolve().parent
BASELINE_ROOT = HERE / "baselines"
DIFF_DIR = HERE / "__diff__"
META_FILE = "meta.json"
UPDATE_COMMAND = "make snapshots-update"

#: Per-channel difference (0–255) up to which two pixels count as equal. Chromium renders the same page
#: pixel-identically on one machine, so this only absorbs rounding; a theme colour change moves a channel
#: by far more (keep it small: 16 would let ``#8a5300`` -> ``#7a4a00`` pass unnoticed).
DEFAULT_TOLERANCE = 2
#: Pixels allowed to differ beyond the tolerance before a snapshot fails.
DEFAULT_MAX_DIFF_PIXELS = 20

FREEZE_CSS = """
*, *::before, *::after {
  transition: none !important; transition-duration: 0s !important;
  animation: none !important; animation-duration: 0s !important;
  caret-color: transparent !important; scroll-behavior: auto !important;
}
"""

DASH_IDLE_JS = "() => !document.querySelector('[data-dash-is-loading=\"true\"]')"


# -- capture ----------------------------------------------------------------------------------
def wait_settled(page: Any, timeout_ms: float = 15_000) -> None:
    """Dash idle (no loading component), every font loaded, mouse parked, nothing focused."""
    page.wait_for_function(DASH_IDLE_JS, timeout=timeout_ms)
    page.evaluate("async () => { await document.fonts.ready; }")
    page.mouse.move(0, 0)
    page.evaluate("() => document.activeElement && document.activeElement.blur && document.activeElement.blur()")


def stable_screenshot(page: Any, locator: Any = None, retries: int = 8, **kwargs: Any) -> bytes:
    """A screenshot of ``locator`` (or the page) once two consecutive captures are identical."""
    wait_settled(page)
    opts = {"animations": "disabled", "caret": "hide", "scale": "css", "style": FREEZE_CSS, **kwargs}
    target = locator if locator is not None else page
    previous = target.screenshot(**opts)
    for _ in range(retries):
        page.wait_for_function(DASH_IDLE_JS)
        current = target.screenshot(**opts)
        if current == previous:
            return current
        previous = current
    raise AssertionError(f"the screenshot did not settle after {retries + 1} captures (an animation or a "
                         "late callback keeps changing it)")


# -- comparison -------------------------------------------------------------------------------
@dataclass
class Comparison:
    """The outcome of comparing an actual PNG with its baseline."""

    equal: bool
    identical_bytes: bool = False
    size_mismatch: bool = False
    differing_pixels: int = 0
    total_pixels: int = 0
    diff_image: Image.Image | None = None
    sizes: tuple[tuple[int, int], tuple[int, int]] | None = None  # (actual, expected) when they differ

    def describe(self) -> str:
        if self.identical_bytes:
            return "identical bytes"
        if self.size_mismatch and self.sizes:
            (aw, ah), (ew, eh) = self.sizes
            return f"image sizes differ (actual {aw}x{ah}, baseline {ew}x{eh}; the layout moved)"
        return f"{self.differing_pixels} of {self.total_pixels} pixels differ"


def _rgba(data: bytes | Image.Image) -> Image.Image:
    image = data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data))
    return image.convert("RGBA")


def differing_mask(a: Image.Image, b: Image.Image, tolerance: int) -> Image.Image:
    """An ``L`` mask, 255 where any of R, G, B or A differs by more than ``tolerance``.

    Each channel is checked on its own (``ImageChops.difference(...).getbbox()`` on RGBA images
    would only look at alpha, so two opaque screenshots would always look equal).
    """
    diff = ImageChops.difference(a.convert("RGBA"), b.convert("RGBA"))
    channels = diff.split()
    worst = channels[0]
    for channel in channels[1:]:
        worst = ImageChops.lighter(worst, channel)
    return worst.point(lambda v: 255 if v > tolerance else 0)


def diff_overlay(expected: Image.Image, mask: Image.Image) -> Image.Image:
    """The baseline faded to light grey with the differing pixels in red."""
    base = expected.convert("L").point(lambda v: 180 + v * 75 // 255).convert("RGB")
    red = Image.new("RGB", base.size, (220, 0, 0))
    return Image.composite(red, base, mask)


def compare_png(actual: bytes, expected: bytes, *, tolerance: int = DEFAULT_TOLERANCE,
                max_diff_pixels: int = DEFAULT_MAX_DIFF_PIXELS) -> Comparison:
    """Compare two PNGs: exact bytes first, then pixels (per channel, ``tolerance``, ``max_diff_pixels``)."""
    if actual == expected:
        return Comparison(True, identical_bytes=True)
    a, e = _rgba(actual), _rgba(expected)
    total = e.size[0] * e.size[1]
    if a.size != e.size:
        # compare on a common canvas: whatever only one image covers counts as different
        size = (max(a.size[0], e.size[0]), max(a.size[1], e.size[1]))
        pa, pe = Image.new("RGBA", size, (255, 0, 255, 0)), Image.new("RGBA", size, (0, 255, 0, 0))
        pa.paste(a, (0, 0))
        pe.paste(e, (0, 0))
        mask = differing_mask(pa, pe, tolerance)
        return Comparison(False, size_mismatch=True, total_pixels=total, differing_pixels=mask.histogram()[255],
                          diff_image=diff_overlay(pe, mask), sizes=(a.size, e.size))
    mask = differing_mask(a, e, tolerance)
    count = mask.histogram()[255]
    return Comparison(count <= max_diff_pixels, differing_pixels=count, total_pixels=total,
                      diff_image=diff_overlay(e, mask) if count else None)


# -- baselines --------------------------------------------------------------------------------
def chromium_major(version: str) -> int:
    match = re.match(r"\s*(\d+)", version or "")
    if not match:
        raise ValueError(f"cannot read a major version from {version!r}")
    return int(match.group(1))


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


class BrowserUpgraded(AssertionError):
    """Baselines exist only for another chromium major: re-baseline, this is not a UI regression."""


class SnapshotStore:
    """Baselines of one chromium major; ``update=True`` (re)writes them instead of comparing."""

    def __init__(self, browser_version: str, *, update: bool = False, root: Path = BASELINE_ROOT,
                 diff_dir: Path = DIFF_DIR, tolerance: int = DEFAULT_TOLERANCE,
                 max_diff_pixels: int = DEFAULT_MAX_DIFF_PIXELS) -> None:
        self.version = browser_version
        self.major = chromium_major(browser_version)
        self.update = update
        self.root = Path(root)
        self.dir = self.root / f"chromium-{self.major}"
        self.diff_dir = Path(diff_dir)
        self.tolerance = tolerance
        self.max_diff_pixels = max_diff_pixels
        self.written: list[str] = []

    # -- metadata ---------------------------------------------------------------------------
    def stored_majors(self) -> list[int]:
        out = []
        for child in sorted(self.root.glob("chromium-*")):
            meta = child / META_FILE
            if meta.is_file():
                try:
                    out.append(int(json.loads(meta.read_text())["chromium_major"]))
                except (ValueError, KeyError):
                    continue
        return sorted(out)

    def check_browser(self) -> None:
        """Raise :class:`BrowserUpgraded` when the baselines were taken with another chromium major."""
        if self.update:
            return
        meta = self.dir / META_FILE
        if meta.is_file():
            stored = int(json.loads(meta.read_text())["chromium_major"])
            if stored != self.major:  # a folder copied by hand: the file is the truth
                raise BrowserUpgraded(self._upgrade_message(stored))
            return
        others = [m for m in self.stored_majors() if m != self.major]
        if others:
            raise BrowserUpgraded(self._upgrade_message(max(others)))

    def _upgrade_message(self, stored: int) -> str:
        verb = "upgraded" if stored < self.major else "changed"
        return (f"browser {verb} from {stored} to {self.major} (chromium {self.version}) — re-baseline with "
                f"{UPDATE_COMMAND}; the baselines in {self.root.name}/chromium-{stored}/ were taken with "
                f"chromium {stored}, so this is not a UI regression")

    def write_meta(self, extra: dict[str, Any] | None = None) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = {"chromium_major": self.major, "chromium_version": self.version,
                "update_command": UPDATE_COMMAND, **(extra or {})}
        (self.dir / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    # -- assertions -------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        return self.dir / f"{safe_name(name)}.png"

    def assert_match(self, png: bytes, name: str) -> Comparison | None:
        """Compare ``png`` with the baseline ``name`` (or write it when updating)."""
        target = self.path(name)
        if self.update:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_file() or target.read_bytes() != png:
                target.write_bytes(png)
            self.written.append(target.name)
            return None
        self.check_browser()
        if not target.is_file():
            self._write_failure(name, png, None, None)
            raise AssertionError(f"no baseline {target.relative_to(self.root.parent)}; create it with "
                                 f"{UPDATE_COMMAND}")
        expected = target.read_bytes()
        result = compare_png(png, expected, tolerance=self.tolerance, max_diff_pixels=self.max_diff_pixels)
        if not result.equal:
            written = self._write_failure(name, png, expected, result.diff_image)
            raise AssertionError(f"snapshot {name!r} differs from its baseline: {result.describe()} "
                                 f"(tolerance {self.tolerance}/255 per channel, at most {self.max_diff_pixels} "
                                 f"pixels); see {', '.join(written)}. If the change is intended: "
                                 f"{UPDATE_COMMAND}")
        return result

    def _write_failure(self, name: str, actual: bytes, expected: bytes | None,
                       diff: Image.Image | None) -> list[str]:
        self.diff_dir.mkdir(parents=True, exist_ok=True)
        stem = safe_name(name)
        out = []
        (self.diff_dir / f"{stem}.actual.png").write_bytes(actual)
        out.append(os.path.relpath(self.diff_dir / f"{stem}.actual.png"))
        if expected is not None:
            (self.diff_dir / f"{stem}.expected.png").write_bytes(expected)
            out.append(os.path.relpath(self.diff_dir / f"{stem}.expected.png"))
        if diff is not None:
            diff.save(self.diff_dir / f"{stem}.diff.png")
            out.append(os.path.relpath(self.diff_dir / f"{stem}.diff.png"))
        return out
