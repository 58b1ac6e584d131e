"""The Plugins page: every plugin, its version, its hooks and what it registered."""

from __future__ import annotations

from typing import Any

from dash import html


def plugins_table(pulse: Any) -> Any:
    plugins = pulse.describe_plugins()
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in
                               ("Plugin", "Version", "Kind", "Hooks", "Registered")]))
    body = []
    for p in plugins:
        registered = p.get("registered") or {}
        reg_items = [html.Li([html.Strong(f"{kind}: "), ", ".join(map(str, slugs))])
                     for kind, slugs in sorted(registered.items())]
        body.append(html.Tr([
            html.Th(p["name"], scope="row"),
            html.Td(p.get("version", "")),
            html.Td("built-in" if p.get("builtin") else "third-party"),
            html.Td(", ".join(p.get("hooks", [])), className="small"),
            html.Td(html.Ul(reg_items, className="list-unstyled mb-0") if reg_items else html.Span(
                "nothing", className="mp-muted")),
        ], id=f"mp-plugin-{p['name']}"))
    return html.Div(
        html.Table([html.Caption(f"{len(plugins)} plugins loaded"), head, html.Tbody(body)],
                   id="mp-plugins-table", className="table table-sm mp-table align-top"),
        className="mp-card p-3 table-responsive",
    )
