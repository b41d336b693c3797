"""README states what the code declares: the configuration table, the input limits, the report's `limit`."""

from billing_dash.config import settings_table
from billing_dash.limits import (
    DEFAULT_TAG_GROUPS,
    MAX_ID,
    MAX_NAME,
    MAX_TAG_GROUPS,
    MAX_TAG_KEYS,
    MAX_TAG_VALUE,
    MAX_TAG_VALUES,
    MAX_TAGS,
    MAX_TITLE,
    TAG_KEY_PATTERN,
)
from billing_dash.services.billing import DEFAULT_TOP, MAX_TOP
from tests import ROOT


def test_readme_configuration_table_matches_settings():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- settings-table -->\n", 1)[1].split("\n<!-- /settings-table -->", 1)[0]
    assert table == settings_table()


def test_readme_states_the_declared_limits():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"| `agent_id`, `conversation_id`, `model` | yes | Identifiers (at most {MAX_ID} characters). |" in readme
    assert (
        f"| `agent_name`, `conversation_title` | no | Display names (at most {MAX_NAME} and {MAX_TITLE} characters)."
        in readme
    )
    assert f"| `limit` | How many `topConversations` (1–{MAX_TOP}, default {DEFAULT_TOP}). |" in readme
    assert (
        f'| `tags` | no | Up to {MAX_TAGS} string pairs, e.g. `{{"customer": "acme", "env": "prod"}}`: keys match '
        f"`{TAG_KEY_PATTERN}`, values are 1 to {MAX_TAG_VALUE} characters." in readme
    )
    assert f"at most **{MAX_TAG_VALUES:,} distinct values** per organization" in readme
    assert f"Pre-aggregate exactly these tag keys (at most {MAX_TAG_KEYS};" in readme
    assert (
        f"| `groupLimit` | How many values `usageByTag` lists before its `other` row (1–{MAX_TAG_GROUPS}, default {DEFAULT_TAG_GROUPS}). |"
        in readme
    )
