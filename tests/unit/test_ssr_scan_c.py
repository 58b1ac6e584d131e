"""The C tokenizer (``moviepulse/ssr/_scan.c``) returns exactly what the pure-Python one does.

The Python scanner is the specification (its counts are checked against a real HTML parser in
``test_ssr_audit.py``); the C one is an optional speed-up built by ``pip install``. Every machine
this project runs on has a compiler, so a missing build fails here rather than silently running
the slow path.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moviepulse.ssr import audit

from .test_ssr_audit import TRICKY, big_page

scan_c = audit._scan_c

# Fragments that reach every branch: tag names in mixed case, look-alikes, comment edges,
# quotes that do or do not close, raw-text end tags with and without a proper name end.
FRAGMENTS = [
    "<", ">", "/", "!", "-", "--", "-->", "<!--", "<!-->", "<!--->", "<!", " ", "\t", "\n", "\x0b", "\x0c",
    "\r", '"', "'", "=", "a", "x", "<img", "<IMG", "<iMg", "<imgx", "<image", "<meta", "<META", "<metadata",
    "<script", "<SCRIPT", "<scripts", "</script", "</SCRIPT", "</scriptx", "<style", "</style", "<title",
    "</title", "<textarea", "</textarea", "<iframe", "</iframe", "<xmp", "</xmp", "<noembed", "</noembed",
    "<noframes", "</noframes", "</", 'property="og:title"', "property=og:x", " type=module",
    ' type="application/ld+json"', " defer", " async", " src=a.js", "og:", "\x00", "é", "<p>", "</p>",
]


def test_the_c_scanner_is_built():
    assert scan_c is not None, "moviepulse.ssr._scan is not built: run `pip install -e .` with a C compiler"
    assert audit.SCANNER == "c" and audit.scan is scan_c


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_agrees_on_the_tricky_corpus(name):
    body = TRICKY[name].encode()
    assert scan_c(body) == audit.scan_python(body)


def test_agrees_on_a_large_page_and_on_edges():
    for body in (big_page(), b"", b"<", b"<!--", b"<!-", b"<img", b"<img ", b"<meta", b"<meta x='", b"<script>",
                 b"<script>a</script", b"<script>a</script>", b"<script x='>'>", b"<!---->", b"<!-- -- >-->"):
        assert scan_c(body) == audit.scan_python(body), body


def test_accepts_any_bytes_like_object():
    body = TRICKY["uppercase_tags"].encode()
    assert scan_c(memoryview(body)) == scan_c(bytearray(body)) == audit.scan_python(body)
    with pytest.raises(TypeError):
        scan_c("a str is not bytes")


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_agrees_on_generated_markup(parts):
    body = "".join(parts).encode()
    assert scan_c(body) == audit.scan_python(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_agrees_on_arbitrary_bytes(body):
    assert scan_c(body) == audit.scan_python(body)
