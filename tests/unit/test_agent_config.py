"""The agent's config file: the command-line options, as YAML."""

from __future__ import annotations

import pytest

from minikube_py.cli.agent import _load_config
from minikube_py.errors import MinikubeError


def test_dashed_or_underscored_option_names(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text("pod-cidr: 10.9.0.0/24\nmax_pods: 20\nmanifests: /etc/m\nbridge: br9\n")
    assert _load_config(str(path)) == {
        "pod_cidr": "10.9.0.0/24",
        "max_pods": 20,
        "manifests": "/etc/m",
        "bridge": "br9",
    }


def test_an_empty_or_comment_only_file_sets_nothing(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text("# nothing yet\n")
    assert _load_config(str(path)) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pod-cdir: 10.0.0.0/24\n", "unknown option 'pod-cdir'"),
        ("- a\n- b\n", "expected a mapping"),
        ("bridge: [unclosed\n", "agent.yaml"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    with pytest.raises(MinikubeError, match=r"agent config .*agent\.yaml") as e:
        _load_config(str(path))
    assert message in str(e.value)
