"""Every rule about URLs: the base URL, proxies (from the environment or given, and
NO_PROXY as curl reads it), and the API's paths and query strings, validated and encoded
before anything is sent. No I/O."""

from __future__ import annotations

import ipaddress
import re
import urllib.request
import uuid
from urllib.parse import quote

from yarl import URL

from .._secrets import Secret

REGISTRIES = "/api/v1/asset/registries"
# The paths as the spec writes them: what telemetry names a request by.
REGISTRY_ROUTE = REGISTRIES + "/{AssetId}"
REPOSITORIES_ROUTE = REGISTRY_ROUTE + "/repositories"
TAGS_ROUTE = REPOSITORIES_ROUTE + "/tags"

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# `repository` and `searchName` are allowReserved in the spec: "/" may travel raw. Every
# other reserved character (& # % + = ? and space) is percent-encoded so that the server
# decodes exactly the string the caller passed.
_RESERVED_OK = "/"
# Values made only of these need no encoding: most names, so `quote` is skipped for them.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch
_PLAIN_OR_SLASH = re.compile(r"[A-Za-z0-9_.~/-]*").fullmatch


def registry_path(asset_id: object) -> str:
    """The path of one registry; ``asset_id`` must be a UUID (str or ``uuid.UUID``),
    else ValueError."""
    return f"{REGISTRIES}/{checked_id(asset_id)}"


def checked_id(asset_id: object) -> str:
    if isinstance(asset_id, uuid.UUID):
        return str(asset_id)
    if isinstance(asset_id, str) and _UUID.fullmatch(asset_id):
        return asset_id.lower()
    raise ValueError(f"asset_id must be a UUID, got {asset_id!r}")


def encode(key: str, value: object, *, allow_reserved: bool = False) -> str:
    """``value`` percent-encoded for a query string; it must be a string."""
    if type(value) is not str:
        if not isinstance(value, str):
            raise ValueError(f"{key} must be a string, not {type(value).__name__}")
        value = str(value)
    if (_PLAIN_OR_SLASH if allow_reserved else _PLAIN)(value):
        return value
    return quote(value, safe=_RESERVED_OK if allow_reserved else "")


def query(*, allow_reserved: bool = False, **params: str | None) -> str:
    """``?k=v&...`` for the parameters that are not None, each value percent-encoded."""
    parts = [
        f"{key}={encode(key, value, allow_reserved=allow_reserved)}"
        for key, value in params.items()
        if value is not None
    ]
    return "?" + "&".join(parts) if parts else ""


def repositories_path(registry_path: str, search_name: str | None) -> str:
    """The path that lists a registry's repositories (``registry_path`` checked already)."""
    path = registry_path + "/repositories"
    if search_name is not None:
        path += "?searchName=" + encode("searchName", search_name, allow_reserved=True)
    return path


def tags_path(registry_path: str, repository: str, search_name: str | None) -> str:
    """The path that lists a repository's tags (``registry_path`` checked already)."""
    if not isinstance(repository, str) or not repository:
        raise ValueError("repository must be a non-empty string")
    path = (
        registry_path
        + "/repositories/tags?repository="
        + encode("repository", repository, allow_reserved=True)
    )
    if search_name is not None:
        path += "&searchName=" + encode("searchName", search_name, allow_reserved=True)
    return path


# --- the base URL and proxies ---------------------------------------------------------------


def checked_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """The base URL without a trailing slash; plain HTTP only to loopback unless allowed."""
    if not isinstance(base_url, str):
        raise ValueError(f"base_url must be a string, not {type(base_url).__name__}")
    url = parsed_url(base_url)
    if url is None:
        raise ValueError(f"base_url is not a URL: {_shown(base_url)}")
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {_shown(base_url)}")
    if url.user or url.password:
        raise ValueError("base_url must not carry credentials; use token= or auth=")
    if url.query_string or url.fragment:
        raise ValueError(f"base_url must not have a query or fragment, got {_shown(base_url)}")
    if url.path.rstrip("/").endswith("/api/v1"):
        raise ValueError(
            f"base_url {_shown(base_url)} ends with /api/v1: give the control plane's root "
            "(e.g. https://myorg.run.ai); the client adds /api/v1/... itself"
        )
    if url.scheme == "http" and not allow_insecure_http and not is_loopback(url.host):
        raise ValueError(
            f"refusing plain http:// to {url.host}: the token would travel unencrypted; "
            "use https:// or pass allow_insecure_http=True"
        )
    return str(url).rstrip("/")


def parsed_url(text: str) -> URL | None:
    """``text`` as a URL; None if yarl cannot read it."""
    try:
        return URL(text)
    except (TypeError, ValueError):
        return None


def _shown(base_url: str) -> str:
    """``base_url`` fit for an error message: no user info, query or fragment."""
    url = parsed_url(base_url)
    if url is None or not url.is_absolute():
        # The last "@": a careless password may hold one too.
        return repr(base_url.rpartition("@")[2].split("?")[0].split("#")[0])
    return repr(str(url.with_user(None).with_query(None).with_fragment(None)))


def chosen_proxy(
    target: URL, proxy: str | None, *, trust_env: bool, allow_insecure_http: bool = False
) -> Secret[str] | None:
    """The proxy for ``target``: ``proxy`` if given, else from the environment.

    Only the proxy variables are read (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY, in
    either case): aiohttp's own ``trust_env`` would also read ``~/.netrc`` and send its
    password as Basic credentials, which a bearer-token client must never do. A loopback
    target never takes a proxy from the environment (as Go and curl do). A plain-http
    proxy for a plain-http target would read the token and the body: like any other
    plain-http hop, it must be loopback unless ``allow_insecure_http``.
    """
    host = target.host or ""
    if proxy is None and trust_env and not is_loopback(host):
        found = urllib.request.getproxies_environment()
        if not bypassed(host, target.port, found.get("no", "")):
            proxy = found.get(target.scheme) or found.get("all")
    if proxy is None:
        return None
    parsed = parsed_url(proxy) if isinstance(proxy, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        shown = "a non-string" if not isinstance(proxy, str) else _shown(proxy)
        raise ValueError(f"proxy must be an http:// or https:// URL with a host, got {shown}")
    if (
        target.scheme == "http"
        and parsed.scheme == "http"
        and not allow_insecure_http
        and not is_loopback(parsed.host)
    ):
        raise ValueError(
            f"refusing the plain http:// proxy {parsed.host} for an http:// base URL: it "
            "would read the token; use https:// or pass allow_insecure_http=True"
        )
    return Secret(proxy)


def bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether NO_PROXY names ``host``, as curl reads it.

    Entries are separated by commas: ``*`` (everything), a host or domain (which also
    covers its subdomains; a leading dot is optional), an IP address or CIDR range, each
    optionally with ``:port``.
    """
    host = host.lower().strip("[]").rstrip(".")  # "example.com." is example.com
    for entry in no_proxy.replace(" ", "").lower().split(","):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if entry_port and (port is None or entry_port != str(port)):
            continue
        name = name.strip("[]").strip(".")
        if not name:
            continue
        if host == name or host.endswith("." + name) or _in_network(host, name):
            return True
    return False


def _has_port(entry: str) -> bool:
    head, _, tail = entry.rpartition(":")
    return bool(head) and tail.isdigit() and (entry.count(":") == 1 or head.endswith("]"))


def _in_network(host: str, entry: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    """Only ``localhost`` itself and loopback IP literals.

    ``*.localhost`` names go through the resolver, which may answer anything.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
