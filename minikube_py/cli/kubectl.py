"""kubectl's verbs against the agent's API: apply, get, describe, logs, delete.

Output, messages and exit codes follow kubectl (0 ok, 1 error; server errors as
``Error from server (NotFound): pods "x" not found``).  Imports stay lean: ``get`` loads the
client (http.client) and the printers, nothing of the image or runtime layers, no YAML unless
asked for.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from minikube_py.apiserver.client import Client
from minikube_py.apiserver.errors import APIError
from minikube_py.cli.manifests import KIND_OF, SINGULAR, load_objects, name_of

RESOURCE_ALIASES = {
    "pods": "pods",
    "pod": "pods",
    "po": "pods",
    "replicationcontrollers": "replicationcontrollers",
    "replicationcontroller": "replicationcontrollers",
    "rc": "replicationcontrollers",
    "events": "events",
    "event": "events",
    "ev": "events",
}
OUTPUTS = ("wide", "yaml", "json", "name")


class KubectlError(click.ClickException):
    """A usage mistake, reported as kubectl does: ``error: ...`` and exit code 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def socket_path(opts: Any) -> str:
    """The agent's API socket: <run-dir>/api.sock."""
    return os.path.join(opts.run_dir, "api.sock")


def client_for(opts: Any) -> Client:
    return Client(socket_path(opts))


def kubectl_errors(f: Callable[..., Any]) -> Callable[..., Any]:
    """Server errors print as kubectl prints them and exit 1."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except APIError as e:
            click.echo(e.kubectl_message(), err=True)
            sys.exit(1)
        except BrokenPipeError:
            sys.exit(1)

    return wrapper


def resolve_resource(word: str) -> str:
    resource = RESOURCE_ALIASES.get(word.lower())
    if resource is None:
        raise KubectlError(f'the server doesn\'t have a resource type "{word}"')
    return resource


def _namespace(namespace: str | None) -> str:
    return namespace or "default"


def _dump(obj: Any, output: str) -> str:
    if output == "json":
        return json.dumps(obj, indent=4) + "\n"
    import yaml

    class _Dumper(yaml.SafeDumper):
        # kubectl (go-yaml) quotes strings that need it with double quotes
        def choose_scalar_style(self) -> str:
            style = super().choose_scalar_style()
            return '"' if style == "'" else style

    return yaml.dump(obj, Dumper=_Dumper, default_flow_style=False, sort_keys=True)


def _as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


# ------------------------------------------------------------------------------ get


def _rows(
    resource: str,
    items: list[dict[str, Any]],
    *,
    wide: bool,
    all_ns: bool,
    prefix: bool,
    show_labels: bool = False,
) -> tuple[list[str], list[list[str]]]:
    from minikube_py.cli import printers

    pre = SINGULAR[resource] + "/" if prefix else ""
    if resource == "pods":
        header = list(printers.POD_WIDE_COLUMNS if wide else printers.POD_COLUMNS)
        rows = [printers.pod_row(o, wide=wide, namespace=all_ns, prefix=pre) for o in items]
    elif resource == "replicationcontrollers":
        header = list(printers.RC_WIDE_COLUMNS if wide else printers.RC_COLUMNS)
        rows = [printers.rc_row(o, wide=wide, namespace=all_ns, prefix=pre) for o in items]
    else:
        header = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        rows = [_event_row(e) for e in items]
    if all_ns:
        header.insert(0, "NAMESPACE")
    if show_labels:
        header.append("LABELS")
        for row, obj in zip(rows, items, strict=True):
            labels = (obj.get("metadata") or {}).get("labels") or {}
            row.append(",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>")
    return header, rows


def _event_row(e: dict[str, Any]) -> list[str]:
    from minikube_py.cli.printers import age

    inv = e.get("involvedObject") or {}
    target = f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}"
    return [
        age(e.get("lastTimestamp") or e.get("firstTimestamp")),
        e.get("type", ""),
        e.get("reason", ""),
        target,
        str(e.get("message", "")).strip(),
    ]


class _RowPrinter:
    """Table rows for ``-w``: later rows keep the first table's column widths."""

    def __init__(self) -> None:
        self.widths: list[int] | None = None

    def print_table(self, header: list[str], rows: list[list[str]]) -> None:
        from minikube_py.cli.printers import tabwrite

        lines = tabwrite([header, *rows])
        self.widths = [
            max(max(len(line[i]) + 3 for line in (header, *rows)), 6)
            for i in range(len(header) - 1)
        ]
        click.echo("\n".join(lines))

    def print_row(self, header: list[str], row: list[str]) -> None:
        if self.widths is None:
            self.print_table(header, [row])
            return
        cells = [
            cell.ljust(max(w, len(cell) + 3))
            for cell, w in zip(row[:-1], self.widths, strict=False)
        ]
        click.echo(("".join(cells) + row[-1]).rstrip())


