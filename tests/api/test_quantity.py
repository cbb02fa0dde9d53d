"""Table tests for resource quantities (k8s.io/apimachinery/pkg/api/resource)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubetui.api.quantity import (
    QUANTITY_ERROR, format_quantity, parse_quantity, quantity_bytes, quantity_millis,
)


@pytest.mark.parametrize("text, value", [
    ("250m", Fraction(1, 4)),
    ("128Mi", 128 * 1024**2),
    ("1.5Gi", 1536 * 1024**2),
    ("2", 2),
    ("1e3", 1000),
    ("1E3", 1000),
    ("0.1", Fraction(1, 10)),
    ("100n", Fraction(1, 10**7)),
    ("5u", Fraction(5, 10**6)),
    ("1k", 1000),
    ("1M", 10**6),
    ("2Ki", 2048),
    ("-1", -1),
    ("+3", 3),
    (".5", Fraction(1, 2)),
    (3, 3),
    (0.5, Fraction(1, 2)),
])
def test_parse(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("bad", ["abc", "1Zi", "", "Mi", ".", "1.2.3", "1 Gi", "1e", "--1", True, None, [1]])
def test_parse_rejects_with_kubernetes_message(bad):
    with pytest.raises(ValueError) as e:
        parse_quantity(bad)
    assert str(e.value) in (QUANTITY_ERROR, "unable to parse quantity's suffix")


@pytest.mark.parametrize("text, millis", [("250m", 250), ("1", 1000), ("0.1", 100), ("1.5", 1500), ("1n", 1)])
def test_millis_round_up(text, millis):
    assert quantity_millis(text) == millis


@pytest.mark.parametrize("text, n", [("128Mi", 134217728), ("1G", 10**9), ("1.1Ki", 1127), ("100m", 1)])
def test_bytes_round_up(text, n):
    assert quantity_bytes(text) == n


@pytest.mark.parametrize("text, canonical", [
    ("0.5", "500m"),
    ("1000m", "1"),
    ("1500m", "1500m"),
    ("2000", "2k"),
    ("1.5Gi", "1536Mi"),
    ("1024Mi", "1Gi"),
    ("512Ki", "512Ki"),
    ("1.1Ki", "1126400m"),  # not a whole number of bytes: falls back to decimal
    ("1e3", "1e3"),
    ("0", "0"),
    ("-250m", "-250m"),
])
def test_format_canonical(text, canonical):
    assert format_quantity(text) == canonical


def test_format_explicit_family():
    assert format_quantity(Fraction(1, 2)) == "500m"
    assert format_quantity(1024**3, "BinarySI") == "1Gi"
    assert format_quantity("1Gi", "DecimalSI") == "1073741824"
