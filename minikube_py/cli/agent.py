"""`minikube-py agent`: the node agent (kubelet) in the foreground."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

import click

CONFIG_KEYS = (
    "cgroup_parent",
    "pod_cidr",
    "bridge",
    "node_name",
    "manifests",
    "max_pods",
    "backoff_initial",
    "backoff_max",
)


def _load_config(path: str | None) -> dict:
    if not path:
        return {}
    import yaml

    from minikube_py.errors import MinikubeError

    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise MinikubeError(f"agent config {path}: {e}") from e
    if not isinstance(data, dict):
        raise MinikubeError(f"agent config {path}: expected a mapping of options")
    out = {}
    for key, value in data.items():
        norm = str(key).replace("-", "_")
        if norm not in (*CONFIG_KEYS, "root", "run_dir", "log_dir"):
            raise MinikubeError(f"agent config {path}: unknown option {key!r}")
        out[norm] = value
    return out


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML file with any of these options (the command line wins).",
)
@click.option("--cgroup-parent", default=None, help="[minikube-py] parent cgroup of the pods.")
@click.option("--pod-cidr", default=None, help="[10.244.0.0/24] this node's pod CIDR.")
@click.option("--bridge", default=None, help="[mkpy0] the node bridge.")
@click.option("--node-name", default=None, help="[hostname] this node's name.")
@click.option(
    "--manifests",
    default=None,
    type=click.Path(file_okay=False),
    help="Static pods: every file in this directory is a pod or RC.",
)
@click.option("--max-pods", type=int, default=None, help="[110] pods this node runs at most.")
@click.option("--backoff-initial", type=float, default=None, hidden=True)
@click.option("--backoff-max", type=float, default=None, hidden=True)
@click.option(
    "--drain", is_flag=True, help="Stop every pod of this node (grace periods honoured), then exit."
)
@click.pass_obj
def agent(g, config_file, drain, **options):
    """Run the node agent: the API on <run-dir>/api.sock, pod workers, static pods.

    Stopping the agent (Ctrl-C, SIGTERM, even SIGKILL) leaves the pods running; a new
    agent takes them over.  `--drain` stops them all.
    """
    from minikube_py.errors import MinikubeError

    if os.geteuid() != 0:
        raise MinikubeError(
            "the agent needs root (namespaces, mounts, cgroups): sudo minikube-py agent"
        )
    config = _load_config(config_file)
    for key, value in options.items():
        if value is not None:
            config[key] = value
    from minikube_py.kubelet.config import NodeConfig

    node = NodeConfig(
        root=config.get("root", g.root),
        run_dir=config.get("run_dir", g.run_dir),
        log_dir=config.get("log_dir", g.log_dir),
        insecure_registries=g.insecure_registries,
        registry_config=g.registry_config,
    )
    for key in ("cgroup_parent", "pod_cidr", "bridge", "node_name", "max_pods"):
        if key in config:
            setattr(node, key, int(config[key]) if key == "max_pods" else str(config[key]))
    for key in ("backoff_initial", "backoff_max"):  # tests shorten Kubernetes' 10 s .. 300 s
        if config.get(key) is not None:
            setattr(node, key, float(config[key]))
    Agent(node, manifests=config.get("manifests")).run(drain=drain)


class Agent:
    def __init__(self, node, manifests: str | None = None):
        self.node = node
        self.manifests = manifests
        self.socket_path = os.path.join(node.run_dir, "api.sock")
        self._stop = threading.Event()

    def run(self, *, drain: bool = False) -> None:
        from minikube_py.apiserver.server import serve
        from minikube_py.apiserver.store import ObjectStore
        from minikube_py.kubelet.images import ImageManager
        from minikube_py.kubelet.manager import AgentHooks, PodManager
        from minikube_py.network import ensure_bridge
        from minikube_py.shim.client import ShimClient
        from oci.image import ImageService

        node = self.node
        store = ObjectStore(node.root, node_name=node.node_name)
        ensure_bridge(node.bridge, node.pod_cidr)
        runtime = ShimClient.connect(node.run_dir)
        images = ImageManager(
            ImageService(
                node.root,
                insecure_registries=node.insecure_registries,
                registry_config=node.registry_config,
            )
        )
        manager = PodManager(store, node, runtime, images)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        server = serve(store, AgentHooks(manager), self.socket_path)
        for what in manager.collect_garbage():
            print(f"minikube-py agent: removed orphaned {what}", file=sys.stderr, flush=True)
        manager.start()
        if drain:  # no controller: it would replace the pods being stopped
            self._drain(store, manager, runtime)
            server.shutdown()
            return
        from minikube_py.controller.replication import ReplicationManager

        controllers = ReplicationManager(store)
        controllers.start()
        static = None
        if self.manifests:
            from minikube_py.kubelet.static import StaticPods

            static = StaticPods(self.manifests, store, node.node_name)
            static.start()
        print(
            f"minikube-py agent: node {node.node_name}, API on {self.socket_path}, "
            f"pods on {node.bridge} {node.pod_cidr}",
            file=sys.stderr,
            flush=True,
        )
        self._stop.wait()
        # A clean stop leaves the pods running: the shim keeps them, a new agent adopts them.
        if static is not None:
            static.close()
        controllers.close()
        server.shutdown()
        manager.close()
        store.flush(10)  # the last status updates, for the next agent to adopt from
        runtime.close()
        print("minikube-py agent: stopped (pods keep running)", file=sys.stderr, flush=True)

    def _drain(self, store, manager, runtime) -> None:
        from minikube_py.apiserver.errors import APIError

        watch = store.watch("Pod", None)
        items, _ = store.list("Pod", None)
        for obj in items:
            meta = obj["metadata"]
            with contextlib.suppress(APIError):
                store.request_delete("Pod", meta["namespace"], meta["name"])
        remaining = {o["metadata"]["uid"] for o in items}
        while remaining and not self._stop.is_set():
            item = watch.get(timeout=1)
            if item is None:
                remaining &= {o["metadata"]["uid"] for o in store.list("Pod", None)[0]}
                continue
            type_, obj = item
            if type_ == "DELETED":
                remaining.discard(obj["metadata"]["uid"])
        watch.close()
        manager.close()
        store.flush(10)
        runtime.shutdown(force=True)
        from runtime import cgroups
        from runtime.errors import RuntimeErr

        with contextlib.suppress(RuntimeErr, OSError):  # the node's parent, now empty
            cgroups.open_cgroup(self.node.cgroup_parent).destroy()
        print(f"minikube-py agent: drained {len(items)} pod(s)", file=sys.stderr, flush=True)
