"""Container logs in the CRI format, written by a process that is not the agent.

``cri`` holds the format (records, rotated-file naming, the reader); ``writer`` starts one
log writer process per container (conmon-like), which outlives the agent. Nothing is
imported here: the writer process imports ``_writerproc`` and must stay lean.
"""
