"""Real containers from a busybox rootfs: isolation, mounts, users, limits, joining.

Every container lives in a cgroup under a per-session parent that is removed
at the end; each test deletes its containers and checks nothing is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from runtime.cgroups import open_cgroup
from runtime.container import Container, ExitStatus
from runtime.errors import SpecError
from runtime.spec import (
    Capabilities,
    Mount,
    Namespace,
    Process,
    Resources,
    Rlimit,
    Root,
    Spec,
)

DOCKER_DEFAULT_CAPEFF = "00000000a80425fb"


@pytest.fixture(scope="session")
def cgroup_parent() -> Iterator[str]:
    name = f"minikube-py-test-{os.getpid()}"
    yield name
    open_cgroup(name).destroy()  # fails (EBUSY) if a container cgroup was left in it


@dataclass
class Ran:
    status: ExitStatus
    out: str


class Runner:
    """Creates containers for one test and proves they leave nothing behind."""

    def __init__(self, rootfs: str, parent: str, tmp: str) -> None:
        self.rootfs = rootfs
        self.parent = parent
        self.tmp = tmp
        self.live: list[Container] = []

    def spec(self, *args: str, **kw) -> Spec:
        s = Spec(process=Process(args=list(args)), root=Root(self.rootfs), hostname="box", **kw)
        s.cgroups_path = f"{self.parent}/{uuid.uuid4().hex[:12]}"
        return s

    def overlay(self, where) -> Root:
        """The fixture as the lower dir: new mount points land in a fresh upper."""
        dirs = [os.path.join(str(where), n) for n in ("upper", "work", "mnt")]
        for d in dirs:
            os.makedirs(d)
        return Root(dirs[2], lower=[self.rootfs], upper=dirs[0], work=dirs[1])

    def start(self, spec: Spec, *, stdin: int | None = None) -> tuple[Container, int]:
        """Start; returns the container and the read end of its stdout+stderr."""
        r, w = os.pipe()
        cid = spec.cgroups_path.rsplit("/", 1)[1]
        try:
            c = Container.create(
                cid, spec, os.path.join(self.tmp, cid), stdin=stdin, stdout=w, stderr=w
            )
        finally:
            os.close(w)
        self.live.append(c)
        c.start()
        return c, r

    def run(self, spec: Spec, timeout: float = 20, stdin: int | None = None) -> Ran:
        c, r = self.start(spec, stdin=stdin)
        status = c.wait(timeout=timeout)
        assert status is not None, "container did not exit in time"
        out = _drain(r)
        self.delete(c)
        return Ran(status, out)

    def sh(self, script: str, **kw) -> Ran:
        return self.run(self.spec("/bin/sh", "-c", script, **kw))

    def delete(self, c: Container) -> None:
        cg = c.cgroup
        c.delete()
        self.live.remove(c)
        assert_gone(c, cg)

    def cleanup(self) -> None:
        for c in list(self.live):
            self.delete(c)


def _drain(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def read_until(fd: int, marker: str, timeout: float = 10) -> str:
    """Read a container's output until `marker` shows up (it keeps running)."""
    import select

    buf = ""
    deadline = time.monotonic() + timeout
    while marker not in buf:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} in output: {buf!r}"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            assert chunk, f"output ended before {marker!r}: {buf!r}"
            buf += chunk.decode()
    return buf


def host_mounts() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def assert_gone(c: Container, cg) -> None:
    assert not c.alive(), f"container {c.id} pid {c.pid} still alive"
    for d in set(getattr(cg, "dirs", {}).values()) or {getattr(cg, "dir", "")}:
        assert not os.path.exists(d), f"cgroup {d} left behind"
    assert not os.path.exists(os.path.join(c.state_dir, "state.json"))
    assert c.state.rootfs not in {line.split()[4] for line in host_mounts().splitlines()}


@pytest.fixture
def rt(busybox_rootfs, cgroup_parent, tmp_path) -> Iterator[Runner]:
    runner = Runner(busybox_rootfs, cgroup_parent, str(tmp_path / "state"))
    yield runner
    runner.cleanup()


# ---- inside the container ---------------------------------------------------


def test_process_is_pid_1_with_its_own_hostname(rt):
    r = rt.sh("echo pid=$$; hostname")
    assert r.status.code == 0
    assert r.out.split() == ["pid=1", "box"]


