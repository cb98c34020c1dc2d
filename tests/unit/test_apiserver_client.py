"""The CLI's client: clear messages when the agent cannot be reached, kept-alive connections,
and an import path light enough for a CLI."""

import os
import socket
import subprocess
import sys

import pytest

from minikube_py.apiserver.client import AgentUnreachable, Client
from tests.unit.fake_agent import pod_manifest, running_agent

pytestmark = pytest.mark.timeout(30)


def test_missing_socket_says_to_start_the_agent(tmp_path):
    path = str(tmp_path / "api.sock")
    with pytest.raises(AgentUnreachable) as err:
        Client(path).list("pods", None)
    assert str(err.value) == (f"cannot reach the agent at {path}: is `minikube-py agent` running?")


def test_socket_nobody_listens_on_says_the_same(tmp_path):
    path = str(tmp_path / "api.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()
    with pytest.raises(AgentUnreachable, match="is `minikube-py agent` running"):
        Client(path).get("pods", "default", "x")


def _message_as_nobody(path):
    """The client's error in a child process that is not root (uid/gid 65534)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop root, try, report
        try:
            os.close(r)
            os.setgid(65534)
            os.setuid(65534)
            try:
                Client(path).list("pods", None)
                os.write(w, b"connected")
            except AgentUnreachable as e:
                os.write(w, str(e).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        message = f.read().decode()
    os.waitpid(pid, 0)
    return message


def test_permission_denied_says_to_run_as_root(tmp_path):
    with running_agent(tmp_path) as agent:
        path = agent.server.socket_path
        if os.geteuid() == 0:
            # socket 0600 and run dir 0700, both root's: let nobody reach the socket file
            os.chmod(tmp_path, 0o755)
            os.chmod(agent.run_dir, 0o755)
            message = _message_as_nobody(path)
        else:
            os.chmod(path, 0)
            with pytest.raises(AgentUnreachable) as err:
                Client(path).list("pods", None)
            message = str(err.value)
    assert message == (
        f"permission denied on {path}: the agent's API is for root only "
        "(run as root: sudo minikube-py ...)"
    )


def test_kept_alive_connection_is_reused_and_reopened(tmp_path):
    with running_agent(tmp_path) as agent:
        client = agent.client
        client.create("pods", "default", pod_manifest("web"))
        conn = client._conn
        assert client.get("pods", "default", "web")["metadata"]["name"] == "web"
        assert client._conn is conn  # one connection for both requests
        conn.sock.shutdown(socket.SHUT_RDWR)  # as if the server had dropped it
        assert client.get("pods", "default", "web")["metadata"]["name"] == "web"


def test_the_client_imports_no_http_library():
    code = (
        "import sys\n"
        "import minikube_py.apiserver.client\n"
        "bad = [m for m in ('http.client', 'requests', 'ssl', 'email', 'yaml', 'urllib3') "
        "if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
