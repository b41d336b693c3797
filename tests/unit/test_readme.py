"""README states what the code declares: the configuration table, the input limits, the report's `limit`."""

from billing_dash.config import settings_table
from billing_dash.limits import MAX_ID, MAX_NAME, MAX_TITLE
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
