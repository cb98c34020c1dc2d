"""The shim: the process that is the containers' parent, so the agent need not be.

One per node (per run dir), started by the agent on first use and left running
when the agent stops or dies: containers keep running, their logs keep flowing,
their exits are recorded, and a restarted agent reconnects and learns of them.
It serves the kubelet's RuntimeService over <run-dir>/shim.sock.
"""

SOCKET_NAME = "shim.sock"
PID_FILE = "shim.pid"
