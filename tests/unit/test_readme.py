"""README's configuration table is the one generated from the settings declaration."""

from billing_dash.config import settings_table
from tests import ROOT


def test_readme_configuration_table_matches_settings():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- settings-table -->\n", 1)[1].split("\n<!-- /settings-table -->", 1)[0]
    assert table == settings_table()
