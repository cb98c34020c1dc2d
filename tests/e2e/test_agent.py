"""The node agent end to end: kubectl-style CLI, restart safety, static pods."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import textwrap
import time

import yaml

from tests.fixtures.node import write_manifest as write


def wait_until(check, timeout: float = 60, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def pod_json(agent, name: str) -> dict | None:
    r = agent.ctl("get", "pod", name, "-o", "json")
    return json.loads(r.stdout) if r.returncode == 0 else None


def running(agent, name: str) -> dict | None:
    pod = pod_json(agent, name)
    if (
        pod
        and pod["status"].get("phase") == "Running"
        and all("running" in c["state"] for c in pod["status"].get("containerStatuses", []))
    ):
        return pod
    return None


def test_full_cycle_through_the_cli(tmp_path, agent, images):
    manifest = write(
        tmp_path,
        "web.yaml",
        f"""\
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          labels: {{app: web}}
        spec:
          terminationGracePeriodSeconds: 2
          containers:
          - name: ticker
            image: {images.busybox.ref}
            command: ["sh", "-c"]
            args: ["trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
          - name: stubborn
            image: {images.busybox.ref}
            command: ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]
        """,
    )
    r = agent.ctl("apply", "-f", manifest)
    assert (r.returncode, r.stdout.strip()) == (0, "pod/web created"), r.stderr
    assert agent.ctl("apply", "-f", manifest).stdout.strip() == "pod/web unchanged"
    pod = wait_until(lambda: running(agent, "web"), what="web Running")

    table = agent.ctl("get", "pods").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1].split()[:4] == ["web", "2/2", "Running", "0"]
    wide = agent.ctl("get", "pods", "-o", "wide").stdout
    assert pod["status"]["podIP"] in wide
    assert agent.ctl("get", "pods", "-o", "name").stdout.strip() == "pod/web"
    assert (
        yaml.safe_load(agent.ctl("get", "pod", "web", "-o", "yaml").stdout)["metadata"]["uid"]
        == pod["metadata"]["uid"]
    )
    assert agent.ctl("get", "pods", "-l", "app=web", "-o", "name").stdout.strip() == "pod/web"
    assert agent.ctl("get", "pods", "-l", "app=other").stdout.strip() == ""

    described = agent.ctl("describe", "pod", "web").stdout
    for text in (
        "Name:",
        "web",
        "Status:",
        "Running",
        pod["status"]["podIP"],
        "Events:",
        "Pulled",
        "Created",
        "Started",
        "Conditions:",
        "Ready",
    ):
        assert text in described, text

    # logs -f follows a live container
    follower = subprocess.Popen(
        agent.node.cli("logs", "web", "-c", "ticker", "-f"), stdout=subprocess.PIPE, text=True
    )
    try:
        seen = [follower.stdout.readline() for _ in range(3)]
        later = follower.stdout.readline()
        assert all(line.startswith("tick ") for line in [*seen, later])
        assert int(later.split()[1]) > int(seen[0].split()[1])
    finally:
        follower.terminate()
        follower.wait()
    tail = agent.ctl("logs", "web", "-c", "ticker", "--tail", "2").stdout.splitlines()
    assert len(tail) == 2 and all(line.startswith("tick ") for line in tail)

    # exec without -t: output and exit code pass through
    r = agent.ctl("exec", "web", "-c", "ticker", "--", "sh", "-c", "echo $((6*7)); exit 3")
    assert (r.returncode, r.stdout.strip()) == (3, "42"), r.stderr
    r = agent.ctl("exec", "web", "-c", "ticker", "--", "hostname")
    assert r.stdout.strip() == "web"

    # exec -it: a real pty inside (kubectl gives no TTY to -t without -i)
    out = exec_with_tty(agent, ["exec", "-it", "web", "-c", "ticker", "--", "tty"])
    assert re.search(r"/dev/pts/\d+", out), out
    # Ctrl-C typed at the terminal reaches the process inside (the pty makes it SIGINT)
    out, code = exec_with_tty(
        agent,
        ["exec", "-it", "web", "-c", "ticker", "--", "sleep", "100"],
        type_after=(1.5, b"\x03"),
    )
    assert code == 130, (code, out)

    # delete with grace: the stubborn container is killed when the 2 s grace ends
    started = time.monotonic()
    r = agent.ctl("delete", "pod", "web")
    took = time.monotonic() - started
    assert r.returncode == 0 and 'pod "web" deleted' in r.stdout, r.stderr
    assert 2.0 <= took < 15, took
    r = agent.ctl("get", "pod", "web")
    assert r.returncode == 1 and "NotFound" in r.stderr


def exec_with_tty(
    agent, args: list[str], timeout: float = 30, type_after: tuple[float, bytes] | None = None
) -> str | tuple[str, int]:
    """Run the CLI with its stdio on a pty, as a person at a terminal would; with
    `type_after` (seconds, keys), type the keys then and also return the exit code."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(agent.node.cli(*args)[0], agent.node.cli(*args))
    out = b""
    keys_typed = type_after is not None
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if type_after and time.monotonic() - started >= type_after[0]:
            os.write(fd, type_after[1])
            type_after = None
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif os.waitpid(pid, os.WNOHANG)[0]:
            break
    status = 0
    with contextlib.suppress(ChildProcessError):
        status = os.waitpid(pid, 0)[1]
    os.close(fd)
    text = out.decode(errors="replace")
    return (text, os.waitstatus_to_exitcode(status)) if keys_typed else text


