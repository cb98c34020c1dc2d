"""Containers: namespaces, cgroups, rootfs, process start/stop/wait.

Knows nothing of images or pods: it is handed a spec and a rootfs.
"""
