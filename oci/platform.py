"""Platforms (os/arch/variant) and choosing one manifest out of an image index.

Names are OCI's (``amd64``, ``arm64``, ``arm``, ``386``), not the kernel's (``x86_64``,
``aarch64``).  For ``arm64`` an absent variant means ``v8``; an ``arm/v7`` host also runs
``v6`` and ``v5`` images, preferring the closest.
"""

from __future__ import annotations

import platform as _host
from collections.abc import Iterable
from dataclasses import dataclass

from oci.errors import InvalidPlatform, NoMatchingPlatform

# uname -m (and common aliases) -> (OCI architecture, variant)
_MACHINE = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "x86-64": ("amd64", None),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", None),
    "armv8l": ("arm", "v8"),
    "armv7l": ("arm", "v7"),
    "armhf": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armel": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "i386": ("386", None),
    "i486": ("386", None),
    "i586": ("386", None),
    "i686": ("386", None),
    "x86": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
    "mips64": ("mips64", None),
    "mips64el": ("mips64le", None),
    "loongarch64": ("loong64", None),
}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


def _normalise(os_name: str, arch: str, variant: str | None) -> tuple[str, str, str | None]:
    os_name = os_name.lower()
    arch = arch.lower()
    variant = variant.lower() if variant else None
    mapped = _MACHINE.get(arch)
    if mapped:
        arch, implied = mapped
        variant = variant or implied
    if arch == "arm64" and variant == "8":
        variant = "v8"
    if arch == "arm" and variant in ("5", "6", "7", "8"):
        variant = "v" + variant
    return os_name, arch, variant


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/arch[/variant]`` (e.g. ``linux/arm64``, ``linux/arm/v7``)."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidPlatform(
                f'invalid platform "{text}": want OS/ARCH[/VARIANT], e.g. linux/amd64'
            )
        return cls(*_normalise(parts[0], parts[1], parts[2] if len(parts) == 3 else None))

    @classmethod
    def host(cls) -> Platform:
        """The platform of this machine, by ``platform.machine()``."""
        machine = _host.machine()
        arch, variant = _MACHINE.get(machine.lower(), (machine.lower(), None))
        return cls(_host.system().lower() or "linux", arch, variant)

    @classmethod
    def from_descriptor(cls, platform: dict) -> Platform:
        return cls(
            *_normalise(
                str(platform.get("os", "")),
                str(platform.get("architecture", "")),
                platform.get("variant") or None,
            )
        )

    def rank(self, other: Platform) -> int | None:
        """How well an image for ``other`` suits this platform: 0 best, None if it cannot run."""
        if other.os != self.os or other.architecture != self.architecture:
            return None
        mine = self.variant or _DEFAULT_VARIANT.get(self.architecture)
        theirs = other.variant or _DEFAULT_VARIANT.get(other.architecture)
        if self.variant is None or mine == theirs:
            return 0 if mine == theirs else 1
        if self.architecture == "arm" and mine and theirs:
            # An arm/vN host runs vM images for M < N; prefer the closest.
            try:
                gap = int(mine[1:]) - int(theirs[1:])
            except ValueError:
                return None
            return gap if gap > 0 else None
        return None

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


def select_manifest(
    manifests: Iterable[dict], want: Platform, known_types: Iterable[str], what: str
) -> dict:
    """Pick the descriptor in an index's ``manifests`` that best suits ``want``.

    Entries of unknown media type or without a platform are skipped.  ``what`` names the image
    in the error, which lists every platform the index offers.
    """
    known = set(known_types)
    best: tuple[int, int, dict] | None = None
    available: list[str] = []
    for position, descriptor in enumerate(manifests):
        if descriptor.get("mediaType") not in known or not isinstance(
            descriptor.get("platform"), dict
        ):
            continue
        offered = Platform.from_descriptor(descriptor["platform"])
        available.append(str(offered))
        rank = want.rank(offered)
        if rank is not None and (best is None or (rank, position) < best[:2]):
            best = (rank, position, descriptor)
    if best is None:
        listing = ", ".join(available) if available else "none"
        raise NoMatchingPlatform(
            f"no manifest for platform {want} in {what}; available platforms: {listing}"
        )
    return best[2]
