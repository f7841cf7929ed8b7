"""The emulator's faults per registry, and a client that goes away is not an error."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import pytest

from runai_registry_async import (
    ApiError,
    ClientCredentials,
    RegistryClient,
    RetryPolicy,
    ServiceUnavailableError,
    crawl_tags,
)
from runai_registry_async.testing import RunaiEmulator

from .conftest import eventually

if TYPE_CHECKING:
    from typing_extensions import assert_type


def two_registries(emulator: RunaiEmulator) -> tuple[str, str]:
    ids = []
    for name in ("a", "b"):
        registry = emulator.add_registry(name)
        for repository in ("team/app", "team/db"):
            emulator.add_repository(registry.id, repository, tags=["1"])
        ids.append(registry.id)
    return ids[0], ids[1]


async def test_fail_next_for_one_registry_leaves_the_others_alone(
    emulator: RunaiEmulator,
) -> None:
    a, b = two_registries(emulator)
    emulator.fail_next("list_tags", 2, status=503, registry=a)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        results = [r async for r in crawl_tags(client, [a, b], concurrency=1)]
    failed = {(r.registry_id, type(r.error)) for r in results if r.error is not None}
    assert failed == {(a, ServiceUnavailableError)}
    assert sum(r.error is not None for r in results) == 2  # both of a's, none of b's
    assert [r.status for r in emulator.requests if r.asset_id == b] == [200, 200, 200]


async def test_a_registry_s_faults_come_before_the_operation_s(emulator: RunaiEmulator) -> None:
    a, b = two_registries(emulator)
    emulator.fail_next("list_repositories", 1, status=500)
    emulator.fail_next("list_repositories", 1, status=404, registry=a)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        for expected in (404, 500):
            with pytest.raises(ApiError) as caught:
                await client.list_repositories(a)
            assert caught.value.status == expected
        assert await client.list_repositories(b) == ["team/app", "team/db"]


async def test_flaky_for_one_registry(emulator: RunaiEmulator) -> None:
    a, b = two_registries(emulator)
    emulator.flaky("list_tags", 1.0, registry=b)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        assert (await client.list_tags(a, "team/app")).tags == ["1"]
        with pytest.raises(ServiceUnavailableError):
            await client.list_tags(b, "team/app")
        emulator.flaky("list_tags", 0, registry=b)
        assert (await client.list_tags(b, "team/app")).tags == ["1"]


async def test_a_client_cancelling_during_a_slow_token_request_logs_no_error(
    emulator: RunaiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.delay("token", 30)
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    caplog.set_level(logging.DEBUG)
    async with RegistryClient(emulator.base_url, auth=credentials, retry=RetryPolicy(1)) as client:
        call = asyncio.create_task(client.list_registries())
        await eventually(lambda: emulator.in_flight > 0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    await eventually(lambda: emulator.in_flight == 0)
    assert emulator.disconnects == 1
    server_side = [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING
        or record.exc_info is not None
        or "Error handling request" in record.getMessage()
    ]
    assert server_side == []


async def test_subclasses_keep_their_type_in_async_with() -> None:
    # Checked by mypy --strict in CI (assert_type); at run time, the same object comes back.
    class MyEmulator(RunaiEmulator):
        pass

    class MyClient(RegistryClient):
        pass

    made = MyEmulator()
    async with made as emulator:
        if TYPE_CHECKING:
            assert_type(emulator, MyEmulator)
        assert emulator is made  # __aenter__ hands back the object itself
        client_made = MyClient(emulator.base_url, token=emulator.token)
        async with client_made as client:
            if TYPE_CHECKING:
                assert_type(client, MyClient)
            assert client is client_made
            assert await client.list_registries() == []  # and it works as entered