def test_kill_9_of_the_agent_leaves_pods_running_and_a_new_agent_adopts_them(
    tmp_path, agent, images, pod_node
):
    items = "\n".join(
        f"""\
- apiVersion: v1
  kind: Pod
  metadata: {{name: p{i}}}
  spec:
    terminationGracePeriodSeconds: 2
    containers:
    - name: count
      image: {images.busybox.ref}
      command: ["sh", "-c"]
      args: ["trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done"]"""
        for i in range(10)
    )
    manifest = tmp_path / "ten.yaml"
    manifest.write_text(f"apiVersion: v1\nkind: List\nitems:\n{items}\n")
    assert agent.ctl("apply", "-f", str(manifest)).returncode == 0
    before = {}
    for i in range(10):
        pod = wait_until(lambda i=i: running(agent, f"p{i}"), what=f"p{i} Running")
        before[f"p{i}"] = (
            pod["metadata"]["uid"],
            pod["status"]["podIP"],
            pod["status"]["containerStatuses"][0]["restartCount"],
            pod["status"]["containerStatuses"][0]["containerID"],
        )

    agent.kill9()
    # while no agent runs: containers go on, and one of them is killed
    victim_cid = before["p3"][3].split("//")[1]
    with open(os.path.join(pod_node.run_dir, "containers", victim_cid, "state.json")) as f:
        os.kill(json.load(f)["pid"], signal.SIGKILL)
    lines_then = len(pod_node.logs("p0", "count").splitlines())
    time.sleep(1)
    assert len(pod_node.logs("p0", "count").splitlines()) > lines_then + 3  # still logging

    agent.start()
    for i in range(10):
        name = f"p{i}"
        if name == "p3":
            pod = wait_until(
                lambda: (
                    (p := running(agent, "p3"))
                    and p["status"]["containerStatuses"][0]["restartCount"] == 1
                    and p
                ),
                timeout=60,
                what="p3 restarted",
            )
        else:
            pod = wait_until(lambda name=name: running(agent, name), what=f"{name} Running")
            assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
            assert pod["status"]["containerStatuses"][0]["containerID"] == before[name][3]
        assert (pod["metadata"]["uid"], pod["status"]["podIP"]) == before[name][:2]
    # no gap: the counter's lines are consecutive across the agent's death
    numbers = [int(n) for n in pod_node.logs("p0", "count").split()]
    assert numbers == list(range(1, len(numbers) + 1))
    assert (
        pod_json(agent, "p3")["status"]["containerStatuses"][0]["lastState"]["terminated"][
            "exitCode"
        ]
        == 137
    )


