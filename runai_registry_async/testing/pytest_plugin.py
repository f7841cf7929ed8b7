"""pytest plugin (registered through the ``pytest11`` entry point).

Offers ``runai_emulator``: a started :class:`RunaiEmulator` on 127.0.0.1, closed after
the test. It needs pytest-asyncio; without it the plugin offers nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the plugin stays inert without pytest-asyncio
    pytest_asyncio = None

from ._emulator import RunaiEmulator

if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def runai_emulator() -> AsyncIterator[RunaiEmulator]:
        """A started Run:ai emulator; seed it, then point a client at its ``base_url``."""
        async with RunaiEmulator() as emulator:
            yield emulator
