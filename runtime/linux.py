"""Every raw syscall the runtime makes, through ctypes, in one place.

Python 3.11 has no os.unshare/os.setns/mount.  Each wrapper raises
SyscallError(syscall, path, errno) so a failure names what and where.
Capabilities, no_new_privs, pdeathsig and the child subreaper go through
python-prctl (see runtime.init and runtime.forker), not here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform

from runtime.errors import SyscallError

# namespaces (linux/sched.h)
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NAMESPACE_FLAGS = {
    "mount": CLONE_NEWNS,
    "cgroup": CLONE_NEWCGROUP,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
}
# /proc/PID/ns/<name> for each spec namespace type
NAMESPACE_PROC_NAMES = {
    "mount": "mnt",
    "cgroup": "cgroup",
    "uts": "uts",
    "ipc": "ipc",
    "pid": "pid",
    "network": "net",
}

# mount flags (linux/mount.h)
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

MNT_DETACH = 2

_SYSCALLS = {
    # name: (x86_64, aarch64)
    "pivot_root": (155, 41),
    "pidfd_open": (434, 434),
    "pidfd_send_signal": (424, 424),
    "close_range": (436, 436),
}
_ARCH = 0 if platform.machine() in ("x86_64", "AMD64") else 1

try:  # the soname directly: ctypes.util.find_library costs ~10 ms of imports
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    import ctypes.util

    _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def _check(ret: int, syscall: str, path: str | None) -> int:
    if ret < 0:
        raise SyscallError(syscall, path, ctypes.get_errno())
    return ret


def _syscall(name: str, *args: int | bytes | None) -> int:
    return _libc.syscall(_SYSCALLS[name][_ARCH], *args)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare", None)


def setns(fd: int, nstype: int, path: str | None = None) -> None:
    _check(_libc.setns(fd, nstype), "setns", path)


def mount(
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), "mount", target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), "umount2", target)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_syscall("pivot_root", _b(new_root), _b(put_old)), "pivot_root", new_root)


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), "sethostname", None)


def pidfd_open(pid: int) -> int:
    return _check(_syscall("pidfd_open", pid, 0), "pidfd_open", f"/proc/{pid}")


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    _check(_syscall("pidfd_send_signal", pidfd, sig, None, 0), "pidfd_send_signal", None)


def close_fds_except(keep: set[int]) -> None:
    """Close every fd not in `keep`: those /proc/self/fd lists, or (a root without /proc)
    every number around `keep` (os.closerange: close_range(2) where the kernel has it)."""
    try:
        opened = sorted(int(n) for n in os.listdir("/proc/self/fd"))
    except FileNotFoundError:
        low = 0
        for fd in [*sorted(keep), os.sysconf("SC_OPEN_MAX")]:
            if low < fd:  # never an empty range: closerange(0, 0) closes everything
                os.closerange(low, fd)
            low = fd + 1
        return
    for fd in opened:
        if fd not in keep:
            with contextlib.suppress(OSError):  # the fd that listed /proc/self/fd
                os.close(fd)


def mknod(path: str, mode: int, major: int, minor: int) -> None:
    try:
        os.mknod(path, mode, os.makedev(major, minor))
    except OSError as e:
        raise SyscallError("mknod", path, e.errno or 0) from None


def proc_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot), None if gone.

    (pid, start time) names a process without the pid-reuse race.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces and parentheses: split after the last ')'
    fields = data[data.rindex(b")") + 2 :].split()
    return int(fields[19])


def proc_state(pid: int) -> str | None:
    """The one-letter state of /proc/PID/stat (R, S, Z...), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(b")") + 2 :].split()[0].decode()
