"""Path and query encoding: ids checked, values encoded so the server decodes them exactly."""

from __future__ import annotations

import uuid
from urllib.parse import unquote

import pytest

from runai_registry_async._http import _urls

ID = "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"


@pytest.mark.parametrize(
    ("value", "reserved_ok", "encoded"),
    [
        ("team-3/app_1.0~x", True, "team-3/app_1.0~x"),
        ("team-3/app_1.0~x", False, "team-3%2Fapp_1.0~x"),
        ("a&b=c", True, "a%26b%3Dc"),
        ("x#y?z", True, "x%23y%3Fz"),
        ("sp ace+100%", True, "sp%20ace%2B100%25"),
        ("ünï", True, "%C3%BCn%C3%AF"),
        ("", True, ""),
        # A slash among characters that need encoding stays a slash only where allowed.
        ("team/a b", True, "team/a%20b"),
        ("team/a b", False, "team%2Fa%20b"),
    ],
)
def test_encode_keeps_only_unreserved_characters_and_slash_when_allowed(
    value: str, reserved_ok: bool, encoded: str
) -> None:
    assert _urls.encode("q", value, allow_reserved=reserved_ok) == encoded
    assert unquote(encoded) == value


def test_encode_refuses_a_non_string() -> None:
    with pytest.raises(ValueError, match="repository must be a string, not int"):
        _urls.encode("repository", 5)


def test_query_skips_none_and_joins_the_rest() -> None:
    assert _urls.query(name=None) == ""
    assert _urls.query(name="a b", other=None) == "?name=a%20b"
    assert _urls.query(allow_reserved=True, a="x/y", b="1&2") == "?a=x/y&b=1%262"


def test_registry_path_accepts_str_and_uuid_and_normalises_case() -> None:
    assert _urls.registry_path(ID.upper()) == f"{_urls.REGISTRIES}/{ID}"
    assert _urls.registry_path(uuid.UUID(ID)) == f"{_urls.REGISTRIES}/{ID}"
    with pytest.raises(ValueError, match="asset_id must be a UUID"):
        _urls.registry_path(f"{ID}/../x")


def test_the_defaults_encode_a_slash() -> None:
    # Only `repository` and `searchName` are allowReserved in the spec: by default a
    # value (a registry `name`) keeps no slash raw.
    assert _urls.encode("name", "a/b") == "a%2Fb"
    assert _urls.query(name="a/b") == "?name=a%2Fb"


def test_a_str_subclass_is_encoded_as_its_text() -> None:
    class Name(str):
        pass

    assert _urls.encode("name", Name("a b")) == "a%20b"
    assert type(_urls.encode("name", Name("plain"))) is str


def test_query_names_the_parameter_that_is_not_a_string() -> None:
    with pytest.raises(ValueError, match=r"^searchName must be a string, not int$"):
        _urls.query(searchName=5)  # type: ignore[arg-type]
