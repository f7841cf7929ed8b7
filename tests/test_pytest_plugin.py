"""The ``runai_emulator`` fixture of the pytest plugin (``testing/pytest_plugin.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runai_registry_async import RegistryClient
from runai_registry_async.testing import RunaiEmulator

# pytest in a child as if pytest-asyncio were not installed: no plugin loads by itself,
# this package's is named, and importing pytest_asyncio fails.
WITHOUT_PYTEST_ASYNCIO = """
import sys
sys.modules["pytest_asyncio"] = None
import pytest
plugin = "runai_registry_async.testing.pytest_plugin"
sys.exit(pytest.main(["-p", plugin, "-p", "no:cacheprovider", "-c", sys.argv[1], sys.argv[2]]))
"""


async def test_the_fixture_is_a_started_emulator(runai_emulator: RunaiEmulator) -> None:
    registry = runai_emulator.add_registry("hub")
    async with RegistryClient(runai_emulator.base_url, token=runai_emulator.token) as client:
        assert [r.meta.id for r in await client.list_registries()] == [registry.id]


def test_without_pytest_asyncio_a_test_using_the_fixture_fails_saying_why(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    test = tmp_path / "test_uses_it.py"
    test.write_text("def test_uses_it(runai_emulator):\n    pass\n")
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYTEST_ASYNCIO, str(tmp_path / "pytest.ini"), str(test)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the runai_emulator fixture needs pytest-asyncio" in done.stdout
    assert "'runai-registry-async[pytest]'" in done.stdout
