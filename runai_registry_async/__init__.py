"""An asyncio client for the Registry assets of the NVIDIA Run:ai REST API."""

from ._client import RegistryClient
from ._crawl import crawl_tags
from ._crawl_results import CrawlFailure, CrawlResult, CrawlStats, CrawlTags, TagCrawl
from ._errors import (
    ApiError,
    BadRequestError,
    ConflictError,
    DeadlineExceeded,
    DecodeError,
    ForbiddenError,
    NotFoundError,
    RedirectError,
    RunaiError,
    ServiceUnavailableError,
    TransportError,
    UnauthorizedError,
)
from ._http._auth import ClientCredentials
from ._http._retry import USE_CLIENT_DEFAULT, RetryPolicy, UseClientDefault
from ._http._stream import Stream
from ._models import (
    AssetCreationRequest,
    AssetKind,
    AssetMeta,
    AssetUpdateRequest,
    CredentialKind,
    DistFramework,
    Registry,
    RegistryCreationRequest,
    RegistrySpec,
    RegistrySpecRequest,
    RegistryUpdateRequest,
    RepositoryTags,
    Scope,
    WorkloadSupportedTypes,
)
from ._queries import LatestFailure, LatestTag, find_tags, latest_tags
from ._tags import TagFilter, latest, sort_tags, version_key
from ._version import __version__
from ._watch import TagEvent, TagSnapshot, WatchError, watch_tags

__all__ = [
    "ApiError",
    "AssetCreationRequest",
    "AssetKind",
    "AssetMeta",
    "AssetUpdateRequest",
    "BadRequestError",
    "ClientCredentials",
    "ConflictError",
    "CrawlFailure",
    "CrawlResult",
    "CrawlStats",
    "CrawlTags",
    "CredentialKind",
    "DeadlineExceeded",
    "DecodeError",
    "DistFramework",
    "ForbiddenError",
    "LatestFailure",
    "LatestTag",
    "NotFoundError",
    "RedirectError",
    "Registry",
    "RegistryClient",
    "RegistryCreationRequest",
    "RegistrySpec",
    "RegistrySpecRequest",
    "RegistryUpdateRequest",
    "RepositoryTags",
    "RetryPolicy",
    "RunaiError",
    "Scope",
    "ServiceUnavailableError",
    "Stream",
    "TagCrawl",
    "TagEvent",
    "TagFilter",
    "TagSnapshot",
    "TransportError",
    "USE_CLIENT_DEFAULT",
    "UnauthorizedError",
    "UseClientDefault",
    "WatchError",
    "WorkloadSupportedTypes",
    "__version__",
    "crawl_tags",
    "find_tags",
    "latest",
    "latest_tags",
    "sort_tags",
    "version_key",
    "watch_tags",
]
