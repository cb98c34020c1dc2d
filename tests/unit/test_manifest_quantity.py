"""Kubernetes resource quantities: parsing, canonical text, comparisons."""

from __future__ import annotations

import pytest

from minikube_py.api.quantity import PARSE_ERROR, Quantity, QuantityError


@pytest.mark.parametrize(
    ("text", "canonical", "milli", "whole"),
    [
        ("100m", "100m", 100, 1),
        ("0.5", "500m", 500, 1),
        (0.5, "500m", 500, 1),
        ("1", "1", 1000, 1),
        (2, "2", 2000, 2),
        ("1500m", "1500m", 1500, 2),
        ("2000m", "2", 2000, 2),
        ("64Mi", "64Mi", 64 * 2**20 * 1000, 64 * 2**20),
        ("1024Mi", "1Gi", 2**30 * 1000, 2**30),
        ("1536Mi", "1536Mi", 1536 * 2**20 * 1000, 1536 * 2**20),
        ("1G", "1G", 10**12, 10**9),
        ("1000", "1k", 10**6, 1000),
        ("1e3", "1e3", 10**6, 1000),
        ("1E3", "1e3", 10**6, 1000),
        ("512", "512", 512000, 512),
        ("0.5Gi", "512Mi", 2**29 * 1000, 2**29),
        ("100Ki", "100Ki", 102400000, 102400),
        ("1n", "1n", 1, 1),
        ("0", "0", 0, 0),
        (".5", "500m", 500, 1),
        ("+1", "1", 1000, 1),
        ("1000000000", "1G", 10**12, 10**9),
        ("1.", "1", 1000, 1),
        ("1.G", "1G", 10**12, 10**9),
        ("3.001n", "4n", 1, 1),
        ("0.000000000001Ki", "2n", 1, 1),
        ("300Mi", "300Mi", 300 * 2**20 * 1000, 300 * 2**20),
        ("1080m", "1080m", 1080, 2),
    ],
)
def test_parse_and_canonical_form(text, canonical, milli, whole):
    q = Quantity.parse(text)
    assert str(q) == canonical
    assert q.milli_value() == milli
    assert q.value_ceil() == whole


@pytest.mark.parametrize(
    "text",
    [
        "",
        "64MB",
        "1.2.3",
        "abc",
        "1Ki1",
        "--1",
        ".",
        "1e",
        "Mi",
        True,
        " 1",
        "1 ",
        "0.1mi",
        ".5i",
        "-3.01e-",
        "1+1.0M",
    ],
)
def test_invalid_quantities_raise_kubernetes_message(text):
    with pytest.raises(QuantityError) as info:
        Quantity.parse(text)
    assert str(info.value) == PARSE_ERROR
    assert PARSE_ERROR.startswith("quantities must match the regular expression")


def test_comparison_is_by_value_across_formats():
    assert Quantity.parse("1Gi") > Quantity.parse("1G")
    assert Quantity.parse("1000m") == Quantity.parse("1")
    assert Quantity.parse("-1") < Quantity.parse("0")
