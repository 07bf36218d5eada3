# abc375_a: count i with seats i and i + 2 occupied and seat i + 1 empty.
import sys

n, s = sys.stdin.read().split()
print(sum(1 for i in range(int(n) - 2) if s[i : i + 3] == "#.#"))
