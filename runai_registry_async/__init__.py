"""An asyncio client for the Registry assets of the NVIDIA Run:ai REST API."""

from ._auth import ClientCredentials
from ._client import RegistryClient
from ._crawl import CrawlResult, CrawlStats, TagCrawl, crawl_tags
from ._errors import (
    ApiError,
    BadRequestError,
    ConflictError,
    DecodeError,
    ForbiddenError,
    NotFoundError,
    RedirectError,
    RunaiError,
    ServiceUnavailableError,
    TransportError,
    UnauthorizedError,
)
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
    RegistryUpdateRequest,
    RepositoryTags,
    Scope,
    WorkloadSupportedTypes,
)
from ._retry import RetryPolicy

__all__ = [
    "ApiError",
    "AssetCreationRequest",
    "AssetKind",
    "AssetMeta",
    "AssetUpdateRequest",
    "BadRequestError",
    "ClientCredentials",
    "ConflictError",
    "CrawlResult",
    "CrawlStats",
    "CredentialKind",
    "DecodeError",
    "DistFramework",
    "ForbiddenError",
    "NotFoundError",
    "RedirectError",
    "Registry",
    "RegistryClient",
    "RegistryCreationRequest",
    "RegistrySpec",
    "RegistryUpdateRequest",
    "RepositoryTags",
    "RetryPolicy",
    "RunaiError",
    "Scope",
    "ServiceUnavailableError",
    "TagCrawl",
    "TransportError",
    "UnauthorizedError",
    "WorkloadSupportedTypes",
    "crawl_tags",
]