def test_static_pods_follow_the_manifests_dir(agent, images):
    os.makedirs(agent.manifests, exist_ok=True)
    path = os.path.join(agent.manifests, "static.yaml")
    hidden = os.path.join(agent.manifests, ".ignored.yaml")
    body = f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: %s}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
        """
    with open(hidden, "w") as f:
        f.write(textwrap.dedent(body % "hidden"))
    with open(path + ".tmp", "w") as f:
        f.write(textwrap.dedent(body % "static"))
    os.rename(path + ".tmp", path)
    node = os.uname().nodename
    pod = wait_until(lambda: running(agent, f"static-{node}"), what="static pod Running")
    assert pod["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"
    assert agent.ctl("get", "pod", f"hidden-{node}").returncode == 1
    os.unlink(path)
    wait_until(
        lambda: agent.ctl("get", "pod", f"static-{node}").returncode == 1, what="static pod deleted"
    )


def test_cli_without_an_agent_says_how_to_start_one(pod_node):
    r = subprocess.run(pod_node.cli("get", "pods"), capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    sock = os.path.join(pod_node.run_dir, "api.sock")
    assert f"cannot reach the agent at {sock}" in r.stderr
    assert "minikube-py agent" in r.stderr and "Traceback" not in r.stderr


def test_a_restarted_agent_removes_what_no_pod_refers_to(tmp_path, agent, images, pod_node):
    from minikube_py.network import IPAM
    from minikube_py.shim.client import ShimClient
    from runtime.spec import Process, Root, Spec

    manifest = write(
        tmp_path,
        "keep.yaml",
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: keep}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
        """,
    )
    agent.ctl("apply", "-f", manifest)
    keep = wait_until(lambda: running(agent, "keep"), what="keep Running")
    agent.kill9()
    # what an agent dying mid-way could leave: a container and an IP nobody recorded
    shim = ShimClient(os.path.join(pod_node.run_dir, "shim.sock"))
    for d in ("rootfs", "upper", "work"):
        os.makedirs(tmp_path / "orphan" / d)
    lower = [d for d in os.listdir(os.path.join(pod_node.root, "snapshots")) if len(d) == 64]
    shim.create(
        "orphan0",
        Spec(
            process=Process(args=["sleep", "300"]),
            root=Root(
                path=str(tmp_path / "orphan/rootfs"),
                lower=[os.path.join(pod_node.root, "snapshots", lower[0])],
                upper=str(tmp_path / "orphan/upper"),
                work=str(tmp_path / "orphan/work"),
            ),
            cgroups_path=f"{pod_node.cgroup_parent}/orphan0",
        ),
        None,
    )
    shim.start("orphan0")
    ipam = IPAM.for_network(pod_node.root, pod_node.bridge, pod_node.cidr)
    ghost_ip = ipam.allocate("ghost-pod-uid")
    shim.close()

    agent.start()
    pod = wait_until(lambda: running(agent, "keep"), what="keep adopted")
    assert pod["metadata"]["uid"] == keep["metadata"]["uid"]
    shim = ShimClient(os.path.join(pod_node.run_dir, "shim.sock"))
    try:
        assert "orphan0" not in shim.list()
    finally:
        shim.close()
    assert ipam.lookup("ghost-pod-uid") is None and str(ghost_ip) not in pod_node.ip_allocations()


def test_a_replication_controller_keeps_its_replicas_running(tmp_path, agent, images):
    def rc_yaml(replicas: int) -> str:
        return write(
            tmp_path,
            "rc.yaml",
            f"""\
            apiVersion: v1
            kind: ReplicationController
            metadata: {{name: front}}
            spec:
              replicas: {replicas}
              template:
                metadata: {{labels: {{app: front}}}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: c
                    image: {images.busybox.ref}
                    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
            """,
        )

    def front_pods(running_only: bool = True) -> list[str]:
        r = agent.ctl("get", "pods", "-l", "app=front", "-o", "json")
        items = json.loads(r.stdout)["items"] if r.returncode == 0 else []
        return sorted(
            p["metadata"]["name"]
            for p in items
            if not p["metadata"].get("deletionTimestamp")
            and (not running_only or p["status"].get("phase") == "Running")
        )

    r = agent.ctl("apply", "-f", rc_yaml(2))
    assert (r.returncode, r.stdout.strip()) == (0, "replicationcontroller/front created"), r.stderr
    first = wait_until(lambda: len(front_pods()) == 2 and front_pods(), what="2 replicas Running")
    table = wait_until(
        lambda: (
            (t := agent.ctl("get", "rc").stdout.splitlines())[1].split()[:4]
            == ["front", "2", "2", "2"]
            and t
        ),
        what="get rc: 2 desired, 2 current, 2 ready",
    )
    assert table[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]

    # a pod deleted is replaced by a new one
    assert agent.ctl("delete", "pod", first[0]).returncode == 0
    wait_until(
        lambda: len(now := front_pods()) == 2 and first[0] not in now, what="a replacement Running"
    )
    # scaled to 1 by applying the changed manifest
    assert (
        agent.ctl("apply", "-f", rc_yaml(1)).stdout.strip()
        == "replicationcontroller/front configured"
    )
    wait_until(lambda: len(front_pods(running_only=False)) == 1, what="scaled down to 1")
    # deleting the RC deletes its pods
    assert agent.ctl("delete", "rc", "front").returncode == 0
    wait_until(
        lambda: not agent.ctl("get", "pods", "-l", "app=front", "-o", "name").stdout.strip(),
        what="its pods gone",
    )


