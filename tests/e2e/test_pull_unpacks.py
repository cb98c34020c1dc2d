"""`minikube-py pull` leaves an image ready to run: its layers unpacked into snapshots."""

from __future__ import annotations

import subprocess
import sys

from oci.image import ImageService, diff_ids_of
from oci.snapshots import chain_ids


def test_pull_unpacks_the_layers_into_snapshots(tmp_path, images):
    root = str(tmp_path / "root")
    r = subprocess.run(
        [sys.executable, "-m", "minikube_py", "--root", root, "pull", "-q", images.multilayer.ref],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    with ImageService(root) as service:
        image = service.store.image(images.multilayer.ref)
        chains = chain_ids(diff_ids_of(image))
        # checked before anything else could unpack them (prepare() would)
        missing = [c for c in chains if not service.snapshots.exists(c)]
    assert len(chains) == 4
    assert missing == []
