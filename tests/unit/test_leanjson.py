"""leanjson gives what json gives: the same objects, the same text, the same errors."""

import json
import math

import pytest

from minikube_py import leanjson

DOCUMENTS = [
    '{"a": [1, 2.5, -3e5, true, false, null, "x\\u00e9\\n\\"q\\""], "b": {"c": {}}}',
    "  [1, [], {}]\n",
    '"plain"',
    '{"n": NaN, "i": Infinity, "m": -Infinity}',
    '{"a": 1, "a": 2}',
    '{"big": 123456789012345678901234567890, "f": 1e400}',
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_decodes_as_json_does(text):
    assert repr(leanjson.loads(text)) == repr(json.loads(text))
    assert repr(leanjson.loads(text.encode())) == repr(json.loads(text.encode()))


@pytest.mark.parametrize("text", ["", "{", '{"a":1} x', '{"a": 01}', "[1,]", '{"a" 1}', "nul"])
def test_refuses_as_json_does(text):
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as ours:
        leanjson.loads(text)
    assert (ours.value.msg, ours.value.pos) == (theirs.value.msg, theirs.value.pos)


def test_object_pairs_hook_sees_every_pair():
    pairs = []
    leanjson.loads('{"a": 1, "a": 2, "b": {"c": 3}}', object_pairs_hook=lambda p: pairs.append(p))
    assert pairs == [[("c", 3)], [("a", 1), ("a", 2), ("b", None)]]


def test_encodes_as_compact_json():
    obj = {"a": [1, 2.5, None, True, 'é\n"', {"x": {}}], "z": -0.0, "big": 10**20, "n": math.inf}
    assert leanjson.dumps(obj) == json.dumps(obj, separators=(",", ":"))
    assert json.loads(leanjson.dumps(obj)) == json.loads(json.dumps(obj))
    with pytest.raises(TypeError, match="not JSON serializable"):
        leanjson.dumps({"a": object()})
