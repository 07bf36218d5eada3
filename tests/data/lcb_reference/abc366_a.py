# abc366_a: is the election already decided (one side holds a strict majority of N)?
n, t, a = map(int, input().split())
print("Yes" if 2 * t > n or 2 * a > n else "No")
