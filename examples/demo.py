"""The demo: a local registry, a busybox image built and pushed to it, and a pod run from it.

    sudo make demo

Starts Debian's docker-registry on a free loopback port, builds a one-layer
busybox image with umoci from Debian's busybox-static and pushes it with
skopeo, then runs examples/pod-httpd-wget.yaml with `minikube-py run -f`
(pulled from that registry) and prints what the wget container fetched.
Everything goes under the usual paths (/var/lib/minikube-py, /run/minikube-py,
/var/log/pods); the registry and its storage live in a temp dir and go away.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from tests.fixtures.images import PATH_ENV, ImageBuilder  # noqa: E402
from tests.fixtures.registry import start_registry  # noqa: E402
from tests.fixtures.rootfs import build_busybox_rootfs  # noqa: E402


def build_and_push(workdir: str, registry) -> str:
    builder = ImageBuilder(workdir, registry)
    builder.new("empty")
    bundle = builder.unpack("empty")
    os.rmdir(os.path.join(bundle, "rootfs"))
    build_busybox_rootfs(os.path.join(bundle, "rootfs"))
    builder.repack(bundle, "busybox")
    builder.config("busybox", "--config.cmd", "sh", "--config.env", PATH_ENV)
    return builder.push("busybox", "busybox").ref


def main() -> int:
    if os.geteuid() != 0:
        print("the demo runs real containers: run it as root (sudo make demo)", file=sys.stderr)
        return 1
    from minikube_py.network import remove_bridge

    bridge_existed = os.path.exists("/sys/class/net/mkpy0")
    with tempfile.TemporaryDirectory(prefix="minikube-py-demo-") as tmp:
        registry = start_registry(os.path.join(tmp, "registry"))
        try:
            print(f"== registry on {registry.host}", flush=True)
            ref = build_and_push(os.path.join(tmp, "image"), registry)
            print(f"== pushed {ref}", flush=True)
            with open(os.path.join(HERE, "pod-httpd-wget.yaml")) as f:
                manifest = f.read().replace("localhost:5000/fixtures/busybox:1.0", ref)
            pod_file = os.path.join(tmp, "pod-httpd-wget.yaml")
            with open(pod_file, "w") as f:
                f.write(manifest)
            print("== minikube-py run -f examples/pod-httpd-wget.yaml", flush=True)
            cli = [sys.executable, "-m", "minikube_py"]
            rc = subprocess.run([*cli, "run", "-f", pod_file]).returncode
            logs = "/var/log/pods"
            runs = [d for d in os.listdir(logs) if d.startswith("default_httpd-wget_")]
            latest = max(runs, key=lambda d: os.stat(os.path.join(logs, d)).st_mtime)
            from minikube_py.logs.reader import read_log

            fetched = b"".join(read_log(os.path.join(logs, latest, "wget", "0.log")))
            print(f"== what the wget container fetched over localhost:\n{fetched.decode()}")
            return rc
        finally:
            registry.stop()
            if not bridge_existed:  # leave the host as the demo found it
                remove_bridge("mkpy0")


if __name__ == "__main__":
    sys.exit(main())
