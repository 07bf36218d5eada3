"""Comparisons of parsed answers that math_verify gets wrong: exact decimals, sets of
reals (intervals, unions, inequalities, ``x \\in S``) and ordered pairs that read like
open intervals. Values are sympy objects as math_verify's parser returns them.
"""

from __future__ import annotations

from typing import Any

import sympy
from latex2sympy2_extended.sets import FiniteSet as OrderedFiniteSet
from sympy.core.function import AppliedUndef
from sympy.core.relational import Relational

__all__ = [
    "RealSet",
    "exact",
    "is_set_like",
    "real_set",
    "same_number",
    "same_ordered_pair",
    "same_real_set",
]

RealSet = tuple[sympy.Symbol | None, sympy.Set]
_SET_TYPES = (sympy.Interval, sympy.Union, sympy.Complement, sympy.Intersection)


def _rational(value: sympy.Float) -> sympy.Rational:
    return sympy.Rational(str(value))


def exact(value: Any) -> Any:
    """value with each decimal replaced by the fraction it spells (``0.6`` -> ``3/5``), so
    that comparisons are exact instead of rounded to 6 places."""
    if isinstance(value, sympy.MatrixBase):
        return value.applyfunc(exact)
    if not isinstance(value, sympy.Basic) or not value.has(sympy.Float):
        return value
    if isinstance(value, OrderedFiniteSet):
        return OrderedFiniteSet(*(exact(arg) for arg in value._unsorted_args))
    return value.xreplace({f: _rational(f) for f in value.atoms(sympy.Float)})


def same_number(a: Any, b: Any) -> bool:
    """Exact equality of two scalar expressions (``sqrt(12)`` == ``2*sqrt(3)``)."""
    if a == b:
        return True
    try:
        difference = sympy.simplify(a - b)
    except (TypeError, ValueError, AttributeError, NotImplementedError, RecursionError):
        return False
    return bool(difference == 0 or difference.is_zero)


def _functions_as_variables(value: Any) -> Any:
    """``0 < f(x) < 1`` -> ``0 < f(x)' < 1``: one function application, the variable of a
    set of reals written as the function's values."""
    if not isinstance(value, sympy.Basic):
        return value
    applied = value.atoms(AppliedUndef)
    if len(applied) != 1:
        return value
    (call,) = applied
    if value.free_symbols - call.free_symbols:
        return value
    return value.xreplace({call: sympy.Symbol(str(call))})


def _is_relation(value: Any) -> bool:
    if isinstance(value, (sympy.And, sympy.Or)):
        return all(_is_relation(arg) for arg in value.args)
    return isinstance(value, Relational)


def is_set_like(value: Any) -> bool:
    """An interval, a union or complement of them, ``x \\in S``, an inequality (chain), or
    a list of inequalities: the answers compared as sets of real numbers."""
    if isinstance(value, _SET_TYPES):
        return True
    if isinstance(value, sympy.Eq):
        # x \in [a, b]; x = 1, 2, 3 (a variable's values, compared as a set of reals)
        return isinstance(value.rhs, _SET_TYPES) or (
            isinstance(value.lhs, sympy.Symbol)
            and isinstance(value.rhs, sympy.FiniteSet)
            and all(_is_real_number(arg) for arg in value.rhs.args)
        )
    if isinstance(value, sympy.FiniteSet):
        return any(is_set_like(arg) for arg in value.args)
    return (
        _is_relation(value)
        and not isinstance(value, sympy.Eq)
        and len(value.free_symbols) == 1
        and not (
            isinstance(value, (sympy.And, sympy.Or))
            and all(isinstance(arg, sympy.Eq) for arg in value.args)
        )
    )


def _variable(value: Any) -> sympy.Symbol | None:
    symbols = value.free_symbols if isinstance(value, sympy.Basic) else set()
    return next(iter(symbols)) if len(symbols) == 1 else None


def _bound_set(value: Any) -> sympy.Set | None:
    """``x < c``, ``c <= x``, ``x = c``, ... with c a real number, and chains of them, as
    intervals; None for anything else (sympy's general as_set is slow)."""
    if isinstance(value, (sympy.And, sympy.Or)):
        parts = [_bound_set(arg) for arg in value.args]
        if any(part is None for part in parts):
            return None
        join = sympy.Intersection if isinstance(value, sympy.And) else sympy.Union
        return join(*parts)
    if not isinstance(value, Relational):
        return None
    if isinstance(value.rhs, sympy.Symbol) and _is_real_number(value.lhs):
        value = value.reversed
    if not (isinstance(value.lhs, sympy.Symbol) and _is_real_number(value.rhs)):
        return None
    bound, oo = value.rhs, sympy.oo
    intervals = {
        "<": sympy.Interval.open(-oo, bound),
        "<=": sympy.Interval(-oo, bound),
        ">": sympy.Interval.open(bound, oo),
        ">=": sympy.Interval(bound, oo),
        "==": sympy.FiniteSet(bound),
        "!=": sympy.Reals - sympy.FiniteSet(bound),
    }
    return intervals.get(value.rel_op)


def _relation_set(value: Any) -> RealSet | None:
    variable = _variable(value)
    if variable is None:
        return None
    result = _bound_set(value)
    if result is None:
        try:
            result = value.as_set()
        except (NotImplementedError, TypeError, ValueError, AttributeError):
            return None
    return (variable, result) if isinstance(result, sympy.Set) else None


