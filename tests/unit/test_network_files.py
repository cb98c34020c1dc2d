"""The pod's /etc/hosts and /etc/resolv.conf, and the names the pod network derives."""

from __future__ import annotations

import os

import pytest

from minikube_py.errors import NetworkError
from minikube_py.network import files
from minikube_py.network.pod import host_veth_name, netns_path, setup_pod_network


def test_hosts_file_is_kubelets_managed_format(tmp_path):
    path = files.write_hosts(tmp_path, "10.244.0.7", "web")
    assert path == tmp_path / "hosts"
    assert path.read_text() == (
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n"
        "10.244.0.7\tweb\n"
    )
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_hosts_file_lists_host_aliases_after_the_pod(tmp_path):
    path = files.write_hosts(tmp_path, "10.244.0.7", "web", [("10.1.2.3", ["foo", "bar"])])
    assert path.read_text().endswith(
        "10.244.0.7\tweb\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo\tbar\n"
    )


def test_rewriting_hosts_replaces_it_atomically_without_temp_files(tmp_path):
    files.write_hosts(tmp_path, "10.244.0.7", "web")
    files.write_hosts(tmp_path, "10.244.0.8", "web")
    assert "10.244.0.8\tweb\n" in (tmp_path / "hosts").read_text()
    assert os.listdir(tmp_path) == ["hosts"]


def test_resolv_conf_copies_the_hosts_servers_search_and_options(tmp_path):
    host = tmp_path / "host-resolv.conf"
    host.write_text(
        "# generated\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n"
        "search example.com corp.example\noptions ndots:2 edns0\n"
    )
    pod = tmp_path / "pod"
    pod.mkdir()
    path = files.write_resolv_conf(pod, host, tmp_path / "absent")
    assert path == pod / "resolv.conf"
    assert path.read_text() == (
        "nameserver 192.0.2.1\nnameserver 192.0.2.2\n"
        "search example.com corp.example\noptions ndots:2 edns0\n"
    )


def test_resolv_conf_behind_systemd_resolved_stub_uses_the_upstream_servers(tmp_path):
    host = tmp_path / "stub-resolv.conf"
    host.write_text("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n")
    upstream = tmp_path / "upstream-resolv.conf"
    upstream.write_text("nameserver 198.51.100.9\nsearch lan\n")
    pod = tmp_path / "pod"
    pod.mkdir()
    files.write_resolv_conf(pod, host, upstream)
    assert (pod / "resolv.conf").read_text() == "nameserver 198.51.100.9\nsearch lan\n"


def test_resolv_conf_keeps_the_stub_when_resolved_has_no_upstream_file(tmp_path):
    host = tmp_path / "stub-resolv.conf"
    host.write_text("nameserver 127.0.0.53\n")
    assert files.host_resolv_conf_path(host, tmp_path / "absent") == host


def test_resolv_conf_limits_nameservers_to_three_as_glibc(tmp_path):
    host = tmp_path / "r"
    host.write_text("".join(f"nameserver 192.0.2.{i}\n" for i in range(1, 6)))
    text = files.resolv_conf_content(host.read_text())
    assert text.count("nameserver") == 3


def test_missing_host_resolv_conf_gives_an_empty_one(tmp_path):
    files.write_resolv_conf(tmp_path, tmp_path / "none", tmp_path / "none2")
    assert (tmp_path / "resolv.conf").read_text() == ""


def test_unwritable_pod_dir_is_a_network_error_naming_the_file(tmp_path):
    with pytest.raises(NetworkError, match=r"cannot write .*/missing/hosts"):
        files.write_hosts(tmp_path / "missing", "10.244.0.7", "web")


def test_host_veth_name_is_stable_short_and_per_pod():
    name = host_veth_name("7f0c4a52-1d5e-4c8e-9f00-0123456789ab")
    assert name == host_veth_name("7f0c4a52-1d5e-4c8e-9f00-0123456789ab")
    assert name.startswith("veth") and len(name) == 12
    assert name != host_veth_name("another-uid")


def test_netns_given_as_pid_means_its_proc_path():
    assert netns_path(1234) == "/proc/1234/ns/net"
    assert netns_path("/run/netns/x") == "/run/netns/x"


def test_missing_network_namespace_is_a_clear_error(tmp_path):
    from minikube_py.network import NetworkConfig

    config = NetworkConfig(state_root=tmp_path, bridge="mktnone", cidr="10.233.1.0/24")
    with pytest.raises(NetworkError, match=r"open network namespace /nonexistent/ns of pod web"):
        setup_pod_network("/nonexistent/ns", "uid-1", "web", config)
    assert not (tmp_path / "network").exists()
