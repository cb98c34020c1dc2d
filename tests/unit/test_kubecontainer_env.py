"""A container's argv, env, cwd and user, built from the pod and the image as Kubernetes does."""

from __future__ import annotations

import os
import textwrap

import pytest

from minikube_py.api import load_string
from minikube_py.errors import CreateContainerConfigError
from minikube_py.kubecontainer import ImageConfig, build_process, expand, mapping_for, resolve_user
from minikube_py.kubecontainer.env import DEFAULT_PATH, field_ref_value


def make_pod(container_yaml: str, spec_extra: str = "", meta_extra: str = ""):
    text = textwrap.dedent(
        """\
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          namespace: shop
          labels: {app: web, tier: front}
          annotations: {owner: team-a}
        {meta_extra}
        spec:
          nodeName: node-1
        {spec_extra}
          containers:
          - name: c
            image: busybox:1.36
        {container}
        """
    )
    indent = "    "
    text = text.replace("{container}", textwrap.indent(textwrap.dedent(container_yaml), indent))
    text = text.replace("{spec_extra}", textwrap.indent(textwrap.dedent(spec_extra), "  "))
    text = text.replace("{meta_extra}", textwrap.indent(textwrap.dedent(meta_extra), "  "))
    pod = load_string(text).pods[0]
    return pod, pod.spec.containers[0]


IMAGE = {"Entrypoint": ["/ep-1"], "Cmd": ["foo", "bar"]}


# The table in the Kubernetes docs ("Define a Command and Arguments for a Container", Notes).
@pytest.mark.parametrize(
    ("container", "argv"),
    [
        ("", ["/ep-1", "foo", "bar"]),
        ("command: [/ep-2]", ["/ep-2"]),
        ("args: [zoo, boo]", ["/ep-1", "zoo", "boo"]),
        ("command: [/ep-2]\nargs: [zoo, boo]", ["/ep-2", "zoo", "boo"]),
    ],
    ids=["image-defaults", "command-drops-cmd", "args-keep-entrypoint", "both-replaced"],
)
def test_command_and_args_versus_entrypoint_and_cmd(container, argv):
    pod, c = make_pod(container)
    assert build_process(pod, c, IMAGE).args == argv


def test_image_with_only_cmd_runs_cmd():
    pod, c = make_pod("")
    assert build_process(pod, c, {"Cmd": ["sh"]}).args == ["sh"]


def test_empty_string_entrypoint_means_no_entrypoint():
    pod, c = make_pod("")
    assert build_process(pod, c, {"Entrypoint": [""], "Cmd": ["sh"]}).args == ["sh"]


def test_nothing_to_run_is_a_create_container_config_error():
    pod, c = make_pod("")
    with pytest.raises(
        CreateContainerConfigError, match=r'container "c" of pod shop/web: no command'
    ):
        build_process(pod, c, {})


# $(VAR) expansion, the behaviour kubelet's expansion tests pin down.
EXPANSION_ENV = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"),
        ("$(VAR_EMPTY)", ""),
        ("$(VAR_DNE)", "$(VAR_DNE)"),
        ("$(VAR_REF)", "$(VAR_A)"),  # values are not expanded twice
        ("$$(VAR_A)", "$(VAR_A)"),
        ("$$$(VAR_A)", "$A"),
        ("$$$$(VAR_A)", "$$(VAR_A)"),
        ("f000-$$VAR_A", "f000-$VAR_A"),
        ("$VAR_A", "$VAR_A"),
        ("$(VAR_A", "$(VAR_A"),
        ("$(VAR_A)$", "A$"),
        ("$", "$"),
        ("$$", "$"),
        ("$()", "$()"),
        ("$($(VAR_A))", "$($(VAR_A))"),
        ("no vars", "no vars"),
        ("", ""),
    ],
)
def test_expansion(text, want):
    assert expand(text, mapping_for(EXPANSION_ENV)) == want


def test_env_expands_against_variables_declared_before_it():
    pod, c = make_pod(
        """\
        env:
        - {name: A, value: a}
        - {name: B, value: "$(A)-$(C)"}
        - {name: C, value: c}
        - {name: D, value: "$$(A)"}
        """
    )
    env = build_process(pod, c, IMAGE).env
    assert "B=a-$(C)" in env  # C comes later: left verbatim
    assert "D=$(A)" in env


def test_command_and_args_expand_against_the_whole_container_env_not_the_image_env():
    pod, c = make_pod(
        """\
        command: [echo, "$(GREETING)", "$(LATER)"]
        args: ["$(PATH)", "$(NAME)"]
        env:
        - {name: GREETING, value: hello}
        - name: NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - {name: LATER, value: later}
        """
    )
    image = {"Entrypoint": ["/bin/sh"], "Env": ["PATH=/image/bin"]}
    assert build_process(pod, c, image).args == ["echo", "hello", "later", "$(PATH)", "web"]


