"""find_tags and latest_tags against the emulator: exact answers, pre-filtered on the server."""

from __future__ import annotations

import pytest

from runai_registry_async import (
    LatestFailure,
    LatestTag,
    RegistryClient,
    RetryPolicy,
    ServiceUnavailableError,
    TagFilter,
    find_tags,
    latest,
    latest_tags,
)
from runai_registry_async.testing import RunaiEmulator


def three_registries(emulator: RunaiEmulator) -> list[str]:
    hub = emulator.add_registry("hub")
    emulator.add_repository(hub.id, "team/app", tags=["1.0-cuda12.1", "1.1-cuda12.2", "1.1-cpu"])
    emulator.add_repository(hub.id, "team/app-old", tags=["0.9-cuda12.1"])
    ecr = emulator.add_registry("ecr")
    emulator.add_repository(ecr.id, "team/app", tags=["v1.10.0-cuda12.1", "v1.9.2-cuda12.1", "x"])
    harbor = emulator.add_registry("harbor")
    emulator.add_repository(harbor.id, "team/app", tags=["1.0-cpu"])
    emulator.add_repository(harbor.id, "other/thing", tags=["1.0-cuda12.1"])
    return [hub.id, ecr.id, harbor.id]


async def test_find_tags_matches_exactly_and_lets_the_server_prefilter(
    emulator: RunaiEmulator,
) -> None:
    hub, ecr, _ = three_registries(emulator)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        found = [r async for r in find_tags(client, "team/app", TagFilter(include=["*-cuda12*"]))]
    by_registry = {r.registry_id: r for r in found}
    assert set(by_registry) == {hub, ecr}  # harbor's team/app has no cuda12 tag
    assert by_registry[hub].repository == "team/app"  # not team/app-old
    assert by_registry[hub].tags == ["1.0-cuda12.1", "1.1-cuda12.2"]
    assert by_registry[ecr].tags == ["v1.10.0-cuda12.1", "v1.9.2-cuda12.1"]
    searches = {(r.operation, r.query.get("searchName")) for r in emulator.requests if r.asset_id}
    assert searches == {("list_repositories", "team/app"), ("list_tags", "-cuda12")}


async def test_find_tags_can_match_by_substring(emulator: RunaiEmulator) -> None:
    hub, _, _ = three_registries(emulator)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        found = [
            (r.registry_id, r.repository)
            async for r in find_tags(client, "team/app", exact_repository=False, registries=[hub])
        ]
    assert sorted(found) == [(hub, "team/app"), (hub, "team/app-old")]


async def test_latest_tags_gives_the_newest_by_version_per_registry(
    emulator: RunaiEmulator,
) -> None:
    three_registries(emulator)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        newest = {r.registry_name: r.tag async for r in latest_tags(client, "team/app")}
        cuda = {
            r.registry_name: r.tag
            async for r in latest_tags(client, "team/app", TagFilter(include=["*cuda*"]))
        }
    assert newest == {"hub": "1.1-cuda12.2", "ecr": "x", "harbor": "1.0-cpu"}
    assert cuda == {"hub": "1.1-cuda12.2", "ecr": "v1.10.0-cuda12.1"}  # 1.10 after 1.9


async def test_failures_come_through_as_results(emulator: RunaiEmulator) -> None:
    three_registries(emulator)
    emulator.fail_next("list_tags", 1, status=503)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        results = [r async for r in latest_tags(client, "team/app", concurrency=1)]
    failed = [r for r in results if r.error is not None]
    assert len(failed) == 1
    assert isinstance(failed[0], LatestFailure)
    assert failed[0].tag is None
    assert isinstance(failed[0].error, ServiceUnavailableError)
    assert len(results) == 3


async def test_bad_arguments_fail_before_any_request(emulator: RunaiEmulator) -> None:
    import pytest

    async with RegistryClient(
        emulator.base_url, token=emulator.token, retry=RetryPolicy(attempts=1)
    ) as client:
        with pytest.raises(ValueError, match="repository"):
            await anext(find_tags(client, ""))
        with pytest.raises(TypeError, match="TagFilter"):
            await anext(find_tags(client, "a", "cuda*"))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="order"):
            await anext(latest_tags(client, "a", order="newest"))  # type: ignore[arg-type]
    assert emulator.requests == []


async def test_a_found_tag_narrows_to_a_string_for_the_type_checker(
    emulator: RunaiEmulator,
) -> None:
    three_registries(emulator)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        # mypy --strict (CI) checks this line: `found.tag` is a `str` once the error is None.
        upper = [f.tag.upper() async for f in latest_tags(client, "team/app") if f.error is None]
    assert sorted(upper) == ["1.0-CPU", "1.1-CUDA12.2", "X"]
    found = LatestTag("id", "hub", "team/app", "1.0")
    assert found.error is None


async def test_without_prereleases_a_release_wins_and_a_registry_of_none_is_left_out(
    emulator: RunaiEmulator,
) -> None:
    for name, tags in (("hub", ["1.10.0", "2.0.0-rc.1"]), ("ecr", ["3.0.0-beta"])):
        registry = emulator.add_registry(name)
        emulator.add_repository(registry.id, "team/app", tags=tags)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        every = {f.registry_name: f.tag async for f in latest_tags(client, "team/app")}
        releases = {
            f.registry_name: f.tag async for f in latest_tags(client, "team/app", prereleases=False)
        }
    assert every == {"hub": "2.0.0-rc.1", "ecr": "3.0.0-beta"}
    assert releases == {"hub": "1.10.0"}


async def test_the_former_names_of_matching_still_work_with_a_warning(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "team/app", tags=["1.0", "2.0-cuda"])
    cuda = TagFilter(include=["*cuda*"])
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        with pytest.warns(DeprecationWarning, match="tags= is deprecated, use matching="):
            found = [r async for r in find_tags(client, "team/app", tags=cuda)]
        assert found[0].tags == ["2.0-cuda"]
        with pytest.warns(DeprecationWarning, match="filter= is deprecated, use matching="):
            newest = [r async for r in latest_tags(client, "team/app", filter=cuda)]
        assert newest[0].tag == "2.0-cuda"
        with pytest.raises(TypeError, match="pass matching= only"):
            [r async for r in latest_tags(client, "team/app", cuda, filter=cuda)]
    with pytest.warns(DeprecationWarning, match="filter= is deprecated"):
        assert latest(["1.0", "2.0-cuda", "3.0"], filter=cuda) == "2.0-cuda"
