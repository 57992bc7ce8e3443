# Independent Keccak-256 (Ethereum padding) straight from the Keccak
# reference specification, used only to produce cross-check vectors.
def rol(x, n): return ((x << n) | (x >> (64 - n))) & (2**64 - 1) if n else x
RC = []
def rc_bit(t):
    if t % 255 == 0: return 1
    R = 1
    for _ in range(t % 255):
        R <<= 1
        if R & 0x100: R ^= 0x171
    return R & 1
for ir in range(24):
    rc = 0
    for j in range(7):
        if rc_bit(j + 7 * ir): rc |= 1 << (2**j - 1)
    RC.append(rc)
r = [[0]*5 for _ in range(5)]
x, y = 1, 0
for t in range(24):
    r[x][y] = ((t + 1) * (t + 2) // 2) % 64
    x, y = y, (2 * x + 3 * y) % 5
def f(A):
    for ir in range(24):
        C = [A[x][0] ^ A[x][1] ^ A[x][2] ^ A[x][3] ^ A[x][4] for x in range(5)]
        D = [C[(x - 1) % 5] ^ rol(C[(x + 1) % 5], 1) for x in range(5)]
        A = [[A[x][y] ^ D[x] for y in range(5)] for x in range(5)]
        B = [[0]*5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                B[y][(2 * x + 3 * y) % 5] = rol(A[x][y], r[x][y])
        A = [[B[x][y] ^ ((~B[(x + 1) % 5][y]) & B[(x + 2) % 5][y]) for y in range(5)] for x in range(5)]
        A[0][0] ^= RC[ir]
    return A
def keccak256(m):
    rate = 136
    p = bytearray(m) + b'\x01'
    while len(p) % rate: p += b'\x00'
    p[-1] |= 0x80
    A = [[0]*5 for _ in range(5)]
    for off in range(0, len(p), rate):
        blk = p[off:off + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            A[x][y] ^= int.from_bytes(blk[8*i:8*i+8], 'little')
        A = f(A)
    out = b''.join(A[i % 5][i // 5].to_bytes(8, 'little') for i in range(4))
    return out.hex()
import sys
print("empty", keccak256(b""))
print("abc", keccak256(b"abc"))
print("fox", keccak256(b"The quick brown fox jumps over the lazy dog"))
for n in (135, 136, 137, 272, 1000):
    print(n, keccak256(bytes((i * 7 + 3) & 0xff for i in range(n))))
