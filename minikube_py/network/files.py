"""The pod's /etc/hosts and /etc/resolv.conf, written into the pod's directory.

Both are written the way kubelet writes them, into files the runtime then
bind-mounts into every container of the pod.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from minikube_py.errors import NetworkError
from oci.fsutil import atomic_write

HOSTS_FILE = "hosts"
RESOLV_CONF_FILE = "resolv.conf"
HOST_RESOLV_CONF = Path("/etc/resolv.conf")
# What kubelet is pointed at on systemd-resolved hosts: the real upstream
# servers, since the 127.0.0.53 stub is unreachable from a pod's namespace.
SYSTEMD_RESOLV_CONF = Path("/run/systemd/resolve/resolv.conf")
SYSTEMD_STUB = "127.0.0.53"
# glibc's limits, which kubelet also enforces.
MAX_NAMESERVERS = 3
MAX_SEARCH_DOMAINS = 32

_HOSTS_HEADER = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def hosts_content(
    pod_ip: str, hostname: str, host_aliases: Sequence[tuple[str, Sequence[str]]] = ()
) -> str:
    """kubelet's managed /etc/hosts: localhost lines, then the pod's own name."""
    text = _HOSTS_HEADER + f"{pod_ip}\t{hostname}\n"
    if host_aliases:
        text += "\n# Entries added by HostAliases.\n"
        for ip, names in host_aliases:
            text += f"{ip}\t{chr(9).join(names)}\n"
    return text


def write_hosts(
    pod_dir: str | os.PathLike[str],
    pod_ip: str,
    hostname: str,
    host_aliases: Sequence[tuple[str, Sequence[str]]] = (),
) -> Path:
    """Write `<pod_dir>/hosts`; returns its path."""
    path = Path(pod_dir) / HOSTS_FILE
    _write(path, hosts_content(pod_ip, hostname, host_aliases))
    return path


def host_resolv_conf_path(
    host_resolv_conf: Path = HOST_RESOLV_CONF, systemd_resolv_conf: Path = SYSTEMD_RESOLV_CONF
) -> Path:
    """The resolv.conf pods should copy: the host's, or resolved's upstream list behind a stub."""
    try:
        text = host_resolv_conf.read_text()
    except FileNotFoundError:
        return host_resolv_conf
    except OSError as e:
        raise NetworkError(f"cannot read {host_resolv_conf}: {e.strerror}") from None
    if SYSTEMD_STUB in _parse_resolv_conf(text)[0] and systemd_resolv_conf.exists():
        return systemd_resolv_conf
    return host_resolv_conf


def resolv_conf_content(text: str) -> str:
    """A host resolv.conf reduced to what a pod uses: nameservers, search and options."""
    nameservers, search, options = _parse_resolv_conf(text)
    out = [f"nameserver {ns}" for ns in nameservers[:MAX_NAMESERVERS]]
    if search:
        out.append("search " + " ".join(search[:MAX_SEARCH_DOMAINS]))
    if options:
        out.append("options " + " ".join(options))
    return "".join(line + "\n" for line in out)


def write_resolv_conf(
    pod_dir: str | os.PathLike[str],
    host_resolv_conf: Path = HOST_RESOLV_CONF,
    systemd_resolv_conf: Path = SYSTEMD_RESOLV_CONF,
) -> Path:
    """Write `<pod_dir>/resolv.conf` from the host's (dnsPolicy Default); returns its path.

    A host without a resolv.conf gives the pod an empty one, as kubelet does.
    """
    source = host_resolv_conf_path(host_resolv_conf, systemd_resolv_conf)
    try:
        text = source.read_text()
    except FileNotFoundError:
        text = ""
    except OSError as e:
        raise NetworkError(f"cannot read {source}: {e.strerror}") from None
    path = Path(pod_dir) / RESOLV_CONF_FILE
    _write(path, resolv_conf_content(text))
    return path


def _parse_resolv_conf(text: str) -> tuple[list[str], list[str], list[str]]:
    nameservers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        fields = line.split()
        if not fields:
            continue
        key, values = fields[0], fields[1:]
        if key == "nameserver" and values:
            nameservers.append(values[0])
        elif key in ("search", "domain"):
            # The last search or domain line wins, as in glibc.
            search = list(values)
        elif key == "options":
            options.extend(values)
    return nameservers, search, options


def _write(path: Path, text: str) -> None:
    try:
        # made again with every sandbox: atomic for readers, no fsync
        atomic_write(os.fspath(path), text, perm=0o644, durable=False)
    except OSError as e:
        raise NetworkError(f"cannot write {path}: {e.strerror} (errno {e.errno})") from None
