"""The API reference (docs/api.md) lists every public name."""

from __future__ import annotations

import re
from pathlib import Path

import runai_registry_async

API = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
# Not classes or functions: a type alias (documented on crawl_tags) and the version string.
UNDOCUMENTED = {"CrawlResult", "__version__"}


def test_every_public_name_is_in_the_api_reference() -> None:
    documented = set(re.findall(r"^::: runai_registry_async\.(\w+)$", API, re.MULTILINE))
    public = set(runai_registry_async.__all__)
    assert public - UNDOCUMENTED - documented == set()
    assert documented - public == set()
