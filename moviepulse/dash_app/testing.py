"""Test helpers for the dashboard: call a Dash callback over HTTP like the browser does.

``post_widget(client, "ctr-line", "ctr", filters)`` finds the widget's callback in
``/admin/_dash-dependencies`` and POSTs ``/admin/_dash-update-component`` with the same
payload the Dash renderer would send; it returns the Flask response.
"""

from __future__ import annotations

import json
from typing import Any


def dependencies(client: Any) -> list[dict[str, Any]]:
    response = client.get("/admin/_dash-dependencies")
    assert response.status_code == 200, response.status_code
    return response.get_json()


def _parse_id(raw: str) -> Any:
    return json.loads(raw) if raw.startswith("{") else raw


def _split_output(output: str) -> list[tuple[Any, str]]:
    """``..a.figure...b.children..`` (multi) or ``a.figure`` -> [(id, prop), ...]."""
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    out = []
    for part in parts:
        ident, _, prop = part.rpartition(".")
        out.append((_parse_id(ident), prop))
    return out


def _concrete(ident: Any, instance: str) -> Any:
    if isinstance(ident, dict):
        return {k: (instance if isinstance(v, list) else v) for k, v in ident.items()}
    return ident


def find_callback(deps: list[dict[str, Any]], predicate: Any) -> dict[str, Any]:
    for dep in deps:
        if any(predicate(ident, prop) for ident, prop in _split_output(dep["output"])):
            return dep
    raise AssertionError("no callback matches")


def post_callback(client: Any, dep: dict[str, Any], values: dict[tuple[str, str], Any],
                  instance: str = "", triggered: list[str] | None = None) -> Any:
    """POST one callback; ``values[(id_or_json, prop)]`` supplies input/state values."""

    def key(ident: Any) -> str:
        return json.dumps(ident, sort_keys=True) if isinstance(ident, dict) else ident

    def entries(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for item in items:
            ident = _concrete(_parse_id(item["id"]) if isinstance(item["id"], str) else item["id"], instance)
            out.append({"id": ident, "property": item["property"],
                        "value": values.get((key(ident), item["property"]))})
        return out

    outputs = [{"id": _concrete(ident, instance), "property": prop} for ident, prop in _split_output(dep["output"])]
    inputs = entries(dep["inputs"])
    body = {
        "output": dep["output"],
        "outputs": outputs if dep["output"].startswith("..") else outputs[0],
        "inputs": inputs,
        "state": entries(dep["state"]),
        "changedPropIds": triggered or [f"{key(i['id'])}.{i['property']}" for i in inputs[:1]],
    }
    return client.post("/admin/_dash-update-component", json=body)


def post_widget(client: Any, slug: str, instance: str, filters: dict[str, str], n_intervals: int = 0) -> Any:
    """Run the default figure callback of widget ``slug`` for one instance."""
    deps = dependencies(client)
    dep = find_callback(deps, lambda ident, prop: isinstance(ident, dict) and ident.get("widget") == slug
                        and ident.get("part") in ("graph", "status") and prop in ("figure", "children"))
    values = {("mp-filters", "data"): filters, ("mp-refresh", "n_intervals"): n_intervals}
    return post_callback(client, dep, values, instance)


def response_parts(response: Any) -> dict[str, Any]:
    """``{"<part>.<prop>": value}`` from a callback response (pattern ids flattened)."""
    payload = response.get_json()["response"]
    out: dict[str, Any] = {}
    for ident, props in payload.items():
        part = json.loads(ident).get("part") if ident.startswith("{") else ident
        for prop, value in props.items():
            out[f"{part}.{prop}"] = value
    return out