def test_proc_shows_only_the_containers_processes(rt):
    # the loop is a shell builtin: the only process is the shell, PID 1
    r = rt.sh("for p in /proc/[0-9]*; do echo ${p#/proc/}; done")
    assert r.out.split() == ["1"]


def test_no_host_mount_is_visible(rt):
    r = rt.sh("cat /proc/self/mountinfo")
    inside = {line.split()[4] for line in r.out.splitlines()}
    expected_prefixes = ("/proc", "/dev", "/sys")
    assert "/" in inside
    assert all(p == "/" or p.startswith(expected_prefixes) for p in inside), inside
    host_only = {line.split()[4] for line in host_mounts().splitlines()} - {"/", "/proc", "/sys"}
    host_only = {p for p in host_only if not p.startswith(expected_prefixes)}
    assert not (inside & host_only)


def test_cap_sys_admin_is_absent_so_mount_fails(rt):
    r = rt.sh("grep CapEff /proc/self/status; mount -t tmpfs none /tmp && echo MOUNTED")
    assert DOCKER_DEFAULT_CAPEFF in r.out
    assert "MOUNTED" not in r.out
    assert "permission denied" in r.out.lower() or "not permitted" in r.out.lower()


def test_privileged_keeps_every_capability(rt):
    s = rt.spec("/bin/sh", "-c", "grep CapEff /proc/self/status")
    s.process.capabilities = Capabilities(privileged=True)
    with open("/proc/self/status") as f:
        host = next(line for line in f if line.startswith("CapBnd")).split()[1]
    assert host in rt.run(s).out


def test_kernel_files_are_masked_and_proc_sys_is_read_only(rt):
    r = rt.sh(
        "for f in /proc/kcore /proc/keys /proc/timer_list; do"
        '  [ -e $f ] && echo "$f $(cat $f | wc -c)"; done;'
        "echo x > /proc/sys/kernel/hostname || echo PROCSYS_RO"
    )
    for line in r.out.splitlines():
        if line.startswith("/proc/"):
            name, size = line.split()
            assert size == "0", f"{name} readable inside: {r.out}"
    if os.path.exists("/proc/timer_list"):
        assert "/proc/timer_list 0" in r.out
    assert "PROCSYS_RO" in r.out and "Read-only file system" in r.out


def test_process_runs_as_the_requested_user_without_capabilities(rt, tmp_path):
    s = rt.spec(
        "/bin/sh", "-c", "id -u; id -g; id -G; grep -E 'CapEff|NoNewPrivs' /proc/self/status"
    )
    # an overlay root takes its mode from upper: 755, where uid 1000 may enter
    # (the fixture's directory is 700 like every pytest temp dir)
    upper, work, mnt = (tmp_path / n for n in ("upper", "work", "mnt"))
    for d in (upper, work, mnt):
        d.mkdir()
    os.chmod(upper, 0o755)
    s.root = Root(str(mnt), lower=[rt.rootfs], upper=str(upper), work=str(work))
    s.process.uid, s.process.gid, s.process.additional_gids = 1000, 1000, [65534]
    out = rt.run(s).out.split()
    assert out[:3] == ["1000", "1000", "1000"] or out[:2] == ["1000", "1000"]
    assert "65534" in out
    assert out[out.index("CapEff:") + 1] == "0000000000000000"
    assert out[out.index("NoNewPrivs:") + 1] == "1"


def test_only_fds_0_to_2_are_open(rt):
    # ls runs as PID 2 and lists PID 1's descriptors, i.e. what exec left open
    r = rt.sh("ls /proc/1/fd; true")  # "; true": sh must not exec ls as PID 1
    assert sorted(r.out.split()) == ["0", "1", "2"]


def test_stdin_comes_from_the_given_fd(rt):
    r, w = os.pipe()
    os.write(w, b"hello from stdin\n")
    os.close(w)
    try:
        out = rt.run(rt.spec("/bin/cat"), stdin=r).out
    finally:
        os.close(r)
    assert out == "hello from stdin\n"


def test_env_cwd_rlimits_and_oom_score_adj(rt):
    s = rt.spec("/bin/sh", "-c", "echo $GREETING; pwd; ulimit -n; cat /proc/self/oom_score_adj")
    s.process.env = ["PATH=/bin", "GREETING=hi"]
    s.process.cwd = "/tmp"
    s.process.rlimits = [Rlimit("RLIMIT_NOFILE", 1024, 1024)]
    s.process.oom_score_adj = 500
    assert rt.run(s).out.split() == ["hi", "/tmp", "1024", "500"]