def test_image_env_then_container_env_overriding_in_place():
    pod, c = make_pod(
        """\
        env:
        - {name: FOO, value: from-pod}
        - {name: NEW, value: "1"}
        - {name: PATH, value: /pod/bin}
        """
    )
    image = {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin", "FOO=bar", "KEEP=yes"]}
    env = build_process(pod, c, image, hostname="web").env
    assert env == ["PATH=/pod/bin", "HOSTNAME=web", "FOO=from-pod", "KEEP=yes", "NEW=1"]


def test_default_path_when_the_image_has_none():
    pod, c = make_pod("")
    assert build_process(pod, c, {"Cmd": ["sh"]}).env == [f"PATH={DEFAULT_PATH}"]


def test_duplicate_container_env_names_keep_the_last_value():
    pod, c = make_pod("env: [{name: X, value: one}, {name: X, value: two}]")
    assert [e for e in build_process(pod, c, IMAGE).env if e.startswith("X=")] == ["X=two"]


@pytest.mark.parametrize(
    ("field_path", "want"),
    [
        ("metadata.name", "web"),
        ("metadata.namespace", "shop"),
        ("spec.nodeName", "node-1"),
        ("spec.serviceAccountName", "default"),
        ("status.podIP", "10.244.0.7"),
        ("status.podIPs", "10.244.0.7"),
        ("status.hostIP", "192.168.1.5"),
        ("metadata.labels['app']", "web"),
        ("metadata.labels['missing']", ""),
        ("metadata.annotations['owner']", "team-a"),
    ],
)
def test_field_refs_resolve_from_the_pod(field_path, want):
    pod, c = make_pod(f'env: [{{name: V, valueFrom: {{fieldRef: {{fieldPath: "{field_path}"}}}}}}]')
    env = build_process(pod, c, IMAGE, pod_ip="10.244.0.7", host_ip="192.168.1.5").env
    assert f"V={want}" in env


def test_uid_field_ref_is_the_pods_uid():
    pod, _ = make_pod("")
    assert field_ref_value(pod, "metadata.uid") == pod.uid != ""


def test_whole_label_map_renders_as_the_downward_api_does():
    # Not allowed in env (validation rejects it), but downwardAPI volumes will use this.
    pod, _ = make_pod("")
    assert field_ref_value(pod, "metadata.labels") == 'app="web"\ntier="front"'


def test_config_map_refs_are_not_supported_yet():
    pod, c = make_pod("env: [{name: V, valueFrom: {configMapKeyRef: {name: cfg, key: k}}}]")
    with pytest.raises(
        CreateContainerConfigError, match=r"valueFrom.configMapKeyRef is not supported"
    ):
        build_process(pod, c, IMAGE)


def test_working_dir_over_the_images_and_root_by_default():
    pod, c = make_pod("workingDir: /srv")
    assert build_process(pod, c, {"Cmd": ["sh"], "WorkingDir": "/work"}).cwd == "/srv"
    pod, c = make_pod("")
    assert build_process(pod, c, {"Cmd": ["sh"], "WorkingDir": "/work"}).cwd == "/work"
    assert build_process(pod, c, {"Cmd": ["sh"]}).cwd == "/"


@pytest.mark.parametrize(
    ("container", "spec_extra", "image_user", "want"),
    [
        ("", "", "", "0"),
        ("", "", "1000:1000", "1000:1000"),
        ("", "", "nobody", "nobody"),
        ("securityContext: {runAsUser: 2000}", "", "1000:1000", "2000"),
        ("securityContext: {runAsUser: 2000, runAsGroup: 3000}", "", "app", "2000:3000"),
        ("securityContext: {runAsGroup: 3000}", "", "app:staff", "app:3000"),
        ("", "securityContext: {runAsUser: 4000}", "app", "4000"),
        ("securityContext: {runAsUser: 5}", "securityContext: {runAsUser: 4000}", "", "5"),
    ],
)
def test_effective_user(container, spec_extra, image_user, want):
    pod, c = make_pod(container, spec_extra=spec_extra)
    assert build_process(pod, c, {"Cmd": ["sh"], "User": image_user}).user == want


def test_run_as_non_root_rejects_root_and_names():
    pod, c = make_pod("securityContext: {runAsNonRoot: true}")
    with pytest.raises(CreateContainerConfigError, match="image will run as root"):
        build_process(pod, c, {"Cmd": ["sh"]})
    with pytest.raises(CreateContainerConfigError, match=r"non-numeric user \(nobody\)"):
        build_process(pod, c, {"Cmd": ["sh"], "User": "nobody"})
    assert build_process(pod, c, {"Cmd": ["sh"], "User": "1000"}).user == "1000"


def test_image_config_accepts_oci_json_and_objects():
    class Cfg:
        entrypoint = ["/bin/sh", "-c"]
        cmd = ["echo hello"]
        env = ["FOO=bar"]
        working_dir = "/work"
        user = "1000:1000"

    oci = {
        "config": {
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["echo hello"],
            "Env": ["FOO=bar"],
            "WorkingDir": "/work",
            "User": "1000:1000",
        }
    }
    assert (
        ImageConfig.from_any(Cfg())
        == ImageConfig.from_any(oci)
        == ImageConfig.from_any(oci["config"])
    )
    pod, c = make_pod("")
    proc = build_process(pod, c, Cfg())
    assert (proc.args, proc.cwd, proc.user) == (
        ["/bin/sh", "-c", "echo hello"],
        "/work",
        "1000:1000",
    )


# ------------------------------------------------------------------------------ resolve_user


@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "# a comment\n"
        "app:x:1000:1000::/home/app:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        "broken-line\n"
    )
    (root / "etc/group").write_text(
        "root:x:0:\napp:x:1000:\nstaff:x:50:app,other\nwheel:x:10:app\n"
    )
    return str(root)


