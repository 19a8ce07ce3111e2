"""``claim()``: a sentence that states a result, printed with its numbers and checked.

    claim(cnn_acc > vit_acc, "the CNN beats the ViT: {cnn_acc:.1f} % vs {vit_acc:.1f} %",
          cnn_acc=82.3, vit_acc=74.4)
    # → holds: the CNN beats the ViT: 82.3 % vs 74.4 %

A claim that does not hold stops the lecture run (:class:`ClaimError`). In smoke mode
(``COURSE_SMOKE=1``: tiny data, one epoch) a result that depends on the data may well not hold,
so it is only reported, marked "does NOT hold". A claim marked ``exact=True`` does not depend on
the data (a shape, a parameter count, a formula, an identity up to rounding): it must hold in
every mode.
"""

from __future__ import annotations

import string
from numbers import Integral, Real

from . import config

HOLDS, FAILS = "holds", "does NOT hold"


class ClaimError(AssertionError):
    """A stated result that the numbers do not support."""


def _format(value) -> str:
    """A number as a person reads it: ints with thousands separators, floats to 4 significant digits."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Integral):
        return f"{value:,}"
    if isinstance(value, Real):
        return f"{float(value):.4g}"
    return str(value)


def _fields(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name}


def claim(condition, sentence: str, *, exact: bool = False, **numbers) -> None:
    """Print ``sentence`` (its ``{name}`` fields filled from ``numbers``) with "holds" or "does NOT hold".

    Numbers the sentence does not name are listed after it. Returns nothing (a notebook cell that
    ends in a claim shows only the printed line). Raises :class:`ClaimError` when it does not hold,
    in the lecture run or when ``exact``; in smoke mode a data-dependent (not ``exact``) claim that
    fails is only reported.
    """
    try:
        text = sentence.format(**numbers)
    except (KeyError, IndexError) as exc:
        raise ValueError(f"claim sentence {sentence!r} names {exc} but it is not among the numbers "
                         f"{sorted(numbers)}") from None
    rest = [f"{k} = {_format(v)}" for k, v in numbers.items() if k not in _fields(sentence)]
    if rest:
        text += f" ({', '.join(rest)})"
    holds = bool(condition)
    print(f"{HOLDS if holds else FAILS}: {text}")
    if not holds:
        if exact:
            raise ClaimError(f"this claim does not depend on the data and must hold everywhere: {text}")
        if not config.smoke_mode():
            raise ClaimError(f"the lecture run stops on a claim that does not hold: {text}")
        print("  (smoke mode: tiny data, so a data-dependent claim is only reported)")
