# abc380_a: digit 1 once, 2 twice and 3 three times in a 6-digit N?
s = input().strip()
print("Yes" if all(s.count(d) == int(d) for d in "123") else "No")