@pytest.mark.parametrize(
    ("user", "want"),
    [
        ("", (0, 0, [0])),
        ("0", (0, 0, [0])),
        ("root", (0, 0, [0])),
        ("app", (1000, 1000, [1000, 50, 10])),
        ("1000", (1000, 1000, [1000, 50, 10])),
        ("1000:1000", (1000, 1000, [1000, 50, 10])),
        ("app:staff", (1000, 50, [50, 10])),
        ("nobody", (65534, 65534, [65534])),
        ("4242", (4242, 0, [0])),  # unknown numeric uid: fine, gid 0
        ("4242:77", (4242, 77, [77])),
    ],
)
def test_resolve_user_reads_the_containers_passwd_and_group(rootfs, user, want):
    assert resolve_user(rootfs, user) == want


def test_resolve_user_adds_supplemental_groups(rootfs):
    assert resolve_user(rootfs, "nobody", [2000, 65534]) == (65534, 65534, [65534, 2000])


def test_unknown_names_are_errors(rootfs):
    with pytest.raises(CreateContainerConfigError, match=r'unable to find user "ghost"'):
        resolve_user(rootfs, "ghost")
    with pytest.raises(CreateContainerConfigError, match=r'unable to find group "ghosts"'):
        resolve_user(rootfs, "app:ghosts")


def test_no_passwd_file_still_allows_numeric_users(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert resolve_user(str(empty), "123:456") == (123, 456, [456])
    with pytest.raises(CreateContainerConfigError):
        resolve_user(str(empty), "app")


def test_passwd_symlink_out_of_the_rootfs_is_not_followed(tmp_path):
    host_etc = tmp_path / "host-etc"
    host_etc.mkdir()
    (host_etc / "passwd").write_text("evil:x:0:0::/:/bin/sh\n")
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    # Absolute and relative links that would leave the rootfs resolve inside it instead.
    os.symlink(str(host_etc / "passwd"), root / "etc/passwd")
    with pytest.raises(CreateContainerConfigError, match='unable to find user "evil"'):
        resolve_user(str(root), "evil")
    os.unlink(root / "etc/passwd")
    os.symlink("../../../host-etc/passwd", root / "etc/passwd")
    with pytest.raises(CreateContainerConfigError, match='unable to find user "evil"'):
        resolve_user(str(root), "evil")


def test_symlinks_inside_the_rootfs_are_followed(tmp_path):
    root = tmp_path / "rootfs"
    (root / "real").mkdir(parents=True)
    (root / "real/passwd").write_text("app:x:1234:99::/:/bin/sh\n")
    os.symlink("/real", root / "etc")  # an absolute link resolves against the rootfs
    assert resolve_user(str(root), "app") == (1234, 99, [99])


def test_symlink_loops_do_not_hang(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    os.symlink("passwd", root / "etc/passwd")
    with pytest.raises(OSError, match="too many levels of symbolic links"):
        resolve_user(str(root), "app")


def test_a_fifo_is_not_read(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    os.mkfifo(root / "etc/passwd")
    assert resolve_user(str(root), "1000") == (1000, 0, [0])


def test_busybox_fixture_users(busybox_rootfs):
    assert resolve_user(busybox_rootfs, "user") == (1000, 1000, [1000])
    assert resolve_user(busybox_rootfs, "nobody") == (65534, 65534, [65534])


def test_resolve_user_from_file_contents():
    from minikube_py.kubecontainer.user import resolve_user_from_files

    passwd = b"app:x:1000:1000::/:/bin/sh\n"
    group = b"app:x:1000:\nstaff:x:50:app\n"
    assert resolve_user_from_files(passwd, group, "app") == (1000, 1000, [1000, 50])
    assert resolve_user_from_files(None, None, "7:8", [9]) == (7, 8, [8, 9])
