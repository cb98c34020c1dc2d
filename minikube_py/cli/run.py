"""`minikube-py run -f FILE`: run pods in the foreground, without an agent."""

from __future__ import annotations

import os
import sys

import click


@click.command()
@click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    required=True,
    metavar="FILE",
    help="Pod manifest (YAML or JSON; '-' for stdin). Repeatable.",
)
@click.option(
    "--cgroup-parent",
    default="minikube-py",
    show_default=True,
    help="Parent cgroup of the pods, relative to this process's own cgroup.",
)
@click.option("--bridge", default="mkpy0", show_default=True, help="Node bridge.")
@click.option("--pod-cidr", default="10.244.0.0/24", show_default=True, help="Node pod CIDR.")
@click.option("--node-name", default=None, help="Node name (default: the hostname).")
@click.option("--backoff-initial", type=float, default=10.0, hidden=True)
@click.option("--backoff-max", type=float, default=300.0, hidden=True)
@click.pass_obj
def run(g, files, cgroup_parent, bridge, pod_cidr, node_name, backoff_initial, backoff_max):
    """Run the pods in FILE in the foreground until they finish (or Ctrl-C).

    Prints each pod's and container's state changes.  Exit code 0 when every
    pod Succeeded.  On Ctrl-C/SIGTERM every container gets its stop signal and
    grace period, then the sandboxes are torn down.
    """
    from minikube_py.api.manifest import load_files
    from minikube_py.errors import MinikubeError
    from minikube_py.kubelet.config import NodeConfig
    from minikube_py.kubelet.runner import Runner

    result = load_files(files)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.replication_controllers:
        rc = result.replication_controllers[0]
        raise MinikubeError(
            f"ReplicationController {rc.name}: run -f runs pods only; use the agent for controllers"
        )
    if os.geteuid() != 0:
        raise MinikubeError("run needs root (namespaces, mounts, cgroups): sudo minikube-py run")
    node = NodeConfig(
        root=g.root,
        run_dir=g.run_dir,
        log_dir=g.log_dir,
        cgroup_parent=cgroup_parent,
        bridge=bridge,
        pod_cidr=pod_cidr,
        insecure_registries=g.insecure_registries,
        registry_config=g.registry_config,
        backoff_initial=backoff_initial,
        backoff_max=backoff_max,
    )
    if node_name:
        node.node_name = node_name
    sys.exit(Runner(node).run(result.pods))
