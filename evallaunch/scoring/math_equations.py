"""Equations that math_verify compares wrongly or not at all: equal up to a constant factor
(``2x + 4y - 3 = 0`` and ``y = -\\frac{1}{2}x + \\frac{3}{4}``), one function's values with
its argument renamed (``W(n) = 1``, ``W(x) = 1``), and ``=`` that only names a value
(``(x, y) = (5, 8)`` against ``(5, 8)``). Values are sympy objects as math_verify parses them.
"""

from __future__ import annotations

from typing import Any

import sympy
from sympy.core.function import AppliedUndef

from evallaunch.scoring.math_structures import same_number

__all__ = ["same_equation", "same_function_values", "unlabelled"]


def same_equation(a: Any, b: Any) -> bool:
    """Equations with the same solutions because one is the other times a nonzero
    constant (``2x + 4y - 3 = 0`` and ``y = -\\frac{1}{2}x + \\frac{3}{4}``), in the
    same variables; False for anything else."""
    if not (isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq)):
        return False
    ours, theirs = a.lhs - a.rhs, b.lhs - b.rhs
    if not ours.free_symbols or ours.free_symbols != theirs.free_symbols:
        return False
    try:
        ratio = sympy.simplify(ours / theirs)
    except (TypeError, ValueError, AttributeError, NotImplementedError, RecursionError):
        return False
    return not ratio.free_symbols and ratio.is_zero is False and ratio.is_finite is True


def same_function_values(a: Any, b: Any) -> bool:
    """``W(n) = 1`` and ``W(x) = 1``, ``f(x) = x^2`` and ``f(y) = y^2``: one function
    given by its value at a named argument, the argument renamed; False otherwise."""
    if not (isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq)):
        return False
    f, g = a.lhs, b.lhs
    if not (isinstance(f, AppliedUndef) and isinstance(g, AppliedUndef)) or f.func != g.func:
        return False
    if len(f.args) != len(g.args) or not all(isinstance(v, sympy.Symbol) for v in f.args + g.args):
        return False
    renamed = b.rhs.xreplace(dict(zip(g.args, f.args, strict=True)))
    return same_number(a.rhs, renamed)


def unlabelled(values: list[Any], others: list[Any]) -> list[Any]:
    """``(x, y) = (5, 8)`` -> ``(5, 8)`` against an answer that is not an equation: a
    variable or a tuple of variables before ``=`` only names the value."""
    if any(isinstance(other, sympy.Eq) for other in others):
        return values
    return [v.rhs if isinstance(v, sympy.Eq) and _is_label(v.lhs) else v for v in values]


def _is_label(value: Any) -> bool:
    items = value.args if isinstance(value, (sympy.Tuple, sympy.FiniteSet)) else (value,)
    return all(isinstance(item, sympy.Symbol) for item in items)
