"""Container logs through the agent: CRI files, both streams in order, restarts, rotation."""

from __future__ import annotations

import glob
import os
import re
import textwrap

from tests.e2e.test_agent import running, wait_until

CRI_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (P|F) (.*)$")

# ~18 MB as CRI records (~45 bytes a line): more than one 10 MiB file, within the 5 kept
LINES = 400_000


def cri_records(path: str) -> list[tuple[str, str, str]]:
    with open(path, "rb") as f:
        lines = f.read().splitlines()
    out = []
    for line in lines:
        m = CRI_LINE.match(line)
        assert m, f"not a CRI log line in {path}: {line!r}"
        out.append((m.group(1).decode(), m.group(2).decode(), m.group(3).decode()))
    return out


def log_files(logdir: str) -> list[str]:
    return sorted(n for n in os.listdir(logdir) if not n.startswith("."))  # not the writer's lock


def apply(agent, tmp_path, name: str, text: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    r = agent.ctl("apply", "-f", str(path))
    assert r.returncode == 0, r.stderr


def test_logs_are_cri_keep_both_streams_in_order_and_survive_a_restart(
    tmp_path, agent, images, pod_node
):
    apply(
        agent,
        tmp_path,
        "talk",
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: talk}}
        spec:
          restartPolicy: OnFailure
          terminationGracePeriodSeconds: 1
          volumes: [{{name: s, emptyDir: {{}}}}]
          containers:
          - name: c
            image: {images.busybox.ref}
            volumeMounts: [{{name: s, mountPath: /s}}]
            command: ["sh", "-c"]
            args:
            - |
              n=$(($(cat /s/n 2>/dev/null || echo 0) + 1)); echo $n > /s/n
              echo "out $n"; sleep 0.1; echo "err $n" >&2; sleep 0.1; echo "out2 $n"
              [ $n -eq 1 ] && exit 1
              trap 'exit 0' TERM; while :; do sleep 0.1; done
        """,
    )

    def restarted_once():
        pod = running(agent, "talk")
        return pod and pod["status"]["containerStatuses"][0]["restartCount"] == 1

    wait_until(restarted_once, what="talk restarted once")
    wait_until(lambda: "out2 2" in agent.ctl("logs", "talk").stdout, what="second run's log")

    assert agent.ctl("logs", "talk").stdout == "out 2\nerr 2\nout2 2\n"
    assert agent.ctl("logs", "talk", "--previous").stdout == "out 1\nerr 1\nout2 1\n"
    stamped = agent.ctl("logs", "talk", "--timestamps").stdout.splitlines()
    assert [re.sub(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ", "", line) for line in stamped] == [
        "out 2",
        "err 2",
        "out2 2",
    ]

    [logdir] = glob.glob(os.path.join(pod_node.log_dir, "default_talk_*", "c"))
    assert log_files(logdir) == ["0.log", "1.log"]
    assert cri_records(os.path.join(logdir, "0.log")) == [
        ("stdout", "F", "out 1"),
        ("stderr", "F", "err 1"),
        ("stdout", "F", "out2 1"),
    ]
    assert cri_records(os.path.join(logdir, "1.log")) == [
        ("stdout", "F", "out 2"),
        ("stderr", "F", "err 2"),
        ("stdout", "F", "out2 2"),
    ]


def test_logs_rotate_at_10_mib_and_read_back_whole(tmp_path, agent, images, pod_node):
    apply(
        agent,
        tmp_path,
        "chatty",
        f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: chatty}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: c
            image: {images.busybox.ref}
            command: ["sh", "-c"]
            args: ["seq 1 {LINES}; trap 'exit 0' TERM; while :; do sleep 0.1; done"]
        """,
    )
    pattern = os.path.join(pod_node.log_dir, "default_chatty_*", "c")
    [logdir] = wait_until(lambda: glob.glob(pattern), what="log dir")

    def all_written():
        return agent.ctl("logs", "chatty", "--tail", "1").stdout == f"{LINES}\n"

    wait_until(all_written, timeout=60, what="all output written")
    files = log_files(logdir)
    assert files[0] == "0.log" and any(f.startswith("0.log.") for f in files), files
    for name in files:
        assert os.path.getsize(os.path.join(logdir, name)) <= 10 * 1024 * 1024
    out = agent.ctl("logs", "chatty", timeout=180).stdout.split()
    assert out == [str(i) for i in range(1, LINES + 1)]  # rotated file + current, in order