def _is_real_number(value: Any) -> bool:
    return isinstance(value, sympy.Expr) and not value.free_symbols and value.is_real is True


def real_set(value: Any, conjunction: bool = False) -> RealSet | None:
    """The set of real numbers an answer describes, with its variable (None if unnamed).

    Args:
        value: A parsed answer.
        conjunction: A list of relations means "all of them" (the answer said "and");
            otherwise "any of them" (``x < 2, x > 3``). ``x \\neq a`` always excludes a.

    Returns:
        (variable, set), or None when the answer is not a set of reals (a tuple, an
        expression in several variables, ...). Numbers and finite sets of numbers are
        sets of points.
    """
    if isinstance(value, _SET_TYPES):
        return None, value
    if (
        isinstance(value, sympy.Eq)
        and isinstance(value.lhs, sympy.Symbol)
        and isinstance(value.rhs, sympy.Set)
    ):
        inner = real_set(value.rhs, conjunction)
        return (value.lhs, inner[1]) if inner is not None else None
    if _is_real_number(value):
        return None, sympy.FiniteSet(value)
    if isinstance(value, sympy.FiniteSet):
        return _list_set(list(value.args), conjunction)
    if _is_relation(value):
        return _relation_set(_functions_as_variables(value))
    return None


def _list_set(items: list[Any], conjunction: bool) -> RealSet | None:
    if all(_is_real_number(item) for item in items):
        return None, sympy.FiniteSet(*items)
    parts = [real_set(item) for item in items]
    if any(part is None for part in parts):
        return None
    named = {part[0] for part in parts if part is not None and part[0] is not None}
    if len(named) > 1:
        return None
    sets = [
        (part[1], isinstance(item, sympy.Ne))
        for part, item in zip(parts, items, strict=True)
        if part
    ]
    excluded = [found for found, is_ne in sets if is_ne]
    kept = [found for found, is_ne in sets if not is_ne]
    result: sympy.Set = sympy.Reals
    if kept:
        result = sympy.Intersection(*kept) if conjunction else sympy.Union(*kept)
    for other in excluded:
        result = sympy.Intersection(result, other)
    return (named.pop() if named else None), result


def _pieces(value: sympy.Set) -> list[tuple[Any, Any, bool, bool]] | None:
    """Disjoint intervals and points of a set, sorted; None for other kinds of set."""
    items = list(value.args) if isinstance(value, sympy.Union) else [value]
    pieces = []
    for item in items:
        if isinstance(item, sympy.Interval):
            pieces.append((item.start, item.end, bool(item.left_open), bool(item.right_open)))
        elif isinstance(item, sympy.FiniteSet):
            pieces.extend((point, point, False, False) for point in item.args)
        else:
            return None
    try:
        return sorted(pieces, key=lambda piece: (float(piece[0]), float(piece[1])))
    except (TypeError, ValueError):
        return None


def same_real_set(a: RealSet, b: RealSet) -> bool:
    """Whether two sets of reals are equal, exactly (and name the same variable, when
    both name one: ``x = 5`` is not ``y = 5``)."""
    if a[0] is not None and b[0] is not None and a[0].name != b[0].name:
        return False
    left, right = a[1], b[1]
    if left == right:
        return True
    try:
        if left.symmetric_difference(right).is_empty is True:
            return True
    except (TypeError, ValueError, NotImplementedError, RecursionError):
        pass
    ours, theirs = _pieces(left), _pieces(right)
    if ours is None or theirs is None or len(ours) != len(theirs):
        return False
    return all(
        p[2:] == q[2:] and same_number(p[0], q[0]) and same_number(p[1], q[1])
        for p, q in zip(ours, theirs, strict=True)
    )


def _pair(value: Any) -> tuple[Any, Any] | None:
    if (
        isinstance(value, sympy.Interval)
        and value.left_open
        and value.right_open
        and value.start.is_finite
        and value.end.is_finite
    ):
        return value.start, value.end
    if isinstance(value, OrderedFiniteSet) and len(value._unsorted_args) == 2:
        return value._unsorted_args[0], value._unsorted_args[1]
    if isinstance(value, sympy.Tuple) and len(value) == 2:
        return value[0], value[1]
    return None


def same_ordered_pair(gold: Any, pred: Any) -> bool | None:
    """``(a, b)`` reads as an open interval or as an ordered pair: when one side is an
    ordered pair (or a bare ``a, b``), both are compared as pairs, in order.

    Returns:
        The comparison, or None when the two are not both pairs with one of them
        written as something other than an open interval.
    """
    ours, theirs = _pair(gold), _pair(pred)
    if ours is None or theirs is None:
        return None
    if isinstance(gold, sympy.Interval) and isinstance(pred, sympy.Interval):
        return None
    if isinstance(gold, sympy.FiniteSet):
        # the gold is a bare list "a, b" of solutions: order does not matter
        straight = same_number(ours[0], theirs[0]) and same_number(ours[1], theirs[1])
        return straight or (same_number(ours[0], theirs[1]) and same_number(ours[1], theirs[0]))
    return same_number(ours[0], theirs[0]) and same_number(ours[1], theirs[1])
