"""Resource quantities: ``250m`` CPU, ``128Mi`` of memory, ``10Gi`` of storage.

Upstream: k8s.io/apimachinery/pkg/api/resource/quantity.go. A quantity is a
decimal number with an optional suffix: binary SI (``Ki`` = 1024 … ``Ei``),
decimal SI (``n`` ``u`` ``m`` ``k`` ``M`` ``G`` ``T`` ``P`` ``E``) or a decimal
exponent (``1e3``). Kubernetes keeps the value exactly and prints it back in a
canonical form: ``0.5`` CPU is shown as ``500m`` and ``1.5Gi`` as ``1536Mi``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

# The regular expression upstream quotes in its parse error.
QUANTITY_REGEX = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
QUANTITY_ERROR = f"quantities must match the regular expression '{QUANTITY_REGEX}'"

_NUMBER = re.compile(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?$")

BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}  # powers of 1024
DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXP = {v: k for k, v in DECIMAL_SUFFIXES.items()}

BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"
DECIMAL_EXPONENT = "DecimalExponent"


def _split(s: str) -> tuple[str, str]:
    """Split ``"1.5Gi"`` into number ``"1.5"`` and suffix ``"Gi"``."""
    i = 0
    if s[:1] in "+-":
        i = 1
    while i < len(s) and (s[i].isdigit() or s[i] == "."):
        i += 1
    return s[:i], s[i:]


def parse_quantity_format(s: str | int | float) -> tuple[Fraction, str]:
    """Parse a quantity and tell which suffix family it was written in."""
    if isinstance(s, bool):
        raise ValueError(QUANTITY_ERROR)
    if isinstance(s, int):
        return Fraction(s), DECIMAL_SI
    if isinstance(s, float):
        if not math.isfinite(s):
            raise ValueError(QUANTITY_ERROR)
        return Fraction(Decimal(repr(s))), DECIMAL_SI
    if not isinstance(s, str):
        raise ValueError(QUANTITY_ERROR)
    return _parse_cached(s) if len(s) <= _CACHED_LEN else _parse_text(s)


# Every pod write parses the same few quantities several times over (canonical
# form, validation, LimitRanger, quota): the exact values of the (short) strings
# seen are kept. A Fraction is immutable, so sharing one is safe; errors are not kept.
_CACHED_LEN = 40


def _parse_text(s: str) -> tuple[Fraction, str]:
    text = s.strip()
    if not text or not re.match(QUANTITY_REGEX, text):
        raise ValueError(QUANTITY_ERROR)
    number, suffix = _split(text)
    m = _NUMBER.match(number)
    if not m or not (m.group(2) or m.group(3)):
        raise ValueError(QUANTITY_ERROR)
    value = Fraction(Decimal(number))
    if suffix in BINARY_SUFFIXES:
        return value * 1024 ** BINARY_SUFFIXES[suffix], BINARY_SI
    if suffix in DECIMAL_SUFFIXES:
        return value * Fraction(10) ** DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix[:1] in ("e", "E") and re.fullmatch(r"[eE][-+]?[0-9]+", suffix):
        return value * Fraction(10) ** int(suffix[1:]), DECIMAL_EXPONENT
    raise ValueError("unable to parse quantity's suffix")


_parse_cached = lru_cache(maxsize=4096)(_parse_text)


def parse_quantity(s: str | int | float) -> Fraction:
    """The exact value of a quantity.

    >>> parse_quantity("250m"), parse_quantity("128Mi"), parse_quantity("1e3")
    (Fraction(1, 4), Fraction(134217728, 1), Fraction(1000, 1))
    """
    return parse_quantity_format(s)[0]


def quantity_millis(s: str | int | float) -> int:
    """CPU in millicores, rounded up as Kubernetes does (``"0.1"`` -> 100, ``"1"`` -> 1000)."""
    return math.ceil(parse_quantity(s) * 1000)


def quantity_bytes(s: str | int | float) -> int:
    """Memory or storage in bytes, rounded up (``"128Mi"`` -> 134217728)."""
    return math.ceil(parse_quantity(s))


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    """Integer mantissa and exponent (a multiple of 3, as large as possible)."""
    # Kubernetes keeps nano precision at most; finer values round up.
    nanos = math.ceil(value * 10**9)
    if nanos == 0:
        return 0, 0
    exp = -9
    while nanos % 1000 == 0 and exp < 18:
        nanos //= 1000
        exp += 3
    return nanos, exp


def format_quantity(value: str | int | float | Fraction, fmt: str | None = None) -> str:
    """The canonical form Kubernetes prints a quantity in.

    ``fmt`` is ``BinarySI``, ``DecimalSI`` or ``DecimalExponent``; by default
    the family of the input's suffix is kept, as upstream does.

    >>> format_quantity("0.5"), format_quantity("1.5Gi"), format_quantity("2000")
    ('500m', '1536Mi', '2k')
    """
    if isinstance(value, str) and len(value) <= _CACHED_LEN:
        return _format_cached(value, fmt)
    return _format(value, fmt)


def _format(value: str | int | float | Fraction, fmt: str | None) -> str:
    if isinstance(value, Fraction):
        q, parsed_fmt = value, DECIMAL_SI
    else:
        q, parsed_fmt = parse_quantity_format(value)
    fmt = fmt or parsed_fmt
    sign = "-" if q < 0 else ""
    q = abs(q)
    if fmt == BINARY_SI and q >= 1024 and q.denominator == 1:
        n, power = int(q), 0
        while n % 1024 == 0 and power < 6:
            n //= 1024
            power += 1
        suffix = {v: k for k, v in BINARY_SUFFIXES.items()}.get(power, "")
        return f"{sign}{n}{suffix}"
    mantissa, exp = _decimal_parts(q)
    if mantissa == 0:
        return "0"
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{mantissa}" + (f"e{exp}" if exp else "")
    return f"{sign}{mantissa}{_DECIMAL_BY_EXP[exp]}"


_format_cached = lru_cache(maxsize=4096)(_format)
