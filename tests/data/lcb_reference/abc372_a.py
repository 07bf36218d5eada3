# abc372_a: remove every "." from S (the answer may be empty).
print(input().strip().replace(".", ""))
