"""HTML audit: counts agree with a real parser on tricky pages; scores of known-defect pages are exact."""

from __future__ import annotations

import pytest

from moviepulse.ssr.audit import AuditCounts, ScoreRules, audit_html, count_html, score_counts

selectolax = pytest.importorskip("selectolax.lexbor")

_JS = {"", "application/ecmascript", "application/javascript", "application/x-ecmascript",
       "application/x-javascript", "text/ecmascript", "text/javascript", "text/javascript1.0",
       "text/javascript1.1", "text/javascript1.2", "text/javascript1.3", "text/javascript1.4",
       "text/javascript1.5", "text/jscript", "text/livescript", "text/x-ecmascript", "text/x-javascript"}


def reference_counts(body: bytes) -> AuditCounts:
    """The same definitions, computed with lexbor's HTML5 tree builder."""
    tree = selectolax.LexborHTMLParser(body)
    metas = tree.css("meta")
    og = sum(1 for m in metas if (m.attributes.get("property") or "").startswith("og:"))
    ld = blocking = 0
    for script in tree.css("script"):
        attrs = script.attributes
        mime = (attrs.get("type") or "").split(";", 1)[0].strip(" \t\n\r\f").lower()
        if mime == "application/ld+json":
            ld += 1
        elif mime in _JS and "defer" not in attrs and "async" not in attrs:
            blocking += 1
    return AuditCounts(len(body), len(metas), og, ld, len(tree.css("img")), blocking)


HEAD = "<!doctype html><html><head><title>T</title>"
OG3 = ('<meta property="og:title" content="A"><meta property="og:type" content="video.movie">'
       '<meta property="og:image" content="/p.jpg">')
LD = '<script type="application/ld+json">{"@type": "Movie"}</script>'

