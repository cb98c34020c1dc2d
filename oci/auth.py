"""Registry credentials and the distribution API's auth: Basic, and Bearer tokens from challenges.

Credentials come from a Docker-style ``config.json`` (``auths`` entries with ``auth`` =
base64(user:pass) or ``username``/``password``): the path given (``--registry-config``), else
``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``.  A ``WWW-Authenticate: Bearer``
challenge names a token realm, service and scope; tokens are cached per scope until they
expire.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from oci.errors import AuthenticationRequired, RegistryConfigError, RegistryUnreachable
from oci.reference import DEFAULT_DOMAIN

# Docker Hub's credentials are usually stored under its v1 index URL.
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io", "docker.io")
# When a token response gives no lifetime, the token spec says assume 60 seconds.
DEFAULT_TOKEN_LIFETIME = 60
# Renew a little before the registry's deadline.
_EXPIRY_MARGIN = 5


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


def _host_of_key(key: str) -> str:
    """``https://host:5000/v2/`` or ``host:5000`` -> ``host:5000`` (how config.json keys vary)."""
    if "://" in key:
        key = urlsplit(key).netloc
    return key.split("/", 1)[0].lower()


class DockerConfig:
    """The ``auths`` of a Docker-style config.json, looked up by registry domain."""

    def __init__(self, auths: dict[str, Credentials] | None = None, path: str | None = None):
        self.auths = auths or {}
        self.path = path

    @classmethod
    def load(cls, path: str | None = None) -> DockerConfig:
        """Read the config at ``path``, or the default locations; a missing default is no creds."""
        if path is None:
            docker_config = os.environ.get("DOCKER_CONFIG")
            if docker_config:
                candidate = os.path.join(docker_config, "config.json")
            else:
                candidate = os.path.join(os.path.expanduser("~"), ".docker", "config.json")
            if not os.path.exists(candidate):
                return cls()
            path = candidate
        try:
            with open(path, encoding="utf-8") as f:
                document = json.load(f)
        except FileNotFoundError:
            raise RegistryConfigError(f"registry config {path}: file not found") from None
        except (OSError, ValueError) as e:
            raise RegistryConfigError(f"registry config {path}: cannot read it: {e}") from None
        auths_doc = document.get("auths", {}) if isinstance(document, dict) else None
        if not isinstance(auths_doc, dict):
            raise RegistryConfigError(f'registry config {path}: "auths" must be an object')
        auths: dict[str, Credentials] = {}
        for key, entry in auths_doc.items():
            creds = _parse_entry(path, key, entry)
            if creds:
                auths[_host_of_key(key)] = creds
        return cls(auths, path)

    def lookup(self, domain: str) -> Credentials | None:
        domain = domain.lower()
        if domain == DEFAULT_DOMAIN:
            for key in _HUB_KEYS:
                creds = self.auths.get(_host_of_key(key))
                if creds:
                    return creds
        return self.auths.get(domain)


def _parse_entry(path: str, key: str, entry: object) -> Credentials | None:
    if not isinstance(entry, dict):
        raise RegistryConfigError(f'registry config {path}: auths."{key}" must be an object')
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"], validate=False).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise RegistryConfigError(
                f'registry config {path}: auths."{key}".auth is not base64 of USER:PASSWORD'
            ) from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise RegistryConfigError(
                f'registry config {path}: auths."{key}".auth is not base64 of USER:PASSWORD'
            )
        return Credentials(username, password)
    if entry.get("username"):
        return Credentials(str(entry["username"]), str(entry.get("password", "")))
    return None


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "bearer" or "basic"
    params: dict[str, str]


