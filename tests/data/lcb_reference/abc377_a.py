# abc377_a: can the three letters of S be rearranged into ABC?
print("Yes" if sorted(input().strip()) == ["A", "B", "C"] else "No")
