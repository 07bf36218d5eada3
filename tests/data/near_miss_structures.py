"""Variants of structured gold answers: +-, sets, tuples, intervals, matrices, equations,
expressions, radicals (for make_math_near_miss.py)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from fractions import Fraction

from near_miss_latex import (
    Gold,
    Variant,
    braces,
    bump_number,
    decimal_of,
    reorder_sum,
    spaced,
    split_top,
    terms,
    tight,
)


def pm_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    text = gold.answer.strip()
    head, tail = (part.strip() for part in text.split("\\pm"))
    yield f"{head} + {tail}, {head} - {tail}", True, "pm_expanded"
    yield f"{head} - {tail}, {head} + {tail}", True, "pm_expanded"
    yield f"{head} \\mp {tail}", True, "pm_expanded"
    yield f"{head} + {tail}", False, "pm_branch"
    yield f"-{head} \\pm {tail}", False, "sign"
    yield f"{head} \\pm {bump_number(tail)}", False, "radical_neighbour"


def set_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    text = gold.answer.strip()
    braced = text.startswith("\\{")
    inner = text[2:-2] if braced else text
    items = split_top(inner)
    expanded = []
    for item in items:
        if "\\pm" in item:
            head, tail = item.split("\\pm")
            expanded += [f"{head}+{tail}", f"{head}-{tail}"]
        else:
            expanded.append(item)

    def wrap(parts: list[str]) -> str:
        body = ", ".join(parts)
        return f"\\{{{body}\\}}" if braced else body

    yield wrap(list(reversed(expanded))), True, "set_order"
    yield wrap(expanded[1:] + expanded[:1]), True, "set_order"
    if not braced:
        yield f"\\{{{', '.join(expanded)}\\}}", True, "set_braces"
        yield ", ".join(f"x = {item}" for item in expanded), True, "x_prefix"
    yield wrap(expanded[:-1]), False, "set_drop"
    yield wrap([*expanded, str(rng.choice((0, 4, 9, -5)))]), False, "set_extra"
    changed = list(expanded)
    i = rng.randrange(len(changed))
    changed[i] = changed[i][1:] if changed[i].startswith("-") else "-" + changed[i]
    yield wrap(changed), False, "sign"


def tuple_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    text = braces(gold.answer.strip())
    inner = re.sub(r"^\\left\(\s*|\s*\\right\)$", "", text)
    inner = inner[1:-1] if inner.startswith("(") else inner
    items = split_top(inner)
    yield f"\\left({', '.join(items)}\\right)", True, "left_right"
    yield f"({','.join(items)})", True, "spacing"
    if any("\\frac" in item for item in items):
        yield f"({', '.join(i.replace('frac', 'dfrac') for i in items)})", True, "dfrac"
    decimals = []
    for item in items:
        m = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", item)
        decimal = decimal_of(Fraction(int(m[1] + m[2]), int(m[3]))) if m else None
        decimals.append(decimal or item)
    if decimals != items:
        yield f"({', '.join(decimals)})", True, "exact_decimal"
    pairs = [(i, j) for i in range(len(items)) for j in range(i + 1, len(items))]
    pairs = [(i, j) for i, j in pairs if items[i] != items[j]]
    if pairs:
        i, j = rng.choice(pairs)
        swapped = list(items)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        yield f"({', '.join(swapped)})", False, "tuple_swap"
    if len(items) > 2:
        yield f"({', '.join(items[:-1])})", False, "tuple_drop"
    k = rng.randrange(len(items))
    signed = list(items)
    signed[k] = signed[k][1:] if signed[k].startswith("-") else "-" + signed[k]
    yield f"({', '.join(signed)})", False, "sign"
    bumped = list(items)
    bumped[k] = bump_number(bumped[k]) or bumped[k] + "+1"
    yield f"({', '.join(bumped)})", False, "tuple_element"


# Intervals: a list of pieces (left bracket, low, high, right bracket), or points.
Piece = tuple[str, str, str, str]


def parse_set(text: str) -> list[Piece]:
    text = braces(text)
    text = re.sub(r"\\left|\\right", "", text)
    text = re.sub(r"^x\s*\\in\s*", "", text.strip())
    pieces = []
    for part in text.split("\\cup"):
        part = part.strip()
        low, high = split_top(part[1:-1])
        pieces.append((part[0], low.strip(), high.strip(), part[-1]))
    return pieces


def show_set(pieces: list[Piece], spacing: str = "", left_right: bool = False) -> str:
    lr = ("\\left", "\\right") if left_right else ("", "")
    sep = f",{spacing}"
    return f"{spacing}\\cup{spacing}".join(
        f"{lr[0]}{a}{low}{sep}{high}{lr[1]}{b}" for a, low, high, b in pieces
    )


def inequality(piece: Piece, var: str = "x") -> str:
    a, low, high, b = piece
    left = "<" if a == "(" else "\\le"
    right = "<" if b == ")" else "\\le"
    if "infty" in low and "infty" in high:
        return f"{var} \\in \\mathbb{{R}}"
    if "infty" in low:
        return f"{var} {right} {high}"
    if "infty" in high:
        greater = ">" if a == "(" else "\\ge"
        return f"{var} {greater} {low}"
    return f"{low} {left} {var} {right} {high}"


def interval_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    pieces = parse_set(gold.answer)
    yield show_set(pieces, " ", left_right=True), True, "left_right"
    yield f"x \\in {show_set(pieces)}", True, "membership_form"
    yield " \\text{ or } ".join(inequality(p) for p in pieces), True, "inequality_form"
    if len(pieces) > 1:
        yield show_set(list(reversed(pieces))), True, "set_order"
        shared = pieces[0][2] == pieces[1][1] and len(pieces) == 2
        if shared and pieces[0][3] == ")" and pieces[1][0] == "(":
            whole = inequality((pieces[0][0], pieces[0][1], pieces[1][2], pieces[1][3]))
            yield f"{whole} \\text{{ and }} x \\neq {pieces[0][2]}", True, "inequality_form"
    if any("\\frac" in p[1] + p[2] for p in pieces):
        yield (
            show_set([(a, lo.replace("frac", "dfrac"), hi, b) for a, lo, hi, b in pieces]),
            True,
            "dfrac",
        )
    k = rng.randrange(len(pieces))
    a, low, high, b = pieces[k]
    finite = [side for side, end in (("low", low), ("high", high)) if "infty" not in end]
    flip = {"(": "[", "[": "(", ")": "]", "]": ")"}
    for side in finite:
        changed = list(pieces)
        if side == "low":
            changed[k] = (flip[a], low, high, b)
        else:
            changed[k] = (a, low, high, flip[b])
        yield show_set(changed), False, "interval_bracket"
        moved = list(pieces)
        end = low if side == "low" else high
        new_end = bump_number(end, -1, -1 if side == "low" else 1) or bump_number(end) or end + "+1"
        moved[k] = (a, new_end, high, b) if side == "low" else (a, low, new_end, b)
        yield show_set(moved), False, "interval_endpoint"
        yield f"x \\in {show_set(moved)}", False, "interval_membership"
        yield " \\text{ or } ".join(inequality(p) for p in changed), False, "inequality_form"
    if len(pieces) > 1:
        yield show_set(pieces[:1]), False, "union_piece"
        yield f"{pieces[0][0]}{pieces[0][1]}, {pieces[-1][2]}{pieces[-1][3]}", False, "union_piece"
        yield " \\text{ and } ".join(inequality(p) for p in pieces), False, "inequality_form"


def matrix_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    body = re.fullmatch(r"\\begin\{pmatrix\}(.*)\\end\{pmatrix\}", gold.answer.strip(), re.S)
    assert body is not None
    rows = [[cell.strip() for cell in row.split("&")] for row in body[1].split("\\\\")]

    def show(cells: list[list[str]], env: str = "pmatrix") -> str:
        inner = " \\\\ ".join(" & ".join(row) for row in cells)
        return f"\\begin{{{env}}} {inner} \\end{{{env}}}"

    def as_frac(cell: str) -> str:
        m = re.fullmatch(r"(-?)(\d+)/(\d+)", cell)
        return f"{m[1]}\\frac{{{m[2]}}}{{{m[3]}}}" if m else cell

    yield show(rows, "bmatrix"), True, "matrix_bracket"
    yield show([[as_frac(c) for c in row] for row in rows]), True, "dfrac"
    yield show(rows).replace(" ", ""), True, "spacing"
    flat = [(i, j) for i, row in enumerate(rows) for j in range(len(row))]
    distinct = [
        (p, q) for p in flat for q in flat if p < q and rows[p[0]][p[1]] != rows[q[0]][q[1]]
    ]
    if distinct:
        (i, j), (k, m) = rng.choice(distinct)
        swapped = [list(row) for row in rows]
        swapped[i][j], swapped[k][m] = swapped[k][m], swapped[i][j]
        yield show(swapped), False, "matrix_swap"
    i, j = rng.choice(flat)
    for kind, change in (
        ("sign", lambda c: c[1:] if c.startswith("-") else ("-" + c if c != "0" else "1")),
        ("matrix_entry", lambda c: bump_number(c) or c),
    ):
        changed = [list(row) for row in rows]
        changed[i][j] = change(changed[i][j])
        yield show(changed), False, kind
    if len(rows) > 1 and all(len(row) == 1 for row in rows):
        yield show(rows[:-1]), False, "matrix_shape"


def equation_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    lhs, rhs = (side.strip() for side in gold.answer.split("="))
    yield f"{rhs} = {lhs}", True, "equation_sides"
    yield f"{lhs}={rhs}", True, "spacing"
    if (reordered := reorder_sum(lhs if rhs == "0" else rhs)) is not None:
        yield (f"{reordered} = 0" if rhs == "0" else f"{lhs} = {reordered}"), True, "term_order"
    if re.fullmatch(r"[a-z]", lhs) and not re.search(r"[a-z]", rhs):
        yield rhs, True, "x_prefix"
    variables = sorted(
        set(re.findall(r"(?<!\\)\b([a-z])\b|(?<=\d)([a-z])", gold.answer)) - {("", "")}
    )
    names = sorted({a or b for a, b in variables})
    if names:
        old = rng.choice(names)
        new = next(c for c in "tuwvs" if c not in names)
        yield re.sub(rf"(?<![a-z\\]){old}(?![a-z])", new, gold.answer), False, "equation_variable"
    yield bump_number(gold.answer, 0) or gold.answer + "+1", False, "equation_coefficient"
    if (bumped := bump_number(gold.answer, -1, 2)) is not None:
        yield bumped, False, "equation_constant"


def expression_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    text = braces(gold.answer.strip())
    if (reordered := reorder_sum(text)) is not None:
        yield reordered, True, "term_order"
    yield spaced(text) if spaced(text) != text else tight(text), True, "spacing"
    if re.search(r"\d[a-zA-Z\\(]", text):
        yield (
            re.sub(r"(\d)\s*(?=[a-zA-Z\\(])(?!\\frac)", r"\1 \\cdot ", text, count=1),
            True,
            "spacing",
        )
    if (bumped := bump_number(text, 0)) is not None:
        yield bumped, False, "expression_coefficient"
    letters = sorted(set(re.findall(r"(?<![\\a-zA-Z])([a-zA-Z])(?![a-zA-Z])", text)))
    if letters:
        old = rng.choice(letters)
        new = next(c for c in ("t", "u", "w", "s") if c not in letters)
        if old.isupper():
            new = old.lower()
        yield re.sub(rf"(?<![\\a-zA-Z]){old}(?![a-zA-Z])", new, text), False, "expression_variable"
    if re.search(r"\\(cot|tan|sin|cos)", text):
        yield re.sub(r"\\cot", r"\\tan", text), False, "expression_function"
    parts = terms(text)
    if len(parts) > 1:
        k = rng.randrange(1, len(parts))
        flipped = parts[k].replace("+", "\0").replace("-", "+").replace("\0", "-")
        yield " ".join([parts[0], *parts[1:k], flipped, *parts[k + 1 :]]), False, "sign"
    else:
        yield (text[1:] if text.startswith("-") else f"-{text}"), False, "sign"


def radical_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    text = braces(gold.answer.strip())
    yield from (
        (a, e, k) for a, e, k in expression_variants(gold, rng) if k != "expression_variable"
    )
    m = re.fullmatch(r"(\d*)\s*\\sqrt\{(\d+)\}", text)
    if m is not None:
        coefficient, radicand = int(m[1] or 1), int(m[2])
        yield f"\\sqrt{{{coefficient**2 * radicand}}}", True, "radical_form"
        yield (
            f"{radicand}^{{1/2}}"
            if coefficient == 1
            else f"\\sqrt{{{radicand}}} \\cdot {coefficient}",
            True,
            "radical_form",
        )
    spots = list(re.finditer(r"\\sqrt\{(\d+)\}", text))
    spot = spots[-1]
    radicand = int(spot[1]) + 1
    while int(radicand**0.5) ** 2 == radicand:
        radicand += 1
    yield text[: spot.start(1)] + str(radicand) + text[spot.end(1) :], False, "radical_neighbour"


def pi_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    text = braces(gold.answer.strip())
    m = re.fullmatch(r"(\d+)\s*\\pi", text)
    if m is not None:
        yield f"{m[1]}\\cdot\\pi", True, "spacing"
        yield f"\\pi \\cdot {m[1]}", True, "term_order"
        yield m[1], False, "pi_dropped"
        yield f"{int(m[1]) + 1}\\pi", False, "pi_coefficient"
        yield f"\\frac{{{m[1]}}}{{\\pi}}", False, "pi_coefficient"
        return
    yield from expression_variants(gold, rng)
    yield text.replace("\\pi", "").replace("{}", "{1}").strip() or "1", False, "pi_dropped"