_CHALLENGE_PARAM = re.compile(r'\s*([a-zA-Z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` header: ``Bearer realm="...",service="...",scope="..."``."""
    challenges: list[Challenge] = []
    rest = header.strip()
    while rest:
        match = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", rest)
        if not match:
            break
        scheme = match.group(1).lower()
        rest = rest[match.end() :]
        params: dict[str, str] = {}
        while True:
            param = _CHALLENGE_PARAM.match(rest)
            if not param:
                break
            value = param.group(2) if param.group(2) is not None else param.group(3)
            params[param.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
            rest = rest[param.end() :]
        challenges.append(Challenge(scheme, params))
        rest = rest.lstrip(", ")
    return challenges


def basic_header(creds: Credentials) -> str:
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    return f"Basic {token}"


class TokenCache:
    """Bearer tokens per (realm, service, scope), dropped when they expire.  Thread-safe."""

    def __init__(self, clock=time.monotonic):
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: tuple[str, str, str]) -> str | None:
        with self._lock:
            entry = self._tokens.get(key)
            if entry and entry[1] > self._clock():
                return entry[0]
            self._tokens.pop(key, None)
            return None

    def drop(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def put(self, key: tuple[str, str, str], token: str, lifetime: float) -> None:
        with self._lock:
            self._tokens[key] = (token, self._clock() + max(lifetime - _EXPIRY_MARGIN, 1))


class Authenticator:
    """Turns challenges into ``Authorization`` headers for one registry.

    ``header_for(scope)`` gives what to send before any challenge was seen (a cached token, or
    Basic once the registry asked for it); ``answer(challenge_header, scope, repo)`` handles a
    401 and says whether a retry is worth it.
    """

    def __init__(self, domain: str, session, credentials: Credentials | None, timeout=(10, 60)):
        self.domain = domain
        self.session = session
        self.credentials = credentials
        self.timeout = timeout
        self.tokens = TokenCache()
        self._bearer: dict[str, str] | None = None
        self._basic = False

    def header_for(self, scope: str | None) -> str | None:
        if self._bearer is not None:
            token = self.tokens.get(self._token_key(self._bearer, scope))
            return f"Bearer {token}" if token else None
        if self._basic and self.credentials:
            return basic_header(self.credentials)
        return None

    def forget(self, scope: str | None) -> None:
        """Drop the cached token for ``scope`` (the registry refused it)."""
        if self._bearer is not None:
            self.tokens.drop(self._token_key(self._bearer, scope))

    def learn(self, header: str | None) -> None:
        """Remember a registry's challenge (from the /v2/ ping) without fetching anything yet."""
        for challenge in parse_challenges(header or ""):
            if challenge.scheme == "bearer" and "realm" in challenge.params:
                self._bearer = challenge.params
                return
            if challenge.scheme == "basic":
                self._basic = True
                return

    def answer(self, header: str | None, scope: str | None, repo: str) -> str:
        """The ``Authorization`` to retry a 401 with; AuthenticationRequired if we have none."""
        for challenge in parse_challenges(header or ""):
            if challenge.scheme == "bearer" and "realm" in challenge.params:
                self._bearer = challenge.params
                return f"Bearer {self.fetch_token(challenge.params, scope, repo)}"
            if challenge.scheme == "basic" and self.credentials:
                self._basic = True
                return basic_header(self.credentials)
        raise AuthenticationRequired(f"authentication required for {repo}")

    def rejected(self, repo: str) -> AuthenticationRequired:
        """The error for a 401 that came back after we did authenticate."""
        if self.credentials:
            return AuthenticationRequired(
                f"authentication required for {repo}: registry {self.domain} rejected the "
                f"credentials of user {self.credentials.username}"
            )
        return AuthenticationRequired(f"authentication required for {repo}")

    def _token_key(self, params: dict[str, str], scope: str | None) -> tuple[str, str, str]:
        return (
            params.get("realm", ""),
            params.get("service", ""),
            scope or params.get("scope", ""),
        )

    def fetch_token(self, params: dict[str, str], scope: str | None, repo: str) -> str:
        key = self._token_key(params, scope)
        cached = self.tokens.get(key)
        if cached:
            return cached
        query = {}
        if params.get("service"):
            query["service"] = params["service"]
        scopes = [s for s in {scope, params.get("scope")} if s]
        if scopes:
            query["scope"] = sorted(scopes)
        headers = {}
        if self.credentials:
            headers["Authorization"] = basic_header(self.credentials)
        import requests

        try:
            response = self.session.get(
                params["realm"], params=query, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as e:
            host = urlsplit(params["realm"]).netloc or params["realm"]
            raise RegistryUnreachable(
                f"cannot reach token service {host} for registry {self.domain}: {e}"
            ) from None
        if response.status_code in (401, 403):
            raise self.rejected(repo)
        if response.status_code != 200:
            raise AuthenticationRequired(
                f"authentication required for {repo}: token service {params['realm']} answered "
                f"{response.status_code}"
            )
        try:
            body = response.json()
        except ValueError:
            body = {}
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise AuthenticationRequired(
                f"authentication required for {repo}: token service {params['realm']} gave no token"
            )
        lifetime = body.get("expires_in") or DEFAULT_TOKEN_LIFETIME
        try:
            lifetime = float(lifetime)
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        self.tokens.put(key, token, lifetime)
        return token