@click.command()
@click.argument("resource")
@click.argument("names", nargs=-1)
@click.option("-o", "--output", type=click.Choice(OUTPUTS), help="Output format.")
@click.option("-l", "--selector", help="Label selector (e.g. app=web,tier!=db).")
@click.option("--field-selector", help="Field selector (e.g. status.phase=Running).")
@click.option("-n", "--namespace", help="Namespace (default: default).")
@click.option("-A", "--all-namespaces", is_flag=True, help="List across all namespaces.")
@click.option("-w", "--watch", is_flag=True, help="After listing, watch for changes.")
@click.option("--show-labels", is_flag=True, help="Add a LABELS column.")
@click.pass_obj
@kubectl_errors
def get(
    opts,
    resource,
    names,
    output,
    selector,
    field_selector,
    namespace,
    all_namespaces,
    watch,
    show_labels,
):
    """Display pods, replication controllers or events (kubectl get).

    RESOURCE is pods|po|rc|replicationcontrollers|events|all (comma-separated for several),
    or TYPE/NAME.
    """
    ns = None if all_namespaces else _namespace(namespace)
    targets: list[tuple[str, list[str]]] = []
    if "/" in resource:
        by_type: dict[str, list[str]] = {}
        for word in (resource, *names):
            kind_word, _, name = word.partition("/")
            if not name:
                raise KubectlError(
                    "there is no need to specify a resource type as a separate argument when "
                    "passing arguments in resource/name form"
                )
            by_type.setdefault(resolve_resource(kind_word), []).append(name)
        targets = list(by_type.items())
    else:
        words = resource.split(",")
        resources: list[str] = []
        for word in words:
            if word == "all":
                resources += ["pods", "replicationcontrollers"]
            else:
                resources.append(resolve_resource(word))
        targets = [(r, list(names)) for r in dict.fromkeys(resources)]
    if all_namespaces and any(wanted for _, wanted in targets):
        raise KubectlError("a resource cannot be retrieved by name across all namespaces")
    several_types = len(targets) > 1 or "all" in resource.split(",") or "/" in resource
    if watch and len(targets) > 1:
        raise KubectlError("you may only specify a single resource type with --watch")
    with client_for(opts) as client:
        failed = False
        found: list[tuple[str, list[dict[str, Any]], str]] = []
        for res, wanted in targets:
            if wanted:
                items = []
                for name in wanted:
                    try:
                        items.append(client.get(res, ns or "default", name))
                    except APIError as e:
                        if e.code != 404:
                            raise
                        click.echo(e.kubectl_message(), err=True)
                        failed = True
                found.append((res, items, ""))
            else:
                lst = client.list(res, ns, label_selector=selector, field_selector=field_selector)
                found.append((res, lst["items"], lst["metadata"].get("resourceVersion", "")))
        _print_found(found, output, all_namespaces, several_types, ns, failed, show_labels)
        if watch:
            res, items, rv = found[0]
            if not rv:  # named objects: from the oldest of their versions
                versions = [int(o["metadata"]["resourceVersion"]) for o in items]
                rv = (
                    str(min(versions))
                    if versions
                    else client.list(res, ns)["metadata"]["resourceVersion"]
                )
            _watch(
                client,
                res,
                ns,
                rv,
                selector,
                field_selector,
                targets[0][1],
                output,
                all_namespaces,
                show_labels,
            )
    if failed:
        sys.exit(1)


_printer = _RowPrinter()