TRICKY = {
    "attribute_order": HEAD + '<meta content="A" property="og:title"><meta name=x property=og:url content=u>'
    "<meta content='c' property='og:image'></head><body></body></html>",
    "nonce_first_jsonld": HEAD + '<script nonce="r4nd0m" type="application/ld+json">{"a": 1}</script>'
    "</head><body></body></html>",
    "jsonld_params_and_case": HEAD + '<SCRIPT TYPE="Application/LD+JSON; charset=utf-8">{}</SCRIPT>'
    '<script type=" application/ld+json ">{}</script></head><body></body></html>',
    "uppercase_tags": HEAD + '<META PROPERTY="og:title" CONTENT="x"><IMG SRC="a.png"><Img src=b>'
    '<SCRIPT SRC="x.js"></SCRIPT></head><body></body></html>',
    "comments": HEAD + "<!-- <meta property='og:title'> <img src=x> <script src=y></script> -->"
    "<!----><!-- a -- b --></head><body><img src=real></body></html>",
    "script_containing_img": HEAD + '<script>document.write("<img src=x><meta name=q>")</script>'
    "<script>var s = '</scr' + 'ipt><img>';</script></head><body></body></html>",
    "defer_as_substring": HEAD + '<script src="a.js" data-mode="defer"></script>'
    '<script src="deferred.js"></script><script src="b.js" class="no-defer-here"></script>'
    "</head><body></body></html>",
    "defer_async_module": HEAD + '<script defer src="a.js"></script><script src=b.js async></script>'
    '<script type="module" src="m.js"></script><script type=module>import "x"</script>'
    '<script src="c.js" DEFER=""></script><script nomodule src="legacy.js"></script>'
    "</head><body></body></html>",
    "data_blocks": HEAD + '<script type="application/json" id="state">{"x": "<img>"}</script>'
    '<script type="text/template"><img src=tpl></script><script type="text/javascript" src=j.js></script>'
    "</head><body></body></html>",
    "gt_inside_attribute": HEAD + '<meta content="a > b" property="og:title"><img alt="x > y" src=q>'
    "<img alt='>' src=r></head><body></body></html>",
    "lookalike_tags": HEAD + "<metadata></metadata><meta-x></meta-x><image-gallery></image-gallery>"
    "<imgx></imgx><scripts></scripts></head><body><img/><meta/></body></html>",
    "raw_text_elements": HEAD + "<style>.a::after{content:'<img src=x>'}</style>"
    "<textarea><meta property='og:x'><img></textarea><title>a <img> b</title></head><body>"
    "<noscript><img src=pixel></noscript></body></html>",
    "self_closing_and_whitespace": HEAD + '<meta\nproperty="og:title"\ncontent="x"/><img\tsrc="a"/>'
    '<script\nsrc="a.js"\n></script><script\n  defer\n src="b.js"></script></head><body></body></html>',
    "duplicate_attributes": HEAD + '<meta property="og:title" property="twitter:x">'
    '<meta property="twitter:x" property="og:title"><script type="module" type="text/javascript"></script>'
    "</head><body></body></html>",
    "og_case_sensitive": HEAD + '<meta property="OG:title"><meta property="og:"><meta name="og:title">'
    "</head><body></body></html>",
    "inline_blocking_and_event_attrs": HEAD + "<script>window.a=1</script>"
    '<script onload="defer()" src="x.js"></script></head><body></body></html>',
    "svg_and_body_scripts": HEAD + "</head><body><svg><image href=x></image><script>1</script></svg>"
    '<p>text <b>bold</b></p><img src="1"><img src="2"><script src="late.js"></script></body></html>',
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_counts_agree_with_a_real_parser(name):
    body = TRICKY[name].encode()
    assert count_html(body) == reference_counts(body), name


def test_counts_agree_on_a_realistic_50kb_page():
    page = big_page()
    assert len(page) > 50_000
    counts = count_html(page)
    assert counts == reference_counts(page)
    assert counts.img == 40 and counts.og == 4 and counts.ldjson == 2 and counts.blocking == 1


def big_page() -> bytes:
    parts = [HEAD, '<meta charset="utf-8"><meta name="viewport" content="width=device-width">', OG3,
             '<meta content="https://x/m/1" property="og:url">',
             '<script nonce="abc" type="application/ld+json">{"@type": "Movie", "name": "<img>"}</script>',
             '<script type="application/ld+json; charset=utf-8">{"@type": "BreadcrumbList"}</script>',
             '<script src="/static/app.js" defer nonce="abc"></script><script src="/static/ab.js"></script>',
             "</head><body><!-- rail --><main>"]
    for i in range(40):
        parts.append(f'<article class="card" data-id="{i}"><a href="/en/movies/{i}">'
                     f'<img src="/p/{i}.jpg" alt="Poster {i}" loading="lazy" width="200" height="300"></a>'
                     f'<h3>Movie title number {i}</h3><p>{"An overview sentence. " * 50}</p></article>')
    parts.append("</main></body></html>")
    return "".join(parts).encode()


def test_known_defect_pages_score_exactly():
    good = (HEAD + OG3 + LD + '<script src="a.js" defer></script></head><body></body></html>').encode()
    assert audit_html(good).score == 100
    blocking = (HEAD + OG3 + LD + '<script src="a.js"></script></head><body></body></html>').encode()
    audit = audit_html(blocking)
    assert (audit.score, audit.failing) == (95, ["blocking_scripts"])
    missing_ld = (HEAD + OG3 + "</head><body></body></html>").encode()
    audit = audit_html(missing_ld)
    assert (audit.score, audit.failing) == (90, ["missing_jsonld"])
    nonce_first = (HEAD + OG3 + '<script nonce="n0nce" type="application/ld+json">{}</script>'
                   "</head><body></body></html>").encode()
    assert audit_html(nonce_first).score == 100  # MovieRec gave this page 90
    thin_og = (HEAD + '<meta property="og:title" content="x">' + LD + "</head><body></body></html>").encode()
    audit = audit_html(thin_og)
    assert (audit.score, audit.failing) == (90, ["low_og"])
    # MovieRec's anchor: 1 OG, 1 LD, 0 blocking -> 90.
    assert score_counts(AuditCounts(1000, 3, 1, 1, 0, 0)).score == 90


def test_penalties_cap_floor_and_come_from_rules():
    worst = AuditCounts(html_bytes=1_000_000, meta=0, og=0, ldjson=0, img=61, blocking=9)
    audit = score_counts(worst)
    assert audit.score == 100 - 30 - 10 - 10 - 20 - 10 == 20
    assert audit.penalties == {"blocking_scripts": 30, "missing_jsonld": 10, "low_og": 10,
                               "oversized_html": 20, "excess_images": 10}
    custom = ScoreRules(blocking_each=7, blocking_max=50, missing_jsonld=20)
    assert score_counts(AuditCounts(10, 1, 3, 0, 0, 1), custom).score == 100 - 7 - 20 == 73
    harsh = ScoreRules(blocking_each=40, blocking_max=200, missing_jsonld=90)
    assert score_counts(AuditCounts(10, 1, 0, 0, 0, 3), harsh).score == 0
    # boundaries: exactly at the limits is not penalised
    edge = AuditCounts(html_bytes=921_600, meta=3, og=3, ldjson=1, img=60, blocking=0)
    assert score_counts(edge).score == 100


def test_thresholds_from_config():
    config = {"SSR_SCORE_PASSING": 90, "SSR_SCORE_WARNING": 70, "SSR_PENALTY_LOW_OG": 3}
    rules = ScoreRules.from_config(config)
    assert [rules.status(s) for s in (95, 90, 89, 70, 69, None)] == [
        "passing", "passing", "warning", "warning", "failing", "no_data"]
    assert score_counts(AuditCounts(10, 1, 0, 1, 0, 0), rules).score == 97


OG_ATTRS = [
    b' property="og:title" content="x"', b" content='x' property='og:image'", b" property=og:url",
    b' PROPERTY="og:title"', b' property = "og:type"', b' property="OG:title"', b' property="twitter:x"',
    b' data-property="og:x"', b' content="property=og:x"', b' property="twitter:x" property="og:title"',
    b' property="og:title" property="twitter:x"', b" name=x property", b' property-x="og:a"',
    b"/property='og:a'",
    b' content="a > b" property="og:title"', b' property="og:"', b" property=og:x/",
]


@pytest.mark.parametrize("raw", OG_ATTRS)
def test_fast_og_check_agrees_with_full_attribute_parse(raw):
    from moviepulse.ssr.audit import _attrs, _is_og

    full = (_attrs(raw).get(b"property") or b"").startswith(b"og:")
    assert _is_og(raw) == full
    assert count_html(b"<meta" + raw + b">") == reference_counts(b"<meta" + raw + b">")
