"""pytest plugin (registered through the ``pytest11`` entry point).

Offers ``runai_emulator``: a started :class:`RunaiEmulator` on 127.0.0.1, closed after
the test. It needs pytest-asyncio; without it the plugin offers nothing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator

from ._emulator import RunaiEmulator

if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def runai_emulator() -> AsyncIterator[RunaiEmulator]:
        """A started Run:ai emulator; seed it, then point a client at its ``base_url``."""
        async with RunaiEmulator() as emulator:
            yield emulator
