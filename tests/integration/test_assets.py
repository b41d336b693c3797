"""billing.js repeats a few of the Python side's facts (it runs in the browser); they must agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

from billing_dash.filters import AGENT_PARAM, MODEL_PARAM, TAG_PARAM_PREFIX
from billing_dash.pages import DASHBOARD_PATH
from billing_dash.periods import DEFAULT_PERIOD

SCRIPT = Path(__file__).parents[2] / "billing_dash" / "assets" / "billing.js"


DECLARATION = re.compile(r"^\s*const ([A-Z_]+) = (\"[^\"]*\"|\[[^\]]*\]);", re.M)


def constants() -> dict[str, object]:
    """The script's `const NAME = <JSON literal>;` lines."""
    return {name: json.loads(value) for name, value in DECLARATION.findall(SCRIPT.read_text(encoding="utf-8"))}


def test_the_script_names_what_python_names(app):
    from billing_dash.pages.billing import AUTO  # a page module: imported once an app exists

    assert constants() == {
        "PAGE": DASHBOARD_PATH,
        "FILTER_PARAMS": [AGENT_PARAM, MODEL_PARAM],
        "TAG_PREFIX": TAG_PARAM_PREFIX,
        "DEFAULT_PERIOD": DEFAULT_PERIOD,
        "AUTO": AUTO,
    }


def test_the_script_spells_none_of_them_out_elsewhere():
    """Besides their declarations, the facts appear only by name (a literal would drift)."""
    body = DECLARATION.sub("", SCRIPT.read_text(encoding="utf-8"))
    values = [v for value in constants().values() for v in (value if isinstance(value, list) else [value])]
    assert [v for v in values if f'"{v}"' in body] == []
