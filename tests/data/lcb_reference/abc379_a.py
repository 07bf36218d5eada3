# abc379_a: for digits abc, print bca and cab.
a, b, c = input().strip()
print(b + c + a, c + a + b)