def _print_found(
    found: list[tuple[str, list[dict[str, Any]], str]],
    output: str | None,
    all_ns: bool,
    several_types: bool,
    ns: str | None,
    failed: bool,
    show_labels: bool,
) -> None:
    all_items = [o for _, items, _ in found for o in items]
    if output in ("json", "yaml"):
        if not all_items and failed:
            return
        single = len(found) == 1 and len(found[0][1]) == 1 and _named(found)
        click.echo(_dump(all_items[0] if single else _as_list(all_items), output), nl=False)
        return
    if output == "name":
        for o in all_items:
            click.echo(name_of(o))
        return
    if not all_items:
        if not failed:
            where = "" if ns is None else f" in {ns} namespace"
            click.echo(f"No resources found{where}.", err=True)
        return
    first = True
    for res, items, _ in found:
        if not items:
            continue
        if not first:
            click.echo("")
        first = False
        header, rows = _rows(
            res,
            items,
            wide=output == "wide",
            all_ns=all_ns,
            prefix=several_types,
            show_labels=show_labels,
        )
        _printer.print_table(header, rows)


def _named(found: list[tuple[str, list[dict[str, Any]], str]]) -> bool:
    return not found[0][2]  # fetched by name (no list resourceVersion)


def _watch(
    client: Client,
    res: str,
    ns: str | None,
    rv: str,
    selector: str | None,
    field_selector: str | None,
    names: list[str],
    output: str | None,
    all_ns: bool,
    show_labels: bool,
) -> None:
    fields = field_selector
    if len(names) == 1:
        fields = f"metadata.name={names[0]}"
    for _type, obj in client.watch(
        res, ns, resource_version=rv, label_selector=selector, field_selector=fields
    ):
        if names and obj["metadata"]["name"] not in names:
            continue
        if output in ("json", "yaml"):
            click.echo(_dump(obj, output), nl=False)
        elif output == "name":
            click.echo(name_of(obj))
        else:
            header, rows = _rows(
                res,
                [obj],
                wide=output == "wide",
                all_ns=all_ns,
                prefix=False,
                show_labels=show_labels,
            )
            _printer.print_row(header, rows[0])
        sys.stdout.flush()


# ------------------------------------------------------------------------------ apply


@click.command()
@click.option(
    "-f",
    "--filename",
    "filenames",
    multiple=True,
    required=True,
    metavar="FILE|DIR|-",
    help="Manifest file, directory of manifests, or '-' for stdin. Repeatable.",
)
@click.option("-n", "--namespace", help="Namespace for objects that name none.")
@click.pass_obj
@kubectl_errors
def apply(opts, filenames, namespace):
    """Create the pods and replication controllers in FILE (kubectl apply).

    Applying an unchanged object again changes nothing; a pod's spec cannot change once
    created (delete the pod and apply again).
    """
    from minikube_py.cli.apply import apply_files

    code = apply_files(socket_path(opts), filenames, namespace)
    if code:
        sys.exit(code)


# ------------------------------------------------------------------------------ delete


def _bool_option(*names: str, default: bool, help: str) -> Callable[[Any], Any]:
    """A kubectl-style boolean: ``--wait``, ``--wait=true``, ``--wait=false``."""
    return click.option(
        *names, type=click.BOOL, default=default, is_flag=False, flag_value=True, help=help
    )


