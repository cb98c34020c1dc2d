"""Media types of manifests and indexes, OCI's and Docker's."""

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
SCHEMA1_TYPES = (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED)
# What we send as Accept for a manifest: everything we can use, nothing we cannot.
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
# Docker schema 2 layer types and their OCI names (the bytes are the same).
_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_TO_OCI_LAYER = {
    _DOCKER_LAYER + ".gzip": _OCI_LAYER + "+gzip",
    _DOCKER_LAYER + ".zstd": _OCI_LAYER + "+zstd",
    _DOCKER_LAYER: _OCI_LAYER,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": (
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    ),
}


def docker_to_oci(manifest: dict) -> dict:
    """The OCI image manifest for a Docker schema 2 manifest: same blobs, OCI media types.

    skopeo's and umoci's ``oci:`` readers only see OCI-typed entries, so the store keeps images
    in OCI form (the Docker original stays in the store as the registry's digest).
    """

    def convert(descriptor: dict, types: dict[str, str]) -> dict:
        converted = dict(descriptor)
        media_type = descriptor.get("mediaType", "")
        converted["mediaType"] = types.get(media_type, media_type)
        return converted

    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": convert(manifest["config"], {DOCKER_CONFIG: OCI_CONFIG}),
        "layers": [convert(layer, DOCKER_TO_OCI_LAYER) for layer in manifest["layers"]],
    }
