"""Image references parse and normalise as Docker and containerd do; bad ones say what is wrong."""

from __future__ import annotations

import pytest

from oci.errors import InvalidReference
from oci.reference import Reference, validate_digest

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "normalised", "domain", "path", "tag", "digest"),
    [
        (
            "busybox",
            "docker.io/library/busybox:latest",
            "docker.io",
            "library/busybox",
            "latest",
            None,
        ),
        (
            "library/busybox:1.36",
            "docker.io/library/busybox:1.36",
            "docker.io",
            "library/busybox",
            "1.36",
            None,
        ),
        ("user/app", "docker.io/user/app:latest", "docker.io", "user/app", "latest", None),
        ("ghcr.io/org/app:v1", "ghcr.io/org/app:v1", "ghcr.io", "org/app", "v1", None),
        (
            "127.0.0.1:5000/team/app:v1",
            "127.0.0.1:5000/team/app:v1",
            "127.0.0.1:5000",
            "team/app",
            "v1",
            None,
        ),
        ("localhost/app", "localhost/app:latest", "localhost", "app", "latest", None),
        (
            "localhost:5000/a/b/c",
            "localhost:5000/a/b/c:latest",
            "localhost:5000",
            "a/b/c",
            "latest",
            None,
        ),
        ("[::1]:5000/app:v2", "[::1]:5000/app:v2", "[::1]:5000", "app", "v2", None),
        (
            "index.docker.io/busybox",
            "docker.io/library/busybox:latest",
            "docker.io",
            "library/busybox",
            "latest",
            None,
        ),
        (
            "docker.io/busybox:1",
            "docker.io/library/busybox:1",
            "docker.io",
            "library/busybox",
            "1",
            None,
        ),
        (
            f"app@{DIGEST}",
            f"docker.io/library/app@{DIGEST}",
            "docker.io",
            "library/app",
            None,
            DIGEST,
        ),
        (
            f"app:v1@{DIGEST}",
            f"docker.io/library/app:v1@{DIGEST}",
            "docker.io",
            "library/app",
            "v1",
            DIGEST,
        ),
        (
            "team/a.b-c__d--e:Tag_1.x-y",
            "docker.io/team/a.b-c__d--e:Tag_1.x-y",
            "docker.io",
            "team/a.b-c__d--e",
            "Tag_1.x-y",
            None,
        ),
        (
            "my-reg.example.com:443/x-y/z__w:latest",
            "my-reg.example.com:443/x-y/z__w:latest",
            "my-reg.example.com:443",
            "x-y/z__w",
            "latest",
            None,
        ),
    ],
)
def test_references_normalise_like_docker(text, normalised, domain, path, tag, digest):
    ref = Reference.parse(text)
    assert str(ref) == normalised
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert ref.name == f"{domain}/{path}"
    assert Reference.parse(str(ref)) == ref, "the normalised form parses to itself"


def test_familiar_name_drops_docker_hub_prefixes():
    assert Reference.parse("busybox").familiar_name == "busybox"
    assert Reference.parse("user/app").familiar_name == "user/app"
    assert Reference.parse("ghcr.io/org/app").familiar_name == "ghcr.io/org/app"


def test_registry_reference_is_digest_when_present_else_tag():
    assert Reference.parse("busybox").reference == "latest"
    assert Reference.parse(f"busybox:1@{DIGEST}").reference == DIGEST


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("Busybox", "must be lowercase"),
        ("docker.io/Library/busybox", "must be lowercase"),
        ("app:", 'tag ""'),
        ("app:-x", 'tag "-x"'),
        ("app:" + "x" * 129, "is invalid"),
        ("app@sha256:abc", "64 lowercase hex"),
        ("app@sha256:" + "A" * 64, "64 lowercase hex"),
        ("app@md5:" + "a" * 32, 'unsupported algorithm "md5"'),
        ("app@", "want ALGORITHM:HEX"),
        ("a" * 64, "bare 64-hex ID"),
        ("a//b", "empty component"),
        ("a/b/", "empty component"),
        ("ex ample", 'path component "ex ample"'),
        ("app_/x", 'path component "app_"'),
        ("-bad.example.com/x", 'registry domain "-bad.example.com"'),
        ("example.com:port/x", "invalid"),
        ("example.com/" + "a" * 250, "longer than 255"),
        (":tag", "repository name is empty"),
    ],
)
def test_invalid_references_are_refused_naming_the_problem(text, says):
    with pytest.raises(InvalidReference) as raised:
        Reference.parse(text)
    message = str(raised.value)
    assert message.startswith(f'invalid reference "{text}"')
    assert says in message
    assert "\n" not in message


def test_validate_digest_accepts_sha256_and_sha512():
    assert validate_digest(DIGEST) == DIGEST
    assert validate_digest("sha512:" + "b" * 128)
    with pytest.raises(InvalidReference):
        validate_digest("sha512:" + "b" * 64)