def test_dev_is_minimal_and_works(rt):
    r = rt.sh(
        "ls /dev | sort | tr '\\n' ' '; echo; head -c 4 /dev/zero | wc -c;"
        "echo x > /dev/null && echo NULL_OK; head -c 8 /dev/urandom | wc -c; readlink /dev/stdout"
    )
    names = set(r.out.splitlines()[0].split())
    assert {
        "null",
        "zero",
        "full",
        "random",
        "urandom",
        "tty",
        "ptmx",
        "pts",
        "shm",
        "mqueue",
        "fd",
        "stdin",
        "stdout",
        "stderr",
    } <= names
    assert not names & {"vda", "sda", "mem", "kmsg"}
    assert r.out.splitlines()[1:] == ["4", "NULL_OK", "8", "/proc/self/fd/1"]


# ---- root filesystems and mounts -------------------------------------------


def test_overlay_writes_land_in_upper_and_never_in_lower(rt, tmp_path):
    upper, work, mnt = (tmp_path / n for n in ("upper", "work", "rootfs"))
    for d in (upper, work, mnt):
        d.mkdir()
    s = rt.spec("/bin/sh", "-c", "echo data > /newfile; rm /bin/ls; echo ok")
    s.root = Root(str(mnt), lower=[rt.rootfs], upper=str(upper), work=str(work))
    r = rt.run(s)
    assert r.out.strip() == "ok"
    assert (upper / "newfile").read_text() == "data\n"
    assert not os.path.exists(os.path.join(rt.rootfs, "newfile"))
    assert os.path.lexists(os.path.join(rt.rootfs, "bin", "ls"))
    assert os.path.lexists(upper / "bin" / "ls")  # the whiteout
    assert os.listdir(mnt) == []  # the overlay lived only in the container


def test_read_only_root_refuses_writes(rt):
    s = rt.spec("/bin/sh", "-c", "touch /newfile || echo RO; touch /tmp/x && echo TMP_OK")
    s.root.readonly = True
    s.mounts.append(Mount("/tmp", "tmpfs", "tmpfs", ["size=1m"]))
    out = rt.run(s).out
    assert "RO" in out and "Read-only file system" in out and "TMP_OK" in out
    assert not os.path.exists(os.path.join(rt.rootfs, "newfile"))


