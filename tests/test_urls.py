"""The URL rules: ids checked, values encoded so the server decodes them exactly, and
proxies chosen as curl would choose them."""

from __future__ import annotations

import uuid
from urllib.parse import unquote

import pytest
from yarl import URL

from runai_registry_async._http import _urls
from runai_registry_async._http._urls import bypassed, chosen_proxy

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


# --- proxies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "expected"),
    [
        ("example.com", 443, "example.com", True),
        ("api.example.com", 443, "example.com", True),  # subdomains too
        ("api.example.com", 443, ".example.com", True),  # the leading dot is optional
        ("badexample.com", 443, "example.com", False),  # a suffix is not a subdomain
        ("example.com", 443, "example.com:443", True),
        ("example.com", 8443, "example.com:443", False),
        ("example.com", None, "example.com:443", False),
        ("Example.COM", 443, " other.org , EXAMPLE.com ", True),  # case, spaces, lists
        ("example.com", 443, ",,", False),
        ("b.example.com", 443, "a.example.com,,b.example.com", True),  # an empty entry skipped
        ("example.com", 443, "example.com:8443,example.com", True),  # the next entry counts
        ("anything.at.all", 1, "*", True),
        ("10.1.2.3", 80, "10.0.0.0/8", True),
        ("11.1.2.3", 80, "10.0.0.0/8", False),
        ("10.9.9.9", 80, "10.1.2.3/8", True),  # host bits in the range are tolerated
        ("10.0.0.1", 80, "10.0.0.1/33", False),  # not a range at all
        ("::1", 80, "::1", True),  # colons of an IPv6 literal are not a port
        ("[::1]", 8080, "[::1]:8080", True),
        ("[::1]", 8081, "[::1]:8080", False),
        ("2001:db8::5", 443, "2001:db8::/32", True),
        ("2001:db9::5", 443, "2001:db8::/32", False),
        ("fe80::1", 443, "fe80::1", True),
        ("host", 8080, "host:8080x", False),  # not a port: the whole entry is a name
        ("other", 8080, ":8080", False),  # a port without a host names nothing
        ("example.com.", 443, "example.com", True),  # a trailing dot, as curl reads it
        ("example.com", 443, "example.com.", True),
        ("api.example.com.", 443, ".example.com", True),
        ("example.com", 443, ".", False),
    ],
)
def test_no_proxy_entries(host: str, port: int | None, no_proxy: str, expected: bool) -> None:
    assert bypassed(host, port, no_proxy) is expected


@pytest.mark.parametrize(
    ("env", "proxy", "chosen"),
    [
        ({"HTTPS_PROXY": "http://p:3128"}, None, "http://p:3128"),
        ({"ALL_PROXY": "http://all:3128"}, None, "http://all:3128"),  # for any scheme
        ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "runai.example.com:443"}, None, None),
        (
            {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "runai.example.com:8443"},
            None,
            "http://p:3128",
        ),
        ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": ""}, None, "http://p:3128"),
        ({}, "https://secure-proxy:3129", "https://secure-proxy:3129"),  # an https:// proxy
    ],
)
def test_the_proxy_is_chosen_as_curl_would(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], proxy: str | None, chosen: str | None
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found = chosen_proxy(URL("https://runai.example.com"), proxy, trust_env=True)
    assert (None if found is None else found.value) == chosen


def test_a_proxy_that_is_not_a_string_is_refused_without_quoting_it() -> None:
    with pytest.raises(
        ValueError,
        match=r"^proxy must be an http:// or https:// URL with a host, got a non-string$",
    ):
        chosen_proxy(URL("https://runai.example.com"), 3128, trust_env=False)  # type: ignore[arg-type]
