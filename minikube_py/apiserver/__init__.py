"""The Kubernetes-shaped API: an object store with watches, an HTTP server over a Unix socket,
and a lean client for the CLI.

``store`` and ``server`` are for the agent; ``client`` is what the CLI imports (it must stay
light: nothing here is imported eagerly).
"""
