"""The emulator's token endpoints, as the 2.24 control plane answers them.

``POST /api/v1/token`` takes the spec's ``TokenRequest`` as JSON, its keys matched
case-insensitively as the control plane's decoder does (the official SDK sends
``AppId``/``AppSecret``): ``grantType`` ``app_token`` with ``appID``/``appSecret``, or
``client_credentials`` with ``clientID``/``clientSecret``. It answers ``accessToken``,
``idToken``, ``refreshToken`` and ``expiresIn``; errors are the spec's Error body.

``POST /api/v2/token`` is OAuth2 (RFC 6749 4.4): a form with ``grant_type``,
``client_id`` and ``client_secret``, answered by ``access_token``, ``token_type`` and
``expires_in``; errors are OAuth2 error bodies.

Tokens are JWT-shaped (with ``exp``), since clients such as the official SDK read the
expiry from the token itself. Pure logic, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import Any
from urllib.parse import parse_qs

import orjson

#: Every grant type the spec's TokenRequest names; the emulator serves the first two.
GRANT_TYPES = (
    "app_token",
    "client_credentials",
    "refresh_token",
    "exchange_token",
    "password",
    "external_token_exchange",
)
_CREDENTIAL_KEYS = {
    "app_token": ("appid", "appsecret"),
    "client_credentials": ("clientid", "clientsecret"),
}
_FORM = "application/x-www-form-urlencoded"

Answer = tuple[int, dict[str, Any]]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Issues tokens for one application and remembers which ones are valid."""

    def __init__(self, token: str, client_id: str, client_secret: str, lifetime: int) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.lifetime = lifetime
        self.issued = 0
        self._valid = {token}
        self._key = os.urandom(32)

    def is_valid(self, token: str) -> bool:
        return token in self._valid

    def expire_all(self) -> None:
        self._valid.clear()

    def answer_v1(self, body: bytes) -> Answer:
        """The status and JSON body for a ``/api/v1/token`` request body."""
        try:
            data: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(400, "Invalid request body", "body is not JSON")
        if not isinstance(data, dict):
            return _error(400, "Invalid request body", "body must be a JSON object")
        fields = {key.lower(): value for key, value in data.items()}
        grant = fields.get("granttype")
        if grant not in GRANT_TYPES:
            return _error(400, "Invalid grant type", "grantType must be one of the spec's")
        if grant not in _CREDENTIAL_KEYS:
            return _error(400, "Unsupported grant type", f"the emulator does not serve {grant}")
        id_key, secret_key = _CREDENTIAL_KEYS[grant]
        client_id, secret = fields.get(id_key), fields.get(secret_key)
        if not isinstance(client_id, str) or not isinstance(secret, str):
            return _error(400, "Invalid request body", f"{grant} needs {id_key} and {secret_key}")
        if not self._matches(client_id, secret):
            return _error(401, "Invalid client credentials", "no application matches them")
        return 200, {
            "accessToken": self._issue_access(),
            "idToken": self._jwt("id"),
            "refreshToken": _b64(os.urandom(24)),
            "expiresIn": self.lifetime,
        }

    def answer_v2(self, body: bytes, content_type: str) -> Answer:
        """The status and JSON body for a ``/api/v2/token`` request (an OAuth2 form)."""
        if content_type != _FORM:
            return _oauth_error(400, "invalid_request", f"the body must be {_FORM}")
        form = parse_qs(body.decode("utf-8", "replace"))
        fields = {key: values[0] for key, values in form.items()}
        grant = fields.get("grant_type")
        if grant is None:
            return _oauth_error(400, "invalid_request", "grant_type is required")
        if grant != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only client_credentials")
        client_id, secret = fields.get("client_id"), fields.get("client_secret")
        if client_id is None or secret is None:
            return _oauth_error(400, "invalid_request", "client_id and client_secret required")
        if not self._matches(client_id, secret):
            return _oauth_error(401, "invalid_client", "client authentication failed")
        return 200, {
            "access_token": self._issue_access(),
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }

    def _matches(self, client_id: str, secret: str) -> bool:
        # Both compared in full, in constant time, as a real token endpoint would.
        same_id = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        same_secret = hmac.compare_digest(secret.encode(), self.client_secret.encode())
        return same_id and same_secret

    def _issue_access(self) -> str:
        token = self._jwt("access")
        self._valid.add(token)
        self.issued += 1
        return token

    def _jwt(self, use: str) -> str:
        """A signed JWT (HS256) for the application, valid for ``lifetime`` seconds."""
        issued_at = int(time.time())
        header = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
        claims = {
            "sub": self.client_id,
            "iat": issued_at,
            "exp": issued_at + self.lifetime,
            "jti": _b64(os.urandom(9)),
            "token_use": use,
        }
        payload = _b64(orjson.dumps(claims))
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{_b64(signature.digest())}"


def _error(status: int, message: str, details: str) -> Answer:
    return status, {"code": status, "message": message, "details": details}


def _oauth_error(status: int, error: str, description: str) -> Answer:
    return status, {"error": error, "error_description": description}