def test_probes_run_by_the_agent(tmp_path, agent, images):
    manifest = write(
        tmp_path,
        "probed.yaml",
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: probed}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["sh", "-c"]
            args:
            - |
              trap 'exit 0' TERM; sleep 1.5; touch /tmp/ready
              while :; do sleep 0.1; done
            readinessProbe: {{exec: {{command: [cat, /tmp/ready]}}, periodSeconds: 1}}
        """,
    )
    assert agent.ctl("apply", "-f", manifest).returncode == 0
    wait_until(lambda: running(agent, "probed"), what="probed Running")
    row = agent.ctl("get", "pod", "probed").stdout.splitlines()[1].split()
    assert row[1:3] == ["0/1", "Running"]  # running, not ready yet
    wait_until(
        lambda: agent.ctl("get", "pod", "probed").stdout.splitlines()[1].split()[1] == "1/1",
        what="probed ready",
    )
    described = agent.ctl("describe", "pod", "probed").stdout
    assert "Readiness probe failed: cat: can't open '/tmp/ready'" in described


def test_a_run_the_killed_agent_had_not_recorded_is_adopted_not_duplicated(
    tmp_path, agent, images, pod_node
):
    manifest = write(
        tmp_path,
        "counter.yaml",
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: counter}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: count
            image: {images.busybox.ref}
            command: ["sh", "-c"]
            args: ["trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done"]
        """,
    )
    assert agent.ctl("apply", "-f", manifest).returncode == 0
    pod = wait_until(lambda: running(agent, "counter"), what="counter Running")
    uid, ip = pod["metadata"]["uid"], pod["status"]["podIP"]
    cid = pod["status"]["containerStatuses"][0]["containerID"]
    agent.kill9()
    # the agent died before writing the Running status: on disk is the first status it
    # wrote (Pending, ContainerCreating, no IP, no container id)
    path = os.path.join(pod_node.root, "pods", uid, "pod.json")
    with open(path) as f:
        stored = json.load(f)
    stored["status"] = {
        "phase": "Pending",
        "qosClass": "BestEffort",
        "containerStatuses": [
            {
                "name": "count",
                "state": {"waiting": {"reason": "ContainerCreating"}},
                "lastState": {},
                "ready": False,
                "restartCount": 0,
                "image": images.busybox.ref,
                "imageID": "",
                "started": False,
            }
        ],
    }
    with open(path, "w") as f:
        json.dump(stored, f)

    agent.start()
    pod = wait_until(lambda: running(agent, "counter"), what="counter Running again")
    cs = pod["status"]["containerStatuses"][0]
    assert (cs["containerID"], cs["restartCount"], pod["status"]["podIP"]) == (cid, 0, ip)
    # one run only, still counting into the same log without a gap
    time.sleep(0.5)
    runs = sorted(os.listdir(os.path.join(pod_node.run_dir, "containers")))
    assert runs == sorted([f"{uid}-pause", cid.split("//")[1]])  # no second run
    numbers = [int(n) for n in pod_node.logs("counter", "count").split()]
    assert numbers == list(range(1, len(numbers) + 1))
