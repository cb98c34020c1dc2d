"""Platforms: OCI names for this host, --platform parsing, choosing from an index."""

from __future__ import annotations

import platform as host

import pytest

from oci.errors import InvalidPlatform, NoMatchingPlatform
from oci.platform import Platform, select_manifest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
KNOWN = (OCI_MANIFEST, DOCKER_MANIFEST)


def entry(name: str, os_name: str, arch: str, variant: str | None = None, media=OCI_MANIFEST):
    platform = {"os": os_name, "architecture": arch}
    if variant:
        platform["variant"] = variant
    return {"mediaType": media, "digest": name, "size": 1, "platform": platform}


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", "linux/amd64"),
        ("aarch64", "linux/arm64/v8"),
        ("armv7l", "linux/arm/v7"),
        ("armv6l", "linux/arm/v6"),
        ("i686", "linux/386"),
        ("ppc64le", "linux/ppc64le"),
        ("s390x", "linux/s390x"),
        ("riscv64", "linux/riscv64"),
    ],
)
def test_host_platform_maps_uname_machine_to_oci_names(monkeypatch, machine, expected):
    monkeypatch.setattr(host, "machine", lambda: machine)
    monkeypatch.setattr(host, "system", lambda: "Linux")
    assert str(Platform.host()) == expected


def test_this_host_is_linux_amd64():
    if host.machine() != "x86_64":
        pytest.skip("checks the x86_64 test machine")
    assert str(Platform.host()) == "linux/amd64"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("Linux/ARM64", "linux/arm64"),
        ("linux/aarch64", "linux/arm64/v8"),
        ("linux/arm/v7", "linux/arm/v7"),
        ("linux/arm/7", "linux/arm/v7"),
    ],
)
def test_platform_flag_parses_and_normalises(text, expected):
    assert str(Platform.parse(text)) == expected


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "a/b/c/d", ""])
def test_bad_platform_flag_is_refused(text):
    with pytest.raises(InvalidPlatform, match="OS/ARCH"):
        Platform.parse(text)


def test_selects_this_platform_and_skips_unknown_media_types():
    manifests = [
        {
            "mediaType": "application/vnd.in-toto+json",
            "digest": "att",
            "platform": {"os": "linux", "architecture": "amd64"},
        },
        entry("arm", "linux", "arm64"),
        entry("amd", "linux", "amd64"),
        {"mediaType": OCI_MANIFEST, "digest": "noplatform", "size": 1},
    ]
    assert (
        select_manifest(manifests, Platform.parse("linux/amd64"), KNOWN, "img")["digest"] == "amd"
    )
    assert (
        select_manifest(manifests, Platform.parse("linux/arm64"), KNOWN, "img")["digest"] == "arm"
    )


def test_arm64_without_variant_matches_v8():
    manifests = [entry("a", "linux", "arm64", "v8")]
    assert select_manifest(manifests, Platform.parse("linux/arm64"), KNOWN, "x")["digest"] == "a"
    manifests = [entry("b", "linux", "arm64")]
    assert select_manifest(manifests, Platform.parse("linux/arm64/v8"), KNOWN, "x")["digest"] == "b"


def test_arm_variant_prefers_exact_then_closest_older():
    manifests = [entry("v5", "linux", "arm", "v5"), entry("v6", "linux", "arm", "v6")]
    assert select_manifest(manifests, Platform.parse("linux/arm/v7"), KNOWN, "x")["digest"] == "v6"
    manifests.append(entry("v7", "linux", "arm", "v7"))
    assert select_manifest(manifests, Platform.parse("linux/arm/v7"), KNOWN, "x")["digest"] == "v7"
    with pytest.raises(NoMatchingPlatform):
        select_manifest(
            [entry("v7", "linux", "arm", "v7")], Platform.parse("linux/arm/v6"), KNOWN, "x"
        )


def test_docker_manifest_list_entries_are_known():
    manifests = [entry("d", "linux", "amd64", media=DOCKER_MANIFEST)]
    assert select_manifest(manifests, Platform.parse("linux/amd64"), KNOWN, "x")["digest"] == "d"


def test_no_match_lists_the_platforms_available():
    manifests = [
        entry("a", "linux", "amd64"),
        entry("b", "linux", "arm", "v7"),
        entry("c", "windows", "amd64"),
    ]
    with pytest.raises(NoMatchingPlatform) as raised:
        select_manifest(manifests, Platform.parse("linux/s390x"), KNOWN, "example.com/app:1")
    assert str(raised.value) == (
        "no manifest for platform linux/s390x in example.com/app:1; "
        "available platforms: linux/amd64, linux/arm/v7, windows/amd64"
    )
