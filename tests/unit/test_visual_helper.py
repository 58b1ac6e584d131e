"""The visual regression helper (tests/visual/snapshots.py): pixel comparison, diff images, baselines."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image, ImageChops

from tests.visual.snapshots import (
    BrowserUpgraded,
    SnapshotStore,
    chromium_major,
    compare_png,
    differing_mask,
)


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def canvas(color=(255, 255, 255, 255), size=(40, 30)) -> Image.Image:
    return Image.new("RGBA", size, color)


def test_one_changed_pixel_is_detected_even_though_getbbox_misses_it():
    a = canvas()
    b = a.copy()
    b.putpixel((7, 5), (250, 0, 0, 255))  # opaque: alpha unchanged
    # The pitfall: on RGBA, getbbox() of the difference only looks at alpha -> "identical".
    assert ImageChops.difference(a, b).getbbox() is None
    result = compare_png(png(b), png(a), tolerance=0, max_diff_pixels=0)
    assert not result.equal
    assert result.differing_pixels == 1
    assert result.total_pixels == 40 * 30
    mask = differing_mask(a, b, 0)
    assert mask.getbbox() == (7, 5, 8, 6)
    assert result.diff_image is not None and result.diff_image.getpixel((7, 5)) == (220, 0, 0)


def test_each_channel_counts():
    a = canvas((10, 20, 30, 255))
    for changed in [(10, 20, 90, 255), (10, 90, 30, 255), (90, 20, 30, 255), (10, 20, 30, 100)]:
        b = a.copy()
        b.putpixel((0, 0), changed)
        assert compare_png(png(b), png(a), tolerance=16, max_diff_pixels=0).differing_pixels == 1


def test_tolerance_and_max_diff_pixels():
    a = canvas()
    b = a.copy()
    b.putpixel((1, 1), (250, 250, 250, 255))  # 5 below white
    assert compare_png(png(b), png(a), tolerance=16, max_diff_pixels=0).equal
    assert not compare_png(png(b), png(a), max_diff_pixels=0).equal  # the default tolerance is strict
    c = a.copy()
    for x in range(3):
        c.putpixel((x, 2), (0, 0, 0, 255))
    assert compare_png(png(c), png(a), tolerance=16, max_diff_pixels=3).equal
    assert not compare_png(png(c), png(a), tolerance=16, max_diff_pixels=2).equal


def test_identical_bytes_fast_path_and_size_mismatch():
    data = png(canvas())
    assert compare_png(data, data).identical_bytes
    result = compare_png(png(canvas(size=(41, 30))), data)
    assert not result.equal and result.size_mismatch
    assert result.differing_pixels == 30  # the extra column
    assert "actual 41x30, baseline 40x30" in result.describe()
    assert result.diff_image is not None and result.diff_image.size == (41, 30)


def test_chromium_major():
    assert chromium_major("156.0.8078.108") == 156
    assert chromium_major("  99") == 99
    with pytest.raises(ValueError):
        chromium_major("unknown")


def test_store_update_compare_and_diff_files(tmp_path):
    root, diffs = tmp_path / "baselines", tmp_path / "__diff__"
    base = png(canvas())
    writer = SnapshotStore("156.0.1", update=True, root=root, diff_dir=diffs)
    writer.assert_match(base, "widget--normal")
    writer.write_meta()
    assert (root / "chromium-156" / "widget--normal.png").read_bytes() == base
    assert json.loads((root / "chromium-156" / "meta.json").read_text())["chromium_major"] == 156

    checker = SnapshotStore("156.0.9", root=root, diff_dir=diffs, max_diff_pixels=0)
    assert checker.assert_match(base, "widget--normal").identical_bytes
    changed = canvas()
    changed.putpixel((3, 3), (0, 0, 0, 255))
    with pytest.raises(AssertionError, match="1 of 1200 pixels differ"):
        checker.assert_match(png(changed), "widget--normal")
    assert sorted(p.name for p in diffs.iterdir()) == [
        "widget--normal.actual.png", "widget--normal.diff.png", "widget--normal.expected.png"]
    with pytest.raises(AssertionError, match="no baseline"):
        checker.assert_match(base, "other--normal")


def test_browser_upgrade_is_reported_as_such(tmp_path):
    root = tmp_path / "baselines"
    old = SnapshotStore("156.0.1", update=True, root=root, diff_dir=tmp_path / "d")
    old.assert_match(png(canvas()), "w")
    old.write_meta()
    new = SnapshotStore("160.0.2", root=root, diff_dir=tmp_path / "d")
    with pytest.raises(BrowserUpgraded, match="browser upgraded from 156 to 160 .* make snapshots-update"):
        new.assert_match(png(canvas()), "w")
