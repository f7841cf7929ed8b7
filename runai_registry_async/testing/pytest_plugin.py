"""pytest plugin (registered through the ``pytest11`` entry point).

Offers ``runai_emulator``: a started ``RunaiEmulator`` on 127.0.0.1, closed after
the test. It is an async fixture and needs pytest-asyncio (the ``pytest`` extra); without
it, a test that asks for the fixture fails saying so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ._emulator import RunaiEmulator

try:
    import pytest_asyncio
except ImportError:

    @pytest.fixture
    def runai_emulator() -> RunaiEmulator:
        """Fails: the emulator fixture needs pytest-asyncio."""
        pytest.fail(
            "the runai_emulator fixture needs pytest-asyncio: "
            "pip install 'runai-registry-async[pytest]' (or pytest-asyncio)",
            pytrace=False,
        )

else:
    # One definition or the other, never both.
    @pytest_asyncio.fixture
    async def runai_emulator() -> AsyncIterator[RunaiEmulator]:  # type: ignore[misc]
        """A started Run:ai emulator; seed it, then point a client at its ``base_url``."""
        async with RunaiEmulator() as emulator:
            yield emulator