@click.command()
@click.argument("args", nargs=-1)
@click.option("-f", "--filename", "filenames", multiple=True, help="Delete the objects in FILE.")
@click.option("--all", "all_", is_flag=True, help="Delete every object of the type.")
@click.option("-l", "--selector", help="Delete the objects matching this label selector.")
@click.option("-n", "--namespace", help="Namespace (default: default).")
@click.option(
    "--grace-period",
    type=int,
    default=-1,
    show_default=True,
    help="Seconds to let the pod stop; -1 uses the pod's own terminationGracePeriodSeconds.",
)
@click.option("--force", is_flag=True, help="Remove at once, without waiting for the pod.")
@click.option("--now", is_flag=True, help="Grace period 1 (immediate shutdown).")
@_bool_option("--wait", default=True, help="Wait until the objects are gone (default true).")
@click.option(
    "--timeout", type=float, default=0, help="Seconds to wait for deletion (0: no limit)."
)
@click.pass_obj
@kubectl_errors
def delete(
    opts, args, filenames, all_, selector, namespace, grace_period, force, now, wait, timeout
):
    """Delete pods or replication controllers (kubectl delete).

    delete pod|rc NAME... | TYPE/NAME... | TYPE --all | TYPE -l SELECTOR | -f FILE
    """
    ns = _namespace(namespace)
    targets: list[tuple[str, str, str]] = []  # (resource, namespace, name)
    failed_load = False
    with client_for(opts) as client:
        if filenames:
            if args:
                raise KubectlError("when -f is given, no resource type or names are allowed")
            objects, errors = load_objects(filenames, namespace, verb="delete")
            for error in errors:
                click.echo(f"error: {error}", err=True)
            failed_load = bool(errors)
            for where, res, data in objects:
                meta = data["metadata"]
                if not meta.get("name"):
                    click.echo(f"error: {where}: resource name may not be empty", err=True)
                    failed_load = True
                    continue
                targets.append((res, str(meta["namespace"]), str(meta["name"])))
        elif args and "/" in args[0]:
            for word in args:
                kind_word, _, name = word.partition("/")
                targets.append((resolve_resource(kind_word), ns, name))
        else:
            if not args:
                raise KubectlError(
                    "You must provide one or more resources by argument or filename."
                )
            resources = [resolve_resource(w) for w in args[0].split(",")]
            names = list(args[1:])
            if all_ or selector:
                if names:
                    raise KubectlError("names cannot be provided when a selector or --all")
                for res in resources:
                    items = client.list(res, ns, label_selector=selector)["items"]
                    targets += [(res, ns, o["metadata"]["name"]) for o in items]
                if not targets:
                    click.echo("No resources found")
                    return
            elif not names:
                raise KubectlError("resource(s) were provided, but no name was specified")
            else:
                targets = [(res, ns, n) for res in resources for n in names]

        grace: int | None = grace_period if grace_period >= 0 else None
        if now:
            grace = 1
        if force and grace is None:
            grace = 0
        if grace == 0 and not force:
            grace = 1  # kubectl: grace 0 is only for --force
        if force and grace == 0:
            click.echo(
                "Warning: Immediate deletion does not wait for confirmation that the running "
                "resource has been terminated. The resource may continue to run on the cluster "
                "indefinitely.",
                err=True,
            )
        failed = failed_load
        pending: list[tuple[str, str, str, str, str]] = []
        for res, tns, name in targets:
            try:
                obj = client.delete(res, tns, name, grace_period_seconds=grace)
            except APIError as e:
                click.echo(e.kubectl_message(), err=True)
                failed = True
                continue
            verb = "force deleted" if force and grace == 0 else "deleted"
            click.echo(f'{SINGULAR[res]} "{name}" {verb}')
            meta = obj.get("metadata") or {}
            if meta.get("deletionTimestamp") and obj.get("kind") != "Status":
                pending.append((res, tns, name, meta.get("uid", ""), meta["resourceVersion"]))
        sys.stdout.flush()
        if wait:
            for res, tns, name, uid, rv in pending:
                if not _wait_deleted(client, res, tns, name, uid, rv, timeout):
                    click.echo(
                        f"error: timed out waiting for the condition on {res}/{name}", err=True
                    )
                    failed = True
    if failed:
        sys.exit(1)


def _wait_deleted(
    client: Client, res: str, ns: str, name: str, uid: str, rv: str, timeout: float
) -> bool:
    """Block until the object with ``uid`` is gone (its DELETED event, or it is replaced)."""
    import time

    deadline = time.monotonic() + timeout if timeout > 0 else None
    while True:
        remaining = None
        if deadline is not None:
            remaining = int(max(deadline - time.monotonic(), 1))
        try:
            for type_, obj in client.watch(
                res,
                ns,
                resource_version=rv,
                field_selector=f"metadata.name={name}",
                timeout_seconds=remaining,
            ):
                if obj["metadata"].get("uid") != uid or type_ == "DELETED":
                    return True
        except APIError as e:
            if e.code != 410:
                raise
        try:  # the stream ended or expired: look again
            current = client.get(res, ns, name)
        except APIError as e:
            if e.code == 404:
                return True
            raise
        if current["metadata"].get("uid") != uid:
            return True
        rv = current["metadata"]["resourceVersion"]
        if deadline is not None and time.monotonic() >= deadline:
            return False


