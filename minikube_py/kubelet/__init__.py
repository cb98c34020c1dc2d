"""The kubelet: sandboxes, containers, pod workers, status.

One job per module, as in kubelet: `sandbox` (pause + pod network),
`containers` (app container specs and starts), `images` (pull policy),
`status` (the one place phases are computed), `worker` (one per pod).
"""
