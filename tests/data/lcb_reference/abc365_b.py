# abc365_b: 1-based position of the second largest element.
n = int(input())
a = list(map(int, input().split()))
order = sorted(range(n), key=lambda i: a[i], reverse=True)
print(order[1] + 1)