# ------------------------------------------------------------------------------ logs


@click.command()
@click.argument("pod")
@click.argument("container_arg", required=False, metavar="[CONTAINER]")
@click.option("-c", "--container", help="The container (default: the only or first one).")
@click.option("-f", "--follow", is_flag=True, help="Stream the log as it grows.")
@click.option("-p", "--previous", is_flag=True, help="The previous instance's log.")
@click.option("--tail", type=int, default=-1, help="Lines of recent log to show (-1: all).")
@click.option("--timestamps", is_flag=True, help="Prefix each line with its RFC3339 time.")
@click.option("-n", "--namespace", help="Namespace (default: default).")
@click.pass_obj
@kubectl_errors
def logs(opts, pod, container_arg, container, follow, previous, tail, timestamps, namespace):
    """Print a container's log (kubectl logs)."""
    ns = _namespace(namespace)
    if "/" in pod:
        kind_word, _, pod = pod.partition("/")
        if resolve_resource(kind_word) != "pods":
            raise KubectlError("logs works on pods (pod/NAME)")
    container = container or container_arg
    with client_for(opts) as client:
        if not container:
            obj = client.get("pods", ns, pod)
            names = [c["name"] for c in obj["spec"].get("containers") or []]
            if len(names) > 1:
                annotations = obj["metadata"].get("annotations") or {}
                container = annotations.get("kubectl.kubernetes.io/default-container") or names[0]
                click.echo(
                    f'Defaulted container "{container}" out of: {", ".join(names)}', err=True
                )
        out = sys.stdout.buffer
        for chunk in client.log(
            ns,
            pod,
            container=container,
            follow=follow,
            previous=previous,
            tail_lines=tail if tail >= 0 else None,
            timestamps=timestamps,
        ):
            out.write(chunk)
            if follow:
                out.flush()
        out.flush()


# ------------------------------------------------------------------------------ describe


@click.command()
@click.argument("resource")
@click.argument("names", nargs=-1)
@click.option("-n", "--namespace", help="Namespace (default: default).")
@click.pass_obj
@kubectl_errors
def describe(opts, resource, names, namespace):
    """Show pods or replication controllers in detail, with their events (kubectl describe).

    describe pod|rc NAME... (all of the type when no NAME is given), or TYPE/NAME.
    """
    from minikube_py.cli.describe import describe_pod, describe_replication_controller

    ns = _namespace(namespace)
    if "/" in resource:
        kind_word, _, first = resource.partition("/")
        res, names = resolve_resource(kind_word), (first, *names)
    else:
        res = resolve_resource(resource)
    if res == "events":
        raise KubectlError("describe works on pods and replicationcontrollers")
    kind = KIND_OF[res]
    with client_for(opts) as client:
        if not names:
            names = tuple(o["metadata"]["name"] for o in client.list(res, ns)["items"])
        failed = False
        texts = []
        for name in names:
            try:
                obj = client.get(res, ns, name)
            except APIError as e:
                click.echo(e.kubectl_message(), err=True)
                failed = True
                continue
            uid = obj["metadata"].get("uid", "")
            events = client.list(
                "events",
                ns,
                field_selector=f"involvedObject.name={name},involvedObject.namespace={ns}",
            )["items"]
            events = [
                e
                for e in events
                if (e.get("involvedObject") or {}).get("uid") in (None, "", uid)
                and (e.get("involvedObject") or {}).get("kind", kind) == kind
            ]
            if res == "pods":
                texts.append(describe_pod(obj, events))
            else:
                selector = ",".join(
                    f"{k}={v}" for k, v in sorted((obj["spec"].get("selector") or {}).items())
                )
                pods = client.list("pods", ns, label_selector=selector)["items"] if selector else []
                texts.append(describe_replication_controller(obj, pods, events))
        if texts:
            click.echo("\n\n".join(t.rstrip("\n") for t in texts))
    if failed:
        sys.exit(1)
