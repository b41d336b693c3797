"""Checks a request to `/_dash-update-component` against the app's callbacks before Dash runs it."""

from __future__ import annotations

from typing import Any

import dash
from flask import Response, request

from .errors import error_response


def _shaped_like(spec: dict, given: Any) -> bool:
    """Whether one input, state or output of a request matches the callback's declared one."""
    if spec["id"].startswith("{"):
        # A pattern-matching id (ALL, MATCH, ...): the browser sends the matching components.
        items = given if isinstance(given, list) else [given]
        return all(
            isinstance(i, dict) and isinstance(i.get("id"), dict) and i.get("property") == spec["property"]
            for i in items
        )
    return isinstance(given, dict) and given.get("id") == spec["id"] and given.get("property") == spec["property"]


def _as_declared(output: Any) -> Any:
    """An output of a request as its callback declares it: an output several callbacks share
    (allow_duplicate) comes as `property@<hash>`, the hash naming the callback (the body's
    `output` key, already matched to a callback, carries the same)."""
    if isinstance(output, dict) and isinstance(output.get("property"), str):
        return {**output, "property": output["property"].split("@", 1)[0]}
    return output


def _all_shaped_like(specs: list[dict], given: Any) -> bool:
    return isinstance(given, list) and len(given) == len(specs) and all(map(_shaped_like, specs, given))


def callback_request_problem(app: dash.Dash, body: Any) -> str | None:
    """What is wrong with a callback request `body` for `app`, or None when Dash can run it.

    Dash itself trusts the body's shape: a crafted one fails somewhere inside it with a KeyError or
    TypeError that looks like a bug. Checked here, whatever fails after this is ours (a logged 500).
    """
    if not isinstance(body, dict):
        return "The body must be a JSON object."
    callback = app.callback_map.get(body.get("output")) if isinstance(body.get("output"), str) else None
    if callback is None or "callback" not in callback:
        return "No server callback has this output."
    if not _all_shaped_like(callback["inputs"], body.get("inputs")):
        return "The inputs do not match the callback."
    if not _all_shaped_like(callback["state"], body.get("state", [])):
        return "The state does not match the callback."
    if not callback.get("no_output"):
        declared = callback["output"] if isinstance(callback["output"], list) else [callback["output"]]
        outputs = body.get("outputs")
        given = outputs if body["output"].startswith("..") else [outputs]
        if not _all_shaped_like(
            [o.to_dict() for o in declared], [_as_declared(o) for o in given] if isinstance(given, list) else given
        ):
            return "The outputs do not match the callback."
    changed = body.get("changedPropIds", [])
    if not (isinstance(changed, list) and all(isinstance(c, str) for c in changed)):
        return "changedPropIds must be a list of strings."
    return None


def refuse_malformed_callbacks(app: dash.Dash) -> None:
    """Answer 400 bad_callback, before Dash runs it, to a callback request `app` cannot run."""

    @app.server.before_request
    def check_callback_request() -> Response | None:
        if request.path == app.config.routes_pathname_prefix + "_dash-update-component":
            problem = callback_request_problem(app, request.get_json(silent=True))
            if problem:
                return error_response(400, "bad_callback", problem)
        return None
