"""Image references, parsed and normalised as Docker and containerd do.

``busybox`` is ``docker.io/library/busybox:latest``; a name whose first component holds a ``.``
or a ``:`` (or is ``localhost``) starts with a registry domain; otherwise the domain is
``docker.io``.  A reference may carry a tag, a digest, or both.  This is the only module that
parses references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from oci.errors import InvalidReference

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"
OFFICIAL_PREFIX = "library/"
# Names the Docker Hub goes by; all are stored as DEFAULT_DOMAIN.
_DOCKER_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io")
MAX_NAME_LENGTH = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(
    rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$"
)
_PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_ANONYMOUS_ID_RE = re.compile(r"^[a-f0-9]{64}$")


def validate_digest(digest: str) -> str:
    """Return ``digest`` if it is ``sha256:<64 lowercase hex>`` (or sha512), else raise."""
    if not _DIGEST_RE.match(digest):
        raise InvalidReference(
            f'invalid digest "{digest}": want ALGORITHM:HEX, e.g. sha256:<64 hex>'
        )
    algorithm, _, hexpart = digest.partition(":")
    want = _HEX_LENGTH.get(algorithm)
    if want is None:
        raise InvalidReference(f'invalid digest "{digest}": unsupported algorithm "{algorithm}"')
    if len(hexpart) != want or not re.fullmatch(r"[a-f0-9]+", hexpart):
        raise InvalidReference(
            f'invalid digest "{digest}": {algorithm} needs {want} lowercase hex digits'
        )
    return digest


@dataclass(frozen=True)
class Reference:
    """A normalised image reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse and normalise ``text``; raise InvalidReference naming what is wrong."""
        if not isinstance(text, str) or not text:
            raise InvalidReference('invalid reference "": it is empty')
        if _ANONYMOUS_ID_RE.match(text):
            raise InvalidReference(
                f'invalid reference "{text}": a bare 64-hex ID is not a name (use NAME@sha256:...)'
            )

        def bad(what: str) -> InvalidReference:
            return InvalidReference(f'invalid reference "{text}": {what}')

        remainder = text
        digest = None
        if "@" in remainder:
            remainder, _, digest = remainder.partition("@")
            try:
                validate_digest(digest)
            except InvalidReference as e:
                raise bad(str(e).removeprefix("invalid ")) from None
        tag = None
        last_slash = remainder.rfind("/")
        colon = remainder.rfind(":")
        if colon > last_slash:
            remainder, tag = remainder[:colon], remainder[colon + 1 :]
            if not _TAG_RE.match(tag):
                raise bad(
                    f'tag "{tag}" is invalid (up to 128 letters, digits, _ . -; not first . or -)'
                )
        if not remainder:
            raise bad("the repository name is empty")

        domain, path = _split_domain(remainder)
        if not _DOMAIN_RE.match(domain):
            raise bad(f'registry domain "{domain}" is invalid')
        if domain in _DOCKER_HUB_ALIASES:
            domain = DEFAULT_DOMAIN
        if domain == DEFAULT_DOMAIN and "/" not in path:
            path = OFFICIAL_PREFIX + path
        if not path:
            raise bad("the repository path is empty")
        for component in path.split("/"):
            if _PATH_COMPONENT_RE.match(component):
                continue
            if _PATH_COMPONENT_RE.match(component.lower()):
                raise bad("repository name must be lowercase")
            if not component:
                raise bad("the repository path has an empty component")
            raise bad(
                f'path component "{component}" is invalid '
                "(lowercase letters and digits, separated by . _ __ or -)"
            )
        if len(domain) + 1 + len(path) > MAX_NAME_LENGTH:
            raise bad(f"the name is longer than {MAX_NAME_LENGTH} characters")
        if tag is None and digest is None:
            tag = DEFAULT_TAG
        return cls(domain=domain, path=path, tag=tag, digest=digest)

    @property
    def name(self) -> str:
        """``domain/path``, e.g. ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The short name Docker shows: ``busybox`` for ``docker.io/library/busybox``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        return self.path.removeprefix(OFFICIAL_PREFIX)

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/`` in a registry URL: the digest if any, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, self.tag, digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _split_domain(name: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    if not slash:
        return DEFAULT_DOMAIN, name
    looks_like_domain = (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    )
    if not looks_like_domain:
        return DEFAULT_DOMAIN, name
    return first, rest