def test_bind_mounts_ro_and_rw_and_tmpfs_size(rt, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("10.0.0.1 web\n")
    data = tmp_path / "data"
    data.mkdir()
    s = rt.spec(
        "/bin/sh",
        "-c",
        "cat /etc/hosts; echo no >> /etc/hosts || echo HOSTS_RO;"
        "echo written > /data/f; df -k /scratch | tail -1",
    )
    s.mounts += [
        Mount("/etc/hosts", "bind", str(hosts), ["ro"]),
        Mount("/data", "bind", str(data), ["rw"]),
        Mount("/scratch", "tmpfs", "tmpfs", ["size=2m", "mode=1777"]),
    ]
    s.root = rt.overlay(tmp_path / "root")  # /data and /scratch are new mount points
    out = rt.run(s).out
    assert out.startswith("10.0.0.1 web\n")
    assert "HOSTS_RO" in out
    assert hosts.read_text() == "10.0.0.1 web\n"
    assert (data / "f").read_text() == "written\n"
    assert out.strip().splitlines()[-1].split()[1] == "2048"


def test_mount_destination_symlink_cannot_escape_the_root(rt, tmp_path):
    # a rootfs whose /evil -> /etc-host-escape; the mount must land inside
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", rt.rootfs + "/.", str(root)], check=True)
    os.symlink("/../../../../tmp", root / "evil")
    s = rt.spec("/bin/sh", "-c", "ls /tmp")
    s.root = Root(str(root))
    s.mounts.append(Mount("/evil/inside", "tmpfs", "tmpfs", ["size=1m"]))
    rt.run(s)
    assert (root / "tmp" / "inside").is_dir()
    assert not os.path.exists("/tmp/inside")


# ---- namespaces -------------------------------------------------------------


def test_joining_another_containers_network_namespace_shares_interfaces(rt):
    a = rt.spec("/bin/sh", "-c", "ip link set lo up; echo READY; sleep 60")
    a.process.capabilities = Capabilities(add=["NET_ADMIN"])
    ca, out_a = rt.start(a)
    read_until(out_a, "READY")
    try:
        b = rt.spec("/bin/sh", "-c", "readlink /proc/self/ns/net; ip link show")
        b.namespaces = [
            Namespace("network", f"/proc/{ca.pid}/ns/net"),
            Namespace("pid"),
            Namespace("mount"),
            Namespace("ipc"),
            Namespace("uts"),
        ]
        out_b = rt.run(b).out
        assert os.readlink(f"/proc/{ca.pid}/ns/net") in out_b
        assert os.readlink("/proc/self/ns/net") not in out_b
        assert "lo: <LOOPBACK,UP,LOWER_UP>" in out_b
        assert "eth0" not in out_b
    finally:
        os.close(out_a)
        rt.delete(ca)


def test_pod_style_join_of_net_ipc_uts_keeps_own_pid_and_mount(rt):
    pause = rt.spec("/bin/sh", "-c", "echo READY; exec sleep 60")
    pause.hostname = "pod-a"
    cp, out_p = rt.start(pause)
    read_until(out_p, "READY")
    try:
        app = rt.spec(
            "/bin/sh",
            "-c",
            "hostname; echo $$; for n in net ipc uts pid mnt; do readlink /proc/self/ns/$n; done",
        )
        app.hostname = None  # the uts namespace is the pause's
        app.namespaces = [
            *(
                Namespace(t, f"/proc/{cp.pid}/ns/{n}")
                for t, n in (("network", "net"), ("ipc", "ipc"), ("uts", "uts"))
            ),
            Namespace("pid"),
            Namespace("mount"),
        ]
        out = rt.run(app).out.split()
        assert out[:2] == ["pod-a", "1"]
        for n, link in zip(("net", "ipc", "uts", "pid", "mnt"), out[2:], strict=True):
            shared = os.readlink(f"/proc/{cp.pid}/ns/{n}") == link
            assert shared == (n in ("net", "ipc", "uts")), n
    finally:
        os.close(out_p)
        rt.delete(cp)


def test_new_cgroup_namespace_shows_the_container_cgroup_as_root(rt):
    s = rt.spec("/bin/sh", "-c", "cat /proc/self/cgroup")
    s.namespaces.append(Namespace("cgroup"))
    lines = rt.run(s).out.split()
    assert lines, "no /proc/self/cgroup output"
    assert all(line.endswith(":/") for line in lines if ":memory:" in line or ":pids:" in line)
    assert any(":memory:" in line or line.startswith("0::") for line in lines)


def test_hostname_in_a_joined_uts_namespace_is_refused(rt):
    s = rt.spec("/bin/true")
    s.namespaces[3] = Namespace("uts", "/proc/self/ns/uts")
    with pytest.raises(SpecError, match="hostname: setting a hostname needs a new uts namespace"):
        rt.run(s)


def test_joining_a_pid_namespace_sees_its_processes(rt):
    a = rt.spec("/bin/sh", "-c", "echo READY; exec sleep 60")
    ca, out_a = rt.start(a)
    read_until(out_a, "READY")
    try:
        b = rt.spec("/bin/sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$")
        b.namespaces = [Namespace("pid", f"/proc/{ca.pid}/ns/pid"), Namespace("mount")]
        b.hostname = None
        out = rt.run(b).out.splitlines()
        assert out[0].strip() == "sleep 60"
        assert out[1] != "1"
    finally:
        os.close(out_a)
        rt.delete(ca)


# ---- cgroups: limits, stats, OOM, fork bomb ---------------------------------


def _cgroup_file(c: Container, v1: tuple[str, str], v2: str) -> str:
    if c.cgroup.version == 1:
        controller, name = v1
        path = os.path.join(c.cgroup.dirs[controller], name)
    else:
        path = os.path.join(c.cgroup.dir, v2)
    with open(path) as f:
        return f.read().strip()


def test_memory_cpu_and_pids_limits_read_back_inside_and_outside(rt):
    s = rt.spec(
        "/bin/sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max"
        " /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max"
        " /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; echo READY; sleep 60",
    )
    s.resources = Resources(
        memory_limit=32 << 20, cpu_quota=20000, cpu_period=100000, pids_limit=20
    )
    c, out = rt.start(s)
    try:
        inside = read_until(out, "READY").split()
        assert str(32 << 20) in inside
        assert "20000" in inside or "20000 100000" in " ".join(inside)
        assert "20" in inside
        assert _cgroup_file(c, ("memory", "memory.limit_in_bytes"), "memory.max") == str(32 << 20)
        assert _cgroup_file(c, ("pids", "pids.max"), "pids.max") == "20"
        assert _cgroup_file(c, ("cpu", "cpu.cfs_quota_us"), "cpu.max").split()[0] == "20000"
        stats = c.stats()
        assert 0 < stats.memory_usage < 32 << 20
        assert stats.memory_limit == 32 << 20
        assert stats.pids_current >= 1
    finally:
        os.close(out)
        rt.delete(c)


def test_cpu_quota_caps_a_busy_loop(rt):
    s = rt.spec("/bin/sh", "-c", "timeout 1 sh -c 'while :; do :; done'; true")
    s.resources = Resources(cpu_quota=20000, cpu_period=100000)
    c, out = rt.start(s)
    status = c.wait(timeout=10)
    used = c.stats().cpu_usage_ns / 1e9
    os.close(out)
    rt.delete(c)
    assert status is not None and status.code == 0
    assert 0.01 < used < 0.5, f"used {used:.2f} s of CPU in 1 s at a 20% quota"


def test_memory_hog_is_oom_killed_and_reported_as_oom(rt):
    s = rt.spec("/bin/sh", "-c", "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived")
    s.resources = Resources(memory_limit=16 << 20)
    r = rt.run(s)
    assert r.status.oom_killed
    assert r.status.reason == "OOMKilled"
    assert "survived" not in r.out


def test_fork_bomb_is_contained_by_the_pids_limit_and_cleaned_up(rt):
    s = rt.spec("/bin/sh", "-c", "f(){ f|f & }; f; echo BOMBED; sleep 60")
    s.resources = Resources(pids_limit=32, memory_limit=64 << 20)
    c, out = rt.start(s)
    try:
        read_until(out, "BOMBED", timeout=20)
        time.sleep(0.5)
        assert c.stats().pids_current <= 32
        assert c.alive()
    finally:
        os.close(out)
        rt.delete(c)  # asserts: no process, no cgroup, no state left


def test_process_ignoring_sigterm_is_killed_by_delete(rt):
    c, out = rt.start(
        rt.spec("/bin/sh", "-c", "trap '' TERM; echo READY; while :; do sleep 1; done")
    )
    try:
        read_until(out, "READY")
        c.kill(signal.SIGTERM)
        time.sleep(0.3)
        assert c.alive()
        assert c.status() == "running"
    finally:
        os.close(out)
        rt.delete(c)
    assert c.wait().signal == signal.SIGKILL


# ---- state: another process finds, signals and deletes ----------------------

OTHER_PROCESS = """
import sys, signal
from runtime.container import Container
c = Container.load(sys.argv[1])
print(c.status(), c.wait_exit(0.1))
c.kill(signal.SIGKILL)
print(c.wait_exit(5), c.status())
c.delete()
print("deleted")
"""


def test_another_process_loads_signals_and_deletes_a_container(rt):
    c, out = rt.start(rt.spec("/bin/sh", "-c", "echo READY; exec sleep 60"))
    read_until(out, "READY")
    os.close(out)
    cg = c.cgroup
    p = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, c.state_dir],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["running", "False", "True", "stopped", "deleted"]
    # only the parent learns the exit status
    assert c.wait().signal == signal.SIGKILL
    rt.live.remove(c)
    assert_gone(c, cg)


def test_the_shared_rootfs_fixture_is_left_untouched(busybox_rootfs):
    # runs last in this file: no test above may have written into the fixture
    made_by_tests = {"newfile", "data", "scratch", "bad", "evil", "inside"}
    assert not made_by_tests & set(os.listdir(busybox_rootfs))
    assert os.listdir(os.path.join(busybox_rootfs, "dev")) == []
    assert os.listdir(os.path.join(busybox_rootfs, "tmp")) == []
    assert os.path.lexists(os.path.join(busybox_rootfs, "bin", "ls"))
