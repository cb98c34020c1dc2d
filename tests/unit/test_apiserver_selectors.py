"""Label and field selectors parse and match as the Kubernetes API server's do."""

import pytest

from minikube_py.apiserver.errors import APIError
from minikube_py.apiserver.selectors import parse_field_selector, parse_label_selector

LABELS = {"app": "web", "tier": "front", "env": ""}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),  # != matches when the label is absent
        ("app in (web,db)", True),
        ("app in (db, cache)", False),
        ("app notin (db)", True),
        ("app notin (web)", False),
        ("missing notin (x)", True),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!tier", False),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("app in (web),!missing,tier", True),
        ("env=", True),
        (" app = web ", True),
        ("example.com/role=x", False),
    ],
)
def test_label_selector_matches_like_kubernetes(selector, matches):
    assert parse_label_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize(
    "selector", ["app=web,", "in (x)", "app in x", "app in (x", "Bad Key=x", "app=-x-", "!"]
)
def test_malformed_label_selector_is_a_bad_request(selector):
    with pytest.raises(APIError) as err:
        parse_label_selector(selector)
    assert err.value.code == 400
    assert err.value.reason == "BadRequest"
    assert "unable to parse requirement" in err.value.message


POD = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"nodeName": "node1"},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("metadata.name=web", True),
        ("metadata.name==web", True),
        ("metadata.name=db", False),
        ("metadata.name!=db", True),
        ("status.phase=Running,spec.nodeName=node1", True),
        ("status.phase!=Running", False),
        ("metadata.namespace=default", True),
        ("status.podIP=", True),  # absent reads as ""
    ],
)
def test_pod_field_selector(selector, matches):
    assert parse_field_selector(selector, "Pod").matches(POD) is matches


def test_event_field_selector_on_involved_object():
    event = {"involvedObject": {"name": "web", "namespace": "default", "kind": "Pod"}}
    assert parse_field_selector("involvedObject.name=web", "Event").matches(event)
    assert not parse_field_selector("involvedObject.name=db", "Event").matches(event)


def test_unknown_field_label_is_a_bad_request():
    with pytest.raises(APIError) as err:
        parse_field_selector("spec.containers=x", "Pod")
    assert err.value.code == 400
    assert err.value.message == "field label not supported: spec.containers"


def test_field_selector_without_operator_is_a_bad_request():
    with pytest.raises(APIError) as err:
        parse_field_selector("metadata.name", "Pod")
    assert err.value.code == 400
