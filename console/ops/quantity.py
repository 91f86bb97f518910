"""Kubernetes resource quantities (k8s.io/apimachinery resource.Quantity): CPU and memory as the API server reads them.

kanri checks them before it writes a service, so that the registry never holds
what the cluster would refuse. The grammar is resource.Quantity's:

    quantity ::= sign? number suffix?
    number   ::= digits | digits "." digits? | "." digits
    suffix   ::= Ki | Mi | Gi | Ti | Pi | Ei           (powers of 2)
               | n | u | m | k | M | G | T | P | E     (powers of 10)
               | ("e" | "E") sign? digits              (a decimal exponent)

Values are exact: the API server also rounds non-zero amounts below 1n up to
1n and caps binary ones at 2^63 - 1, differences no real request or limit shows.
"""

from __future__ import annotations

import re
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation

GRAMMAR = re.compile(r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                     r"(?:(?P<binary>[KMGTPE]i)|(?P<decimal>[numkMGTPE])|[eE](?P<exponent>[+-]?[0-9]+))?")
BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
HOW = ("write a number, optionally followed by one of Ki Mi Gi Ti Pi Ei (powers of 2), n u m k M G T P E "
       "(powers of 10, kilo is a lower-case k) or an exponent such as e3")


class QuantityError(ValueError):
    """Not a quantity the Kubernetes API server accepts; the message says how to write one."""


def parse(text: str) -> Decimal:
    """The quantity's exact value in its unit (cores, bytes)."""
    found = GRAMMAR.fullmatch(text)
    if found is None:
        raise QuantityError(HOW)
    try:
        scale = DECIMAL[found["decimal"]] if found["decimal"] else int(found["exponent"] or 0)
        value = Decimal(f"{found['number']}e{scale}")  # a conversion is exact: no context rounds it
    except (ValueError, InvalidOperation):  # an exponent of thousands of digits, or beyond Decimal's range
        raise QuantityError(f"its exponent is beyond any amount; {HOW}") from None
    if not found["binary"]:
        return value
    exact = Context(prec=len(text) + 19, Emax=MAX_EMAX, Emin=MIN_EMIN)  # 2^60 has 19 digits
    return exact.multiply(value, 2 ** BINARY[found["binary"]])
