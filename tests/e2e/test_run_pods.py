"""`minikube-py run -f`: real pods from a real registry, on a real bridge."""

from __future__ import annotations

import re
import signal
import time
import urllib.error
import urllib.request

from tests.fixtures.node import write_manifest as write


def wait_for_line(proc, pattern: str, timeout: float = 60) -> re.Match:
    """Read the run's stdout until a line matches (the run prints state changes)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            return m
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)}")


def fetch_when_listening(url: str, timeout: float = 10) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read()
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
        except urllib.error.URLError as e:
            if not isinstance(e.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def test_containers_of_a_pod_share_network_but_not_pid_namespace(tmp_path, pod_node, images):
    manifest = write(
        tmp_path,
        "web.yaml",
        f"""\
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          restartPolicy: Never
          volumes:
          - name: shared
            emptyDir: {{}}
          containers:
          - name: httpd
            image: {images.busybox.ref}
            command: ["sh", "-c"]
            args:
            - |
              echo hello-from-httpd > /tmp/index.html
              httpd -p 8080 -h /tmp
              ip -o -4 addr show eth0 | awk '{{print "ip", $4}}'
              echo "pidns $(readlink /proc/self/ns/pid)"
              echo "pid1 $(cat /proc/1/comm)"
              until [ -e /shared/done ]; do sleep 0.1; done
            volumeMounts:
            - {{name: shared, mountPath: /shared}}
          - name: client
            image: {images.busybox.ref}
            command: ["sh", "-c"]
            args:
            - |
              until wget -q -O - http://127.0.0.1:8080/; do sleep 0.1; done
              ip -o -4 addr show eth0 | awk '{{print "ip", $4}}'
              echo "pidns $(readlink /proc/self/ns/pid)"
              touch /shared/done
            volumeMounts:
            - {{name: shared, mountPath: /shared}}
        """,
    )
    result = pod_node.run(manifest)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pod/web: Succeeded" in result.stdout
    httpd, client = pod_node.logs("web", "httpd"), pod_node.logs("web", "client")
    assert "hello-from-httpd" in client
    ip = re.search(r"^ip (\S+)", httpd, re.M).group(1)
    assert re.search(r"^ip (\S+)", client, re.M).group(1) == ip
    assert ip.split("/")[0] in result.stdout  # the pod's IP, as the run reported it
    pidns = re.search(r"^pidns (\S+)", httpd, re.M).group(1)
    assert re.search(r"^pidns (\S+)", client, re.M).group(1) != pidns
    assert "pid1 sh" in httpd  # its own PID namespace: its shell is PID 1


def test_pods_reach_each_other_and_the_host_reaches_a_pod(tmp_path, pod_node, images):
    server = write(
        tmp_path,
        "server.yaml",
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: server}}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - name: httpd
            image: {images.busybox.ref}
            command: ["sh", "-c"]
            args: ["echo served-by-server > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
        """,
    )
    proc = pod_node.start(server)
    wait_for_line(proc, r"pod/server container/httpd: Running")
    ip = wait_for_line(proc, r"pod/server: Running \(IP ([\d.]+)\)").group(1)

    # host -> pod.  Running means httpd has started, not that it listens yet: retry.
    assert fetch_when_listening(f"http://{ip}/") == b"served-by-server\n"

    client = write(
        tmp_path,
        "client.yaml",
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: client}}
        spec:
          restartPolicy: Never
          containers:
          - name: wget
            image: {images.busybox.ref}
            command: ["wget", "-q", "-O", "-", "http://{ip}/"]
        """,
    )
    result = pod_node.run(client)  # pod -> pod, from a second run on the same node
    assert result.returncode == 0, result.stdout + result.stderr
    assert pod_node.logs("client", "wget") == "served-by-server\n"

    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    # httpd as PID 1 ignores SIGTERM: killed when the 1 s grace period ends
    assert "pod/server container/httpd: Terminated (Error, signal 9)" in out


def test_twenty_pods_started_at_once_get_twenty_distinct_ips(tmp_path, pod_node, images):
    items = "\n".join(
        f"""\
- apiVersion: v1
  kind: Pod
  metadata: {{name: p{i}}}
  spec:
    restartPolicy: Never
    containers:
    - name: ip
      image: {images.busybox.ref}
      command: ["sh", "-c", "ip -o -4 addr show eth0 | awk '{{print $4}}'"]"""
        for i in range(20)
    )
    manifest = tmp_path / "many.yaml"
    manifest.write_text(f"apiVersion: v1\nkind: List\nitems:\n{items}\n")
    result = pod_node.run(str(manifest), timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    ips = [pod_node.logs(f"p{i}", "ip").strip() for i in range(20)]
    assert len(set(ips)) == 20, ips
    assert all(ip.endswith("/24") for ip in ips)


def test_sidecar_reads_what_main_writes_to_an_empty_dir(tmp_path, pod_node, images):
    manifest = write(
        tmp_path,
        "sidecar.yaml",
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: sidecar}}
        spec:
          restartPolicy: Never
          volumes:
          - name: data
            emptyDir: {{}}
          containers:
          - name: main
            image: {images.busybox.ref}
            command: ["sh", "-c", "echo written-by-main > /out/msg.tmp && mv /out/msg.tmp /out/msg"]
            volumeMounts: [{{name: data, mountPath: /out}}]
          - name: sidecar
            image: {images.busybox.ref}
            command: ["sh", "-c", "until [ -e /in/msg ]; do sleep 0.1; done; cat /in/msg"]
            volumeMounts: [{{name: data, mountPath: /in, readOnly: true}}]
        """,
    )
    result = pod_node.run(manifest)
    assert result.returncode == 0, result.stdout + result.stderr
    assert pod_node.logs("sidecar", "sidecar") == "written-by-main\n"


def test_ctrl_c_tears_everything_down(tmp_path, pod_node, images):
    manifest = write(
        tmp_path,
        "forever.yaml",
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: forever}}
        spec:
          terminationGracePeriodSeconds: 5
          containers:
          - name: sleeper
            image: {images.busybox.ref}
            command: ["sh", "-c", "trap 'echo got-term; exit 0' TERM; while :; do sleep 0.1; done"]
        """,
    )
    proc = pod_node.start(manifest)
    wait_for_line(proc, r"pod/forever: Running \(IP")
    assert pod_node.processes(), "the pod's processes should be in the node's cgroups"
    assert pod_node.bridge_ports() and pod_node.ip_allocations()
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT
    assert "Terminated (Completed, exit code 0)" in out
    assert pod_node.logs("forever", "sleeper") == "got-term\n"
    # the pod_node fixture asserts nothing is left: veth, IP, cgroups, processes, pod dir
