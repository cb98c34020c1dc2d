"""The image manager: imagePullPolicy, as Kubernetes defines it, over oci's ImageService."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from minikube_py.errors import MinikubeError
from oci.errors import InvalidReference, OCIError
from oci.image import ImageService, PreparedImage


class ImagePullError(MinikubeError):
    """A container's image could not be had; `reason` is the waiting reason kubelet shows."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ImageManager:
    def __init__(self, service: ImageService):
        self.service = service
        self.on_pull: Callable[[float], None] = lambda seconds: None  # metrics
        # One pull per reference at a time: concurrent pods of one image share the work.
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, ref: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(ref, threading.Lock())

    def ensure(
        self, image: str, pull_policy: str, pulling: Callable[[], None] = lambda: None
    ) -> tuple[PreparedImage, bool]:
        """The image ready to run, and whether it was pulled now.

        Always: pull (a present image costs a manifest request, no blob).
        IfNotPresent: pull only when not stored.  Never: use the stored one or fail.
        """
        from oci.reference import Reference

        try:
            ref = str(Reference.parse(image))
        except InvalidReference as e:
            raise ImagePullError(
                "InvalidImageName", f'Failed to apply default image tag "{image}": {e}'
            ) from e
        with self._lock(ref):
            present = self.service.store.resolve(ref) is not None
            if present and pull_policy != "Always":
                return self.service.prepare(ref), False
            if not present and pull_policy == "Never":
                raise ImagePullError(
                    "ErrImageNeverPull",
                    f'Container image "{image}" is not present with pull policy of Never',
                )
            pulling()
            started = time.monotonic()
            try:
                prepared = self.service.pull_and_unpack(ref)
            except OCIError as e:
                raise ImagePullError("ErrImagePull", str(e)) from e
            self.on_pull(time.monotonic() - started)
            return prepared, True
