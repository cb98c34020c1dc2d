"""A client for the OCI distribution API (``/v2/``) of one registry.

One ``requests.Session`` per client, so connections are reused across the manifest and the
blobs.  Loopback registries (127.0.0.0/8, ::1, localhost) and the ``insecure_registries`` speak
plain HTTP, as Docker does; everything else HTTPS with the system CAs.  Connection errors, 5xx
and 429 are retried with backoff; a blob that breaks off mid-stream is resumed with ``Range``.
Redirects are followed by hand so that ``Authorization`` never leaves the registry's host.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from oci.auth import Authenticator, Credentials
from oci.errors import (
    BlobDownloadError,
    DigestMismatch,
    ImageNotFound,
    RegistryError,
    RegistryUnreachable,
)
from oci.mediatypes import ACCEPT
from oci.reference import DEFAULT_DOMAIN

# The Docker Hub's API lives on another host than its name.
_ENDPOINTS = {DEFAULT_DOMAIN: "registry-1.docker.io"}
MAX_MANIFEST_SIZE = 4 << 20
_CHUNK = 256 << 10
_MAX_REDIRECTS = 5
_RETRY_STATUS = {429, 500, 502, 503, 504}
_SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry: ``attempts`` tries, sleeping base * 2**n (capped)."""

    attempts: int = 5
    backoff: float = 0.1
    max_backoff: float = 5.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after:
            seconds = _parse_retry_after(retry_after)
            if seconds is not None:
                return min(max(seconds, 0.0), self.max_retry_after)
        return min(self.backoff * (2**attempt), self.max_backoff)


def _parse_retry_after(value: str) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return when.timestamp() - time.time()
    return None


def is_insecure(domain: str, insecure_registries: Iterable[str] = ()) -> bool:
    """Plain HTTP for loopback registries and for those named ``HOST[:PORT]`` or by CIDR."""
    host = _host_part(domain)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = None
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
    if address is not None and address.is_loopback:
        return True
    for entry in insecure_registries:
        entry = entry.strip().lower()
        for prefix in ("http://", "https://"):
            entry = entry.removeprefix(prefix)
        entry = entry.rstrip("/")
        if entry in (domain.lower(), host):
            return True
        if "/" in entry and address is not None:
            with contextlib.suppress(ValueError):
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
    return False


def _host_part(domain: str) -> str:
    domain = domain.lower()
    if domain.startswith("["):
        return domain[1 : domain.index("]")]
    return domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain


def _reason(exc: BaseException) -> str:
    """A short human reason for a connection failure: 'connection refused', 'timed out', ..."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, requests.Timeout | TimeoutError):
            return "timed out"
        if isinstance(seen, socket.gaierror):
            return f"host name does not resolve ({seen.strerror})"
        if isinstance(seen, ssl.SSLError):
            reason = getattr(seen, "reason", None) or str(seen)
            return str(reason).lower().replace("_", " ")
        if isinstance(seen, http.client.RemoteDisconnected):
            return "connection closed without a response"
        if isinstance(seen, ConnectionResetError):
            return "connection reset"
        if isinstance(seen, OSError) and seen.errno:
            return os.strerror(seen.errno).lower()
        nested = [a for a in seen.args if isinstance(a, BaseException)]
        seen = (
            seen.__cause__
            or seen.__context__
            or getattr(seen, "reason", None)
            or (nested[0] if nested else None)
        )
    text = str(exc)
    for marker, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "name does not resolve"),
        ("Temporary failure in name resolution", "name does not resolve"),
        ("timed out", "timed out"),
        ("IncompleteRead", "connection closed early"),
        ("Connection broken", "connection broken"),
    ):
        if marker in text:
            return reason
    return text.splitlines()[0] if text else type(exc).__name__


def new_session(pool_size: int = 8) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if os.path.exists(_SYSTEM_CA):
        session.verify = _SYSTEM_CA
    session.headers["User-Agent"] = "minikube-py"
    return session


@dataclass
class Manifest:
    """A manifest or index as the registry sent it."""

    body: bytes
    media_type: str
    digest: str  # sha256 of body, as computed here
    header_digest: str | None = None  # Docker-Content-Digest, if the registry sent one


class RegistryClient:
    """The distribution API of one registry ``domain`` (e.g. ``127.0.0.1:5000``, ``docker.io``)."""

    def __init__(
        self,
        domain: str,
        *,
        insecure_registries: Iterable[str] = (),
        credentials: Credentials | None = None,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.domain = domain
        endpoint = _ENDPOINTS.get(domain, domain)
        scheme = "http" if is_insecure(domain, insecure_registries) else "https"
        self.base_url = f"{scheme}://{endpoint}"
        self.session = session or new_session()
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self.auth = Authenticator(domain, self.session, credentials, timeout)
        self._auth_lock = threading.Lock()

    # -- the API ---------------------------------------------------------------------------

    def ping(self) -> None:
        """``GET /v2/``: proves the registry is there and learns its auth challenge."""
        response = self._send("GET", self.base_url + "/v2/", {}, stream=False)
        if response.status_code == 401:
            self.auth.learn(response.headers.get("WWW-Authenticate"))
        elif response.status_code == 404:
            raise RegistryError(
                f"registry {self.domain} does not speak the distribution API (GET /v2/ gave 404)"
            )
        response.close()

    def get_manifest(self, repo: str, reference: str, what: str) -> Manifest:
        """Fetch the manifest or index ``reference`` (tag or digest) of ``repo``.

        ``what`` names the image in errors (``image not found: WHAT``).
        """
        for attempt in range(1, self.retry.attempts + 1):
            response = self.request(
                "GET", f"/v2/{repo}/manifests/{reference}", repo, what, headers={"Accept": ACCEPT}
            )
            try:
                length = int(response.headers.get("Content-Length") or 0)
                if length > MAX_MANIFEST_SIZE:
                    raise RegistryError(
                        f"manifest {reference} of {what} is {length} bytes, more than the "
                        f"{MAX_MANIFEST_SIZE} a manifest may have"
                    )
                body = response.raw.read(MAX_MANIFEST_SIZE + 1, decode_content=True)
                if length and len(body) != length:
                    raise requests.ConnectionError(f"got {len(body)} of {length} bytes")
                break
            except (requests.RequestException, OSError, _urllib3_errors()) as e:
                if attempt == self.retry.attempts:
                    raise RegistryUnreachable(
                        f"cannot reach registry {self.domain}: reading manifest of {what}: "
                        f"{_reason(e)}"
                    ) from None
                self.sleep(self.retry.delay(attempt - 1))
            finally:
                response.close()
        if len(body) > MAX_MANIFEST_SIZE:
            raise RegistryError(
                f"manifest {reference} of {what} is more than the {MAX_MANIFEST_SIZE} bytes "
                "a manifest may have"
            )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(
            body,
            media_type,
            "sha256:" + hashlib.sha256(body).hexdigest(),
            response.headers.get("Docker-Content-Digest"),
        )

    def fetch_blob(
        self,
        repo: str,
        digest: str,
        size: int,
        out: BinaryIO,
        what: str,
        *,
        progress: Callable[[int], None] | None = None,
        cancelled: threading.Event | None = None,
    ) -> None:
        """Stream blob ``digest`` into ``out``, verifying size and digest as it comes.

        A connection that breaks off is retried, resuming with ``Range`` where the registry
        honours it; on a mismatch DigestMismatch is raised and ``out`` must be discarded.
        """
        algorithm, _, expected_hex = digest.partition(":")
        hasher = hashlib.new(algorithm)
        written = 0
        failures = 0
        last_error = ""
        while True:
            if cancelled is not None and cancelled.is_set():
                raise BlobDownloadError(f"download of blob {digest} for {what} was cancelled")
            headers = {"Range": f"bytes={written}-"} if written else {}
            response = self.request(
                "GET", f"/v2/{repo}/blobs/{digest}", repo, what, headers=headers
            )
            try:
                if response.status_code == 200 and written:
                    # The registry ignored Range: start over.
                    if progress is not None:
                        progress(-written)
                    out.seek(0)
                    out.truncate()
                    hasher = hashlib.new(algorithm)
                    written = 0
                elif response.status_code == 206 and not _range_starts_at(response, written):
                    # Seen when a connection breaks inside the headers: try again.
                    content_range = response.headers.get("Content-Range")
                    raise _Retry(f"asked for bytes {written}- but got range {content_range!r}")
                for chunk in response.raw.stream(_CHUNK, decode_content=False):
                    written += len(chunk)
                    if written > size:
                        raise DigestMismatch(
                            f"digest mismatch for blob {digest} of {what}: registry "
                            f"{self.domain} sent more than the {size} bytes its descriptor says"
                        )
                    hasher.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
                    if cancelled is not None and cancelled.is_set():
                        raise BlobDownloadError(
                            f"download of blob {digest} for {what} was cancelled"
                        )
                if written == size:
                    break
                last_error = f"connection closed after {written} of {size} bytes"
            except (requests.RequestException, OSError, _urllib3_errors()) as e:
                last_error = f"connection dropped after {written} of {size} bytes ({_reason(e)})"
            except _Retry as e:
                last_error = str(e)
            finally:
                response.close()
            failures += 1
            if failures >= self.retry.attempts:
                raise BlobDownloadError(
                    f"download of blob {digest} for {what} from registry {self.domain} failed "
                    f"after {failures} attempts: {last_error}"
                )
            self.sleep(self.retry.delay(failures - 1))
        actual = hasher.hexdigest()
        if actual != expected_hex:
            raise DigestMismatch(
                f"digest mismatch for blob {digest} of {what} from registry {self.domain}: "
                f"its content hashes to {algorithm}:{actual}"
            )

    # -- plumbing ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        repo: str,
        what: str,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """An authenticated, retried, redirect-safe request; raises on anything but 2xx."""
        scope = f"repository:{repo}:pull"
        headers = dict(headers or {})
        url = self.base_url + path
        authorization = self.auth.header_for(scope)
        answered = False
        while True:
            response = self._send(method, url, headers, authorization=authorization)
            if response.status_code != 401:
                break
            response.close()
            if answered:
                raise self.auth.rejected(_repo_name(self.domain, repo))
            with self._auth_lock:
                # A cached token may have expired early: answer the challenge afresh, once.
                self.auth.forget(scope)
                authorization = self.auth.answer(
                    response.headers.get("WWW-Authenticate"), scope, _repo_name(self.domain, repo)
                )
            answered = True
        status = response.status_code
        if 200 <= status < 300:
            return response
        response.close()
        if status == 404:
            if "/blobs/" in path:
                raise RegistryError(
                    f"blob {path.rsplit('/', 1)[1]} of {what} is missing in registry {self.domain}"
                )
            raise ImageNotFound(f"image not found: {what}")
        if status == 403:
            raise RegistryError(
                f"registry {self.domain} denied access to {_repo_name(self.domain, repo)}"
            )
        raise RegistryError(
            f"registry {self.domain} answered {status} {response.reason} for {method} {path}"
        )

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        authorization: str | None = None,
        stream: bool = True,
    ) -> requests.Response:
        """One logical request: retries on connection errors, 5xx and 429; follows redirects,
        sending ``Authorization`` only to the registry's own host."""
        registry_host = urlsplit(self.base_url).netloc
        attempt = 0
        while True:
            try:
                response = self._follow(method, url, headers, authorization, registry_host, stream)
            except requests.exceptions.SSLError as e:
                raise RegistryUnreachable(
                    f"cannot reach registry {self.domain}: TLS failed: {_reason(e)} (for a plain "
                    f"HTTP registry use --insecure-registry {self.domain})"
                ) from None
            except requests.RequestException as e:
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise RegistryUnreachable(
                        f"cannot reach registry {self.domain}: {_reason(e)}"
                    ) from None
                self.sleep(self.retry.delay(attempt - 1))
                continue
            if response.status_code in _RETRY_STATUS and attempt + 1 < self.retry.attempts:
                retry_after = response.headers.get("Retry-After")
                response.close()
                attempt += 1
                self.sleep(self.retry.delay(attempt - 1, retry_after))
                continue
            return response

    def _follow(self, method, url, headers, authorization, registry_host, stream):
        for _ in range(_MAX_REDIRECTS + 1):
            send = dict(headers)
            if authorization and urlsplit(url).netloc == registry_host:
                send["Authorization"] = authorization
            response = self.session.request(
                method,
                url,
                headers=send,
                stream=stream,
                allow_redirects=False,
                timeout=self.timeout,
            )
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            location = response.headers.get("Location")
            response.close()
            if not location:
                raise RegistryError(f"registry {self.domain} redirected {url} without a Location")
            url = urljoin(url, location)
        raise RegistryError(f"registry {self.domain}: too many redirects for {url}")


class _Retry(Exception):
    """A blob response we cannot use this time, worth asking for again."""


def _repo_name(domain: str, repo: str) -> str:
    return f"{domain}/{repo}"


def _range_starts_at(response: requests.Response, offset: int) -> bool:
    content_range = response.headers.get("Content-Range", "")
    # bytes START-END/TOTAL
    try:
        return int(content_range.split()[1].split("-")[0]) == offset
    except (IndexError, ValueError):
        return False


def _urllib3_errors() -> type[BaseException]:
    import urllib3.exceptions

    return urllib3.exceptions.HTTPError
