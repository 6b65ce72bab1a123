"""README and docs/usage.md name every method and data set that conf/ provides, and nothing it does not."""

import re
from pathlib import Path

import pytest

from ganctl.engine.config import CONF_DIR

ROOT = Path(__file__).resolve().parents[1]


def readme_row(group: str) -> set[str]:
    """The backquoted names in README's "What is in it" row for `group=`."""
    row = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith(f"| `{group}=` |"))
    return set(re.findall(r"`([a-z0-9_]+)`", row.split("|")[2]))


@pytest.mark.parametrize("group", ["method", "data"])
def test_readme_names_every_config_of_the_group(group):
    configs = {p.stem for p in (CONF_DIR / group).glob("*.yaml")}
    assert readme_row(group) == configs


def test_usage_method_table_covers_every_method():
    table = (ROOT / "docs" / "usage.md").read_text().split("## Methods", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9_]+)`", table, re.M)) | set(re.findall(r"`(pacgan\d)`", table))
    assert {p.stem for p in (CONF_DIR / "method").glob("*.yaml")} <= documented
