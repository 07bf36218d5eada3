"""A mirror of tiny problems the embedded model really answers, in each benchmark's format.

The metric-agreement tests compare a harness's own pass@1 with evallaunch's grading of the
same completions. On the real benchmarks a 135M model scores 0 in a few dozen tokens, and
0 == 0 would hold whatever either side's scoring did. These rows, under the benchmarks'
own configs, prompts and scorers (`TINY_MIRROR` overrides: this data, no hash check), give
a mix: questions that carry their own answer, which the model repeats, and ones it cannot
answer. The tests assert that every run has correct and wrong samples, and never as many of
one as of the other (a grading turned upside down would give the same share).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

# The math questions (MATH-500 and AIME 2024 formats): gold answer last.
ARITHMETIC = [
    ("What is 2 times 3? The answer is \\boxed{6}.", "6"),
    ("What is 10 plus 10? The answer is \\boxed{20}.", "20"),
    ("What is 4 plus 4? The answer is \\boxed{8}.", "8"),
    ("Find the number of ordered triples of primes (p, q, r) with p^q + q^r = r^p.", "913"),
    ("How many primes are there below 10^12?", "37607912018"),
]

# GPQA-Diamond format: question, correct option, three wrong ones.
CHOICES = [
    ("What color is the sky on a clear day? End with: Answer: LETTER", "Blue", "Green", "Red"),
    ("How many legs does a cat have? End with: Answer: LETTER", "Four", "Two", "Six"),
    ("Which is a fruit? End with: Answer: LETTER", "Apple", "Chair", "Stone"),
    ("Which number is prime? End with: Answer: LETTER", "7", "8", "9"),
]

# LiveCodeBench format: the statement and its public tests (stdin, expected stdout).
LCB_INTRO = (
    "You will be given a question (problem specification) and will generate a correct "
    "Python program that matches the specification and passes all tests.\n\nQuestion: "
)
LCB_OUTRO = (
    "\n\nRead the inputs from stdin solve the problem and write the answer to stdout (do not "
    "directly test on the sample inputs). Enclose your code within delimiters as follows. "
    "Ensure that when the python program runs, it reads the inputs, runs the algorithm and "
    "writes output to STDOUT.\n```python\n# YOUR CODE HERE\n```\n\n"
)
PROGRAMS = [
    ("Print the word Hello.", "1", "Hello"),
    ("Print the number 5.", "1", "5"),
    ("Read an integer N and print the N-th prime number.", "1000", "7919"),
    ("Read N and print the number of primes below N.", "100000", "9592"),
    ("Read N and print the N-th Fibonacci number modulo 998244353.", "1000000", "603708274"),
]

# Overrides that run a benchmark's own config on this mirror: no hash or row-count check.
TINY_MIRROR = ["benchmark.dataset.sha256=null", "benchmark.dataset.rows=null"]


def write_tiny_mirror(folder: Path) -> Path:
    """Write the mirror files of math_500, aime24, gpqa_diamond and lcb_codegen into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    math_rows = [
        {"unique_id": f"tiny/{i}.json", "problem": q, "answer": a, "level": 1}
        for i, (q, a) in enumerate(ARITHMETIC)
    ]
    _jsonl(folder / "math500.jsonl", math_rows)
    aime_rows = [{"id": i, "problem": q, "answer": a} for i, (q, a) in enumerate(ARITHMETIC)]
    _jsonl(folder / "aime24.jsonl", aime_rows)
    table = io.StringIO()
    fields = ["Record ID", "Question", "Correct Answer"]
    fields += [f"Incorrect Answer {k}" for k in (1, 2, 3)]
    writer = csv.DictWriter(table, fieldnames=fields)
    writer.writeheader()
    for i, (question, correct, *wrong) in enumerate(CHOICES):
        options = [*wrong, "None of these"]
        writer.writerow(dict(zip(fields, [f"tiny{i}", question, correct, *options], strict=True)))
    with zipfile.ZipFile(folder / "gpqa_dataset.zip", "w") as archive:
        archive.writestr("dataset/gpqa_diamond.csv", table.getvalue())
    code_rows = [
        {
            "question_id": f"tiny_{i}",
            "contest_date": "2024-09-01T00:00:00",
            "prompt": LCB_INTRO + statement + _samples(stdin, stdout) + LCB_OUTRO,
        }
        for i, (statement, stdin, stdout) in enumerate(PROGRAMS)
    ]
    _jsonl(folder / "lcb_v5.jsonl", code_rows)
    return folder


def _samples(stdin: str, stdout: str) -> str:
    """A statement's sample test, as LiveCodeBench's statements give them."""
    return f"\n\nSample Input 1\n\n{stdin}\n\nSample Output 1\n\n{stdout}\n"


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
