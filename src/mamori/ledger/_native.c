/*
 * mamori.ledger._native: the ledger's bulk hashing in C.
 *
 * Byte-for-byte the same results as the pure-Python reference functions `py_*` of
 * mamori/ledger/hashing.py (read that module for the formulas), only faster, and with
 * the GIL released while whole batches of events are hashed so that verification and
 * ingestion threads run in parallel.
 *
 * SHA-256 (FIPS 180-4) and BLAKE2b (RFC 7693) are implemented here from their
 * specifications, in portable C11 with no library beyond Python's own API.
 *
 * Exported functions (positional arguments; `sha256` and `blake2b` also take keywords):
 *
 *   event_leaves(secret, first_seq, heads, subjects, contents) -> list[bytes]
 *   dedup_keys(scope, hours, contents) -> list[bytes]
 *   merkle_root(leaves) -> bytes
 *   pack_chunk(secret, first_seq, heads, subjects, contents, dedups) -> (body, root)
 *   block_digests(body, first_seq, secret, scope) -> (leaves, keys, stored root)
 *   sha256(data) -> bytes
 *   blake2b(data, key=b"", digest_size=64) -> bytes
 *   simd() -> str                   "avx512", "avx2" or "scalar": the hashing in use
 *   use_simd(level) -> None         choose it: False for "scalar", True for the default,
 *                                   or a name (falling back to the best level below it
 *                                   that this CPU runs)
 *
 * A de-duplication key is the hour the event occurred (whole hours since 1970-01-01T00Z,
 * 4 bytes big-endian) followed by BLAKE2b-96(scope || content); `block_digests` reads
 * that hour from each stored head exactly as `records.hour_of_head` does. `API` is the
 * version of these formulas, checked against `hashing.NATIVE_API` when loading.
 *
 * Argument types: `secret`, `scope`, `leaves`, `body`, `data` and `key` may be any
 * C-contiguous bytes-like object (bytes, memoryview, bytearray: the buffer protocol;
 * PostgreSQL hands blocks over as memoryview). The items of `heads`, `subjects`,
 * `contents` and `dedups` must be bytes (TypeError otherwise); those sequences may be
 * any iterable (they are copied to a tuple first, which also keeps every item alive
 * while the GIL is released). The items of `hours` must be ints from 0 to 2**32 - 1.
 *
 * `secret` is the BLAKE2b key of the salts: 0 to 64 bytes, 0 meaning unkeyed (as
 * hashlib.blake2b(key=b"")). `first_seq` must be an int with 0 <= first_seq and
 * first_seq + count <= 2**64 (OverflowError otherwise, TypeError for a non-int); unlike
 * the reference (whose struct.pack raises struct.error, and only when an event is
 * positioned) this is checked even for an empty batch.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

/* The multi-lane hashing below needs AVX2 or AVX-512F, compiled for its own functions
 * only (target attributes, so no -mavx2 or -mavx512f for the whole file) and used when
 * the CPU has it. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SIMD 1
#include <immintrin.h>
#define AVX2_TARGET __attribute__((target("avx2")))
#define AVX512_TARGET __attribute__((target("avx512f")))
#endif

#define MAGIC "MB1"
#define MAGIC_SIZE 3
#define HEADER_SIZE 7 /* magic + 4-byte count */
#define LEAF_SIZE 32
#define DEDUP_SIZE 16
#define DEDUP_HOUR_SIZE 4
#define DEDUP_DIGEST_SIZE (DEDUP_SIZE - DEDUP_HOUR_SIZE)
#define NATIVE_API 2
#define TABLE_ENTRY (12 + LEAF_SIZE + DEDUP_SIZE) /* lengths, leaf and key of an event */

/* ------------------------------------------------------------------------------------ */
/* Byte order helpers                                                                   */

static inline uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
           (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void store_be64(uint8_t *p, uint64_t v)
{
    store_be32(p, (uint32_t)(v >> 32));
    store_be32(p + 4, (uint32_t)v);
}

static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) |
           ((uint64_t)p[3] << 24) | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) |
           ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
}

static inline void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* ------------------------------------------------------------------------------------ */
/* SHA-256 (FIPS 180-4)                                                                 */

/* The round constants (section 4.2.2), listed once for the tables made of them. */
#define SHA256_K_VALUES(X)                                                                  \
    X(0x428a2f98) X(0x71374491) X(0xb5c0fbcf) X(0xe9b5dba5) X(0x3956c25b)                   \
    X(0x59f111f1) X(0x923f82a4) X(0xab1c5ed5) X(0xd807aa98) X(0x12835b01)                   \
    X(0x243185be) X(0x550c7dc3) X(0x72be5d74) X(0x80deb1fe) X(0x9bdc06a7)                   \
    X(0xc19bf174) X(0xe49b69c1) X(0xefbe4786) X(0x0fc19dc6) X(0x240ca1cc)                   \
    X(0x2de92c6f) X(0x4a7484aa) X(0x5cb0a9dc) X(0x76f988da) X(0x983e5152)                   \
    X(0xa831c66d) X(0xb00327c8) X(0xbf597fc7) X(0xc6e00bf3) X(0xd5a79147)                   \
    X(0x06ca6351) X(0x14292967) X(0x27b70a85) X(0x2e1b2138) X(0x4d2c6dfc)                   \
    X(0x53380d13) X(0x650a7354) X(0x766a0abb) X(0x81c2c92e) X(0x92722c85)                   \
    X(0xa2bfe8a1) X(0xa81a664b) X(0xc24b8b70) X(0xc76c51a3) X(0xd192e819)                   \
    X(0xd6990624) X(0xf40e3585) X(0x106aa070) X(0x19a4c116) X(0x1e376c08)                   \
    X(0x2748774c) X(0x34b0bcb5) X(0x391c0cb3) X(0x4ed8aa4a) X(0x5b9cca4f)                   \
    X(0x682e6ff3) X(0x748f82ee) X(0x78a5636f) X(0x84c87814) X(0x8cc70208)                   \
    X(0x90befffa) X(0xa4506ceb) X(0xbef9a3f7) X(0xc67178f2)

#define K_ONE(k) k,
static const uint32_t SHA256_K[64] = {SHA256_K_VALUES(K_ONE)};

static const uint32_t SHA256_IV[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
    0x5be0cd19,
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
/* The sigma functions with their rotations nested, ROTR^2 ^ ROTR^13 ^ ROTR^22 as
 * ROTR^2(ROTR^11(ROTR^9(x) ^ x) ^ x): the same value, but without the register copies
 * three independent rotations of x cost on two-operand instruction sets. */
#define BSIG0(x) ROR32(ROR32(ROR32(x, 9) ^ (x), 11) ^ (x), 2)
#define BSIG1(x) ROR32(ROR32(ROR32(x, 14) ^ (x), 5) ^ (x), 6)
#define SSIG0(x) (ROR32(ROR32(x, 11) ^ (x), 7) ^ ((x) >> 3))
#define SSIG1(x) (ROR32(ROR32(x, 2) ^ (x), 17) ^ ((x) >> 10))
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))

/* One round; the eight working variables rotate by renaming instead of moving.
 * Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)), and this round's b ^ c is the previous
 * round's a ^ b, carried in `bc`. */
#define SHA_ROUND(a, b, c, d, e, f, g, h, i)                                                \
    do {                                                                                    \
        uint32_t ab_ = (a) ^ (b);                                                           \
        (h) += SHA256_K[i] + w[(i) & 15];                                                   \
        (h) += CH(e, f, g);                                                                 \
        (h) += BSIG1(e);                                                                    \
        (d) += (h);                                                                         \
        (h) += BSIG0(a) + ((b) ^ (ab_ & bc));                                               \
        bc = ab_;                                                                           \
    } while (0)

/* Rounds 0..15 take their word straight from the block ... */
#define SHA_LOAD(a, b, c, d, e, f, g, h, i)                                                 \
    do {                                                                                    \
        w[i] = load_be32(p + 4 * (i));                                                      \
        SHA_ROUND(a, b, c, d, e, f, g, h, i);                                               \
    } while (0)

/* ... the others extend the schedule in a 16-word ring. */
#define SHA_SCHED(a, b, c, d, e, f, g, h, i)                                                \
    do {                                                                                    \
        w[(i) & 15] += SSIG1(w[((i) - 2) & 15]) + w[((i) - 7) & 15] +                      \
                       SSIG0(w[((i) - 15) & 15]);                                           \
        SHA_ROUND(a, b, c, d, e, f, g, h, i);                                               \
    } while (0)

#define SHA_8ROUNDS(R, i)                                                                   \
    R(a, b, c, d, e, f, g, h, (i));                                                         \
    R(h, a, b, c, d, e, f, g, (i) + 1);                                                     \
    R(g, h, a, b, c, d, e, f, (i) + 2);                                                     \
    R(f, g, h, a, b, c, d, e, (i) + 3);                                                     \
    R(e, f, g, h, a, b, c, d, (i) + 4);                                                     \
    R(d, e, f, g, h, a, b, c, (i) + 5);                                                     \
    R(c, d, e, f, g, h, a, b, (i) + 6);                                                     \
    R(b, c, d, e, f, g, h, a, (i) + 7)

/* Process `blocks` consecutive 64-byte blocks at `p`. */
static void sha256_blocks(uint32_t state[8], const uint8_t *p, size_t blocks)
{
    uint32_t w[16];
    while (blocks--) {
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        uint32_t bc = b ^ c;
        SHA_8ROUNDS(SHA_LOAD, 0);
        SHA_8ROUNDS(SHA_LOAD, 8);
        SHA_8ROUNDS(SHA_SCHED, 16);
        SHA_8ROUNDS(SHA_SCHED, 24);
        SHA_8ROUNDS(SHA_SCHED, 32);
        SHA_8ROUNDS(SHA_SCHED, 40);
        SHA_8ROUNDS(SHA_SCHED, 48);
        SHA_8ROUNDS(SHA_SCHED, 56);
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
        p += 64;
    }
}

typedef struct {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    size_t fill;     /* bytes waiting in buf */
    uint8_t buf[64];
} sha256_ctx;

static inline void sha256_init(sha256_ctx *ctx)
{
    memcpy(ctx->state, SHA256_IV, sizeof ctx->state);
    ctx->length = 0;
    ctx->fill = 0;
}

static void sha256_update(sha256_ctx *ctx, const uint8_t *data, size_t len)
{
    ctx->length += len;
    if (ctx->fill) {
        size_t take = 64 - ctx->fill;
        if (take > len) {
            take = len;
        }
        memcpy(ctx->buf + ctx->fill, data, take);
        ctx->fill += take;
        data += take;
        len -= take;
        if (ctx->fill < 64) {
            return;
        }
        sha256_blocks(ctx->state, ctx->buf, 1);
        ctx->fill = 0;
    }
    if (len >= 64) {
        sha256_blocks(ctx->state, data, len / 64);
        data += len & ~(size_t)63;
        len &= 63;
    }
    if (len) {
        memcpy(ctx->buf, data, len);
        ctx->fill = len;
    }
}

static void sha256_final(sha256_ctx *ctx, uint8_t out[32])
{
    uint64_t bits = ctx->length * 8;
    size_t fill = ctx->fill;
    ctx->buf[fill++] = 0x80;
    if (fill > 56) {
        memset(ctx->buf + fill, 0, 64 - fill);
        sha256_blocks(ctx->state, ctx->buf, 1);
        fill = 0;
    }
    memset(ctx->buf + fill, 0, 56 - fill);
    store_be64(ctx->buf + 56, bits);
    sha256_blocks(ctx->state, ctx->buf, 1);
    for (int i = 0; i < 8; i++) {
        store_be32(out + 4 * i, ctx->state[i]);
    }
}

static void sha256_digest(const uint8_t *data, size_t len, uint8_t out[32])
{
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, data, len);
    sha256_final(&ctx, out);
}

/* SHA-256(0x01 || left || right), an interior Merkle node: exactly two padded blocks.
 * `out` may be `left` or `right`. */
static void node_hash(const uint8_t *left, const uint8_t *right, uint8_t out[32])
{
    uint8_t block[128];
    uint32_t state[8];
    block[0] = 0x01;
    memcpy(block + 1, left, 32);
    memcpy(block + 33, right, 32);
    block[65] = 0x80;
    memset(block + 66, 0, 128 - 66);
    store_be64(block + 120, 65 * 8);
    memcpy(state, SHA256_IV, sizeof state);
    sha256_blocks(state, block, 2);
    for (int i = 0; i < 8; i++) {
        store_be32(out + 4 * i, state[i]);
    }
}

/* The RFC 9162 root of `count` leaf hashes at `leaves` (SHA-256("") when none).
 *
 * The leaves are folded in order into the roots of perfect subtrees (at most one per
 * bit of the count, so a fixed 2 KiB stack and no copy of the leaves), which are then
 * joined right to left. That is the same tree as building levels pairwise with an odd
 * last node carried up unchanged, with the same number of node hashes. */
static void merkle_root_of(const uint8_t *leaves, size_t count, uint8_t out[32])
{
    uint8_t stack[64][32];
    size_t top = 0;
    for (size_t i = 0; i < count; i++) {
        uint8_t node[32];
        memcpy(node, leaves + (size_t)LEAF_SIZE * i, 32);
        for (size_t size = i; size & 1; size >>= 1) {
            node_hash(stack[--top], node, node);
        }
        memcpy(stack[top++], node, 32);
    }
    if (top == 0) { /* no leaves */
        sha256_digest(NULL, 0, out);
        return;
    }
    memcpy(out, stack[top - 1], 32);
    while (--top) {
        node_hash(stack[top - 1], out, out);
    }
}

/* ------------------------------------------------------------------------------------ */
/* BLAKE2b (RFC 7693)                                                                   */

static const uint64_t BLAKE2B_IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
    0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
    0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t BLAKE2B_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

#define ROR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))

#define B2B_G(a, b, c, d, x, y)                                                             \
    do {                                                                                    \
        a = a + b + (x);                                                                    \
        d = ROR64(d ^ a, 32);                                                               \
        c = c + d;                                                                          \
        b = ROR64(b ^ c, 24);                                                               \
        a = a + b + (y);                                                                    \
        d = ROR64(d ^ a, 16);                                                               \
        c = c + d;                                                                          \
        b = ROR64(b ^ c, 63);                                                               \
    } while (0)

#define B2B_ROUND(r)                                                                        \
    do {                                                                                    \
        const uint8_t *s_ = BLAKE2B_SIGMA[r];                                               \
        B2B_G(v0, v4, v8, v12, m[s_[0]], m[s_[1]]);                                         \
        B2B_G(v1, v5, v9, v13, m[s_[2]], m[s_[3]]);                                         \
        B2B_G(v2, v6, v10, v14, m[s_[4]], m[s_[5]]);                                        \
        B2B_G(v3, v7, v11, v15, m[s_[6]], m[s_[7]]);                                        \
        B2B_G(v0, v5, v10, v15, m[s_[8]], m[s_[9]]);                                        \
        B2B_G(v1, v6, v11, v12, m[s_[10]], m[s_[11]]);                                      \
        B2B_G(v2, v7, v8, v13, m[s_[12]], m[s_[13]]);                                       \
        B2B_G(v3, v4, v9, v14, m[s_[14]], m[s_[15]]);                                       \
    } while (0)

/* Compress one 128-byte block; (t0, t1) is the byte counter including this block. */
static void blake2b_compress(uint64_t h[8], const uint8_t block[128], uint64_t t0,
                             uint64_t t1, int last)
{
    uint64_t m[16];
    for (int i = 0; i < 16; i++) {
        m[i] = load_le64(block + 8 * i);
    }
    uint64_t v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3];
    uint64_t v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
    uint64_t v8 = BLAKE2B_IV[0], v9 = BLAKE2B_IV[1], v10 = BLAKE2B_IV[2];
    uint64_t v11 = BLAKE2B_IV[3];
    uint64_t v12 = BLAKE2B_IV[4] ^ t0, v13 = BLAKE2B_IV[5] ^ t1;
    uint64_t v14 = last ? ~BLAKE2B_IV[6] : BLAKE2B_IV[6], v15 = BLAKE2B_IV[7];
    B2B_ROUND(0);
    B2B_ROUND(1);
    B2B_ROUND(2);
    B2B_ROUND(3);
    B2B_ROUND(4);
    B2B_ROUND(5);
    B2B_ROUND(6);
    B2B_ROUND(7);
    B2B_ROUND(8);
    B2B_ROUND(9);
    B2B_ROUND(10);
    B2B_ROUND(11);
    h[0] ^= v0 ^ v8;
    h[1] ^= v1 ^ v9;
    h[2] ^= v2 ^ v10;
    h[3] ^= v3 ^ v11;
    h[4] ^= v4 ^ v12;
    h[5] ^= v5 ^ v13;
    h[6] ^= v6 ^ v14;
    h[7] ^= v7 ^ v15;
}

typedef struct {
    uint64_t h[8];
    uint64_t t0, t1;  /* bytes compressed so far */
    size_t fill;      /* bytes waiting in buf: the last block is only compressed at the end */
    size_t outlen;
    uint8_t buf[128];
} blake2b_ctx;

static inline void blake2b_count(blake2b_ctx *ctx, uint64_t n)
{
    ctx->t0 += n;
    if (ctx->t0 < n) {
        ctx->t1++;
    }
}

static void blake2b_update(blake2b_ctx *ctx, const uint8_t *data, size_t len)
{
    if (len == 0) {
        return;
    }
    size_t room = 128 - ctx->fill;
    if (len > room) {
        /* More input follows the buffered block, so it is not the last one. */
        memcpy(ctx->buf + ctx->fill, data, room);
        blake2b_count(ctx, 128);
        blake2b_compress(ctx->h, ctx->buf, ctx->t0, ctx->t1, 0);
        ctx->fill = 0;
        data += room;
        len -= room;
        while (len > 128) {
            blake2b_count(ctx, 128);
            blake2b_compress(ctx->h, data, ctx->t0, ctx->t1, 0);
            data += 128;
            len -= 128;
        }
    }
    memcpy(ctx->buf + ctx->fill, data, len);
    ctx->fill += len;
}

/* outlen 1..64, keylen 0..64 (checked by the callers). */
static void blake2b_init(blake2b_ctx *ctx, size_t outlen, const uint8_t *key, size_t keylen)
{
    memcpy(ctx->h, BLAKE2B_IV, sizeof ctx->h);
    ctx->h[0] ^= 0x01010000ULL ^ ((uint64_t)keylen << 8) ^ (uint64_t)outlen;
    ctx->t0 = ctx->t1 = 0;
    ctx->fill = 0;
    ctx->outlen = outlen;
    if (keylen) {
        uint8_t block[128] = {0};
        memcpy(block, key, keylen);
        blake2b_update(ctx, block, 128);
    }
}

static void blake2b_final(blake2b_ctx *ctx, uint8_t *out)
{
    uint8_t digest[64];
    blake2b_count(ctx, ctx->fill);
    memset(ctx->buf + ctx->fill, 0, 128 - ctx->fill);
    blake2b_compress(ctx->h, ctx->buf, ctx->t0, ctx->t1, 1);
    for (int i = 0; i < 8; i++) {
        store_le64(digest + 8 * i, ctx->h[i]);
    }
    memcpy(out, digest, ctx->outlen);
}

/* The keyed BLAKE2b-512 state every event's salts start from: the key block compressed
 * (it is never the last block, since the 8-byte position follows it). */
typedef struct {
    uint64_t h[8];
    uint64_t t0;
} salting;

static void salting_init(salting *s, const uint8_t *key, size_t keylen)
{
    memcpy(s->h, BLAKE2B_IV, sizeof s->h);
    s->h[0] ^= 0x01010000ULL ^ ((uint64_t)keylen << 8) ^ 64;
    s->t0 = 0;
    if (keylen) {
        uint8_t block[128] = {0};
        memcpy(block, key, keylen);
        s->t0 = 128;
        blake2b_compress(s->h, block, s->t0, 0, 0);
    }
}

/* salts(seq) = BLAKE2b-512(key, seq as 8 bytes big-endian): one final block. */
static void salts_of(const salting *s, uint64_t seq, uint8_t out[64])
{
    uint8_t block[128] = {0};
    uint64_t h[8];
    store_be64(block, seq);
    memcpy(h, s->h, sizeof h);
    blake2b_compress(h, block, s->t0 + 8, 0, 1);
    for (int i = 0; i < 8; i++) {
        store_le64(out + 8 * i, h[i]);
    }
}
/* ------------------------------------------------------------------------------------ */
/* Multi-buffer hashing: eight or sixteen messages at once                              */
/*
 * Without SHA instructions a SHA-256 compression is one long chain of dependent 32-bit
 * operations, which leaves most of a core idle, and a BLAKE2b compression one of 64-bit
 * operations. The vector code runs independent compressions side by side instead: one
 * message per lane, each working variable and message (schedule) word a register with
 * one lane per message, the round functions (FIPS 180-4 section 6.2.2, RFC 7693
 * section 3.2) applied to all lanes at once. SHA-256 takes 32-bit lanes: 8 in AVX2's
 * 256-bit registers, 16 in AVX-512's 512-bit ones (with a rotate instruction, and the
 * three-input logic of vpternlogd for Ch, Maj and the three-way xors of the sigmas).
 * BLAKE2b takes 64-bit lanes: 4 with AVX2, 8 with AVX-512. They serve where many short
 * messages are hashed independently of each other: the three SHA-256 hashes and the
 * BLAKE2b salts and key of every event, and the nodes of each level of a Merkle tree.
 *
 * A message is a list of segments (salt || part, 0x00 || head || 0x0A || d1 || d2,
 * scope || content), never joined as a whole: a cursor hands out its blocks one at a
 * time, pointing into the message where a whole block of one segment is left and
 * otherwise assembling the block (segment ends, then SHA-256's padding of section 5.1.1
 * or BLAKE2b's zeros) in a per-lane buffer. A queue of messages feeds the lanes: the
 * digest of a lane is taken when its message's last block has been compressed, and the
 * lane starts on the next message right away, so lanes do not wait for the longest
 * message of a group. The last messages, once too few lanes are busy for the vector code
 * to pay, are finished by the scalar code from where their lanes got.
 *
 * The queues, cursors and Merkle levels are written once for any number of lanes; a
 * `lane_kit` (one per level, "avx2" or "avx512") gives the lane counts and compression
 * functions, which alone are compiled for their instruction set (target attributes).
 */

typedef struct lane_kit lane_kit; /* NULL where the scalar code is used */

#ifdef HAVE_SIMD

#define SHA_MAX_LANES 16
#define B2B_MAX_LANES 8

/* Compress one block per lane, the block of lane l at p[l], into st[word][lane]. */
typedef void (*sha_lanes_fn)(uint32_t st[8][SHA_MAX_LANES], const uint8_t *const *p);
/* The same for BLAKE2b, with each lane's byte counter (t0, t1) including its block and
 * its finalization flag f0 (all ones for the last block, otherwise zero). */
typedef void (*b2b_lanes_fn)(uint64_t h[8][B2B_MAX_LANES], const uint8_t *const *p,
                             const uint64_t *t0, const uint64_t *t1, const uint64_t *f0);

struct lane_kit {
    int sha_lanes; /* SHA-256 messages at once */
    /* With no message waiting and at most this many lanes busy, the scalar code finishes
     * them; and a last group of at most `node_tail` Merkle nodes of a level is hashed by
     * the scalar code. */
    int sha_tail, node_tail;
    sha_lanes_fn sha;
    int b2b_lanes, b2b_tail; /* the same for BLAKE2b */
    b2b_lanes_fn b2b;
};

#define JOB_SEGMENTS 4

/* One message to hash, the concatenation of its segments; its digest goes to `out`. */
typedef struct {
    const uint8_t *at[JOB_SEGMENTS];
    size_t len[JOB_SEGMENTS];
    int segments;
    uint8_t *out;
} lane_job;

/* How far the padded blocks of a message have been handed out. */
typedef struct {
    const lane_job *job;
    uint64_t bits; /* the message length in bits, for its last block */
    size_t blocks; /* padded blocks still to hash */
    size_t off;    /* offset in segment `seg` */
    int seg;
    int marked; /* the 0x80 after the message is placed */
} sha_cursor;

static void cursor_start(sha_cursor *c, const lane_job *job)
{
    uint64_t len = 0;
    for (int i = 0; i < job->segments; i++) {
        len += job->len[i];
    }
    c->job = job;
    c->bits = len * 8;
    c->blocks = (size_t)((len + 8) / 64 + 1); /* room for the 0x80 and the 8-byte length */
    c->off = 0;
    c->seg = 0;
    c->marked = 0;
}

/* The next `size` bytes of a message's segments from (*seg, *off): a pointer into the
 * message when one segment still holds them all, or else what is left of them (fewer
 * at the end of the message) copied into `buf`; `*got` says how many. */
static const uint8_t *segments_take(const lane_job *job, int *seg, size_t *off, uint8_t *buf,
                                    size_t size, size_t *got)
{
    while (*seg < job->segments && *off == job->len[*seg]) {
        (*seg)++;
        *off = 0;
    }
    if (*seg < job->segments && job->len[*seg] - *off >= size) {
        const uint8_t *at = job->at[*seg] + *off;
        *off += size;
        *got = size;
        return at;
    }
    size_t fill = 0;
    while (fill < size && *seg < job->segments) {
        size_t take = job->len[*seg] - *off;
        if (take > size - fill) {
            take = size - fill;
        }
        if (take) {
            memcpy(buf + fill, job->at[*seg] + *off, take);
        }
        fill += take;
        *off += take;
        if (*off == job->len[*seg]) {
            (*seg)++;
            *off = 0;
        }
    }
    *got = fill;
    return buf;
}

/* The next padded block of a message (c->blocks > 0): 64 bytes in the message itself
 * when one segment still has them, or else assembled in `buf`. */
static const uint8_t *cursor_next(sha_cursor *c, uint8_t buf[64])
{
    size_t fill;
    c->blocks--;
    const uint8_t *block = segments_take(c->job, &c->seg, &c->off, buf, 64, &fill);
    if (fill == 64) {
        return block;
    }
    /* the message has ended in this block */
    if (!c->marked) {
        buf[fill++] = 0x80;
        c->marked = 1;
    }
    memset(buf + fill, 0, 64 - fill);
    if (c->blocks == 0) { /* the count of blocks left room for the length here */
        store_be64(buf + 56, c->bits);
    }
    return buf;
}

/* Hash the rest of a message with the scalar code, from `state`, into its `out`. */
static void cursor_finish(sha_cursor *c, uint32_t state[8], uint8_t buf[64])
{
    while (c->blocks) {
        sha256_blocks(state, cursor_next(c, buf), 1);
    }
    for (int i = 0; i < 8; i++) {
        store_be32(c->job->out + 4 * i, state[i]);
    }
}


/* How far the blocks of a message for BLAKE2b have been handed out: every block but the
 * last is full, and the last (always at least one) is completed with zeros. */
typedef struct {
    const lane_job *job;
    size_t blocks; /* blocks still to hash */
    size_t off;    /* offset in segment `seg` */
    int seg;
} b2b_cursor;

static void b2b_cursor_start(b2b_cursor *c, const lane_job *job)
{
    uint64_t len = 0;
    for (int i = 0; i < job->segments; i++) {
        len += job->len[i];
    }
    c->job = job;
    c->blocks = len == 0 ? 1 : (size_t)((len - 1) / 128 + 1);
    c->off = 0;
    c->seg = 0;
}

/* The next block of a message (c->blocks > 0), and in `*taken` how many of its 128 bytes
 * are the message's, for the byte counter. */
static const uint8_t *b2b_cursor_next(b2b_cursor *c, uint8_t buf[128], size_t *taken)
{
    c->blocks--;
    const uint8_t *block = segments_take(c->job, &c->seg, &c->off, buf, 128, taken);
    if (*taken < 128) {
        memset(buf + *taken, 0, 128 - *taken);
    }
    return block;
}

/* Add `n` bytes to a BLAKE2b counter of two words. */
static inline void b2b_add(uint64_t *t0, uint64_t *t1, uint64_t n)
{
    *t0 += n;
    if (*t0 < n) {
        (*t1)++;
    }
}

/* The first `outlen` bytes of a BLAKE2b state, little-endian words. */
static void b2b_output(const uint64_t h[8], uint8_t *out, size_t outlen)
{
    uint8_t digest[64];
    for (size_t i = 0; i < (outlen + 7) / 8; i++) {
        store_le64(digest + 8 * i, h[i]);
    }
    memcpy(out, digest, outlen);
}

/* Hash the rest of a message with the scalar code, from `h` and the counter (t0, t1). */
static void b2b_cursor_finish(b2b_cursor *c, uint64_t h[8], uint64_t t0, uint64_t t1,
                              uint8_t buf[128], size_t outlen)
{
    while (c->blocks) {
        size_t taken;
        const uint8_t *block = b2b_cursor_next(c, buf, &taken);
        b2b_add(&t0, &t1, taken);
        blake2b_compress(h, block, t0, t1, c->blocks == 0);
    }
    b2b_output(h, c->job->out, outlen);
}

#define X8_ADD(x, y) _mm256_add_epi32((x), (y))
#define X8_XOR(x, y) _mm256_xor_si256((x), (y))
#define X8_AND(x, y) _mm256_and_si256((x), (y))
#define X8_SHR(x, n) _mm256_srli_epi32((x), (n))
#define X8_SHL(x, n) _mm256_slli_epi32((x), (n))
/* AVX2 has no rotation: ROTR^n(x) = (x >> n) | (x << (32 - n)), where the two halves never
 * share a bit, so that the or may be an xor like the rest of each sigma. */
#define X8_ROTR(x, n) X8_XOR(X8_SHR(x, n), X8_SHL(x, 32 - (n)))
#define X8_BSIG0(x) X8_XOR(X8_XOR(X8_ROTR(x, 2), X8_ROTR(x, 13)), X8_ROTR(x, 22))
#define X8_BSIG1(x) X8_XOR(X8_XOR(X8_ROTR(x, 6), X8_ROTR(x, 11)), X8_ROTR(x, 25))
#define X8_SSIG0(x) X8_XOR(X8_XOR(X8_ROTR(x, 7), X8_ROTR(x, 18)), X8_SHR(x, 3))
#define X8_SSIG1(x) X8_XOR(X8_XOR(X8_ROTR(x, 17), X8_ROTR(x, 19)), X8_SHR(x, 10))

/* The round constants, each repeated for the eight lanes: rounds add them straight from
 * memory. */
#define K_EIGHT(k) {k, k, k, k, k, k, k, k},
static _Alignas(32) const uint32_t SHA256_K8[64][8] = {SHA256_K_VALUES(K_EIGHT)};

/* SHA_ROUND on eight lanes: the same renaming of a..h, Ch(e, f, g) = g ^ (e & (f ^ g)),
 * Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)) with b ^ c carried in `bc`. */
#define X8_ROUND(a, b, c, d, e, f, g, h, i)                                                 \
    do {                                                                                    \
        __m256i ab_ = X8_XOR(a, b);                                                         \
        __m256i k_ = _mm256_load_si256((const __m256i *)(const void *)SHA256_K8[i]);        \
        __m256i t_ = X8_ADD(h, X8_ADD(w[(i) & 15], k_));                                    \
        t_ = X8_ADD(t_, X8_XOR(g, X8_AND(e, X8_XOR(f, g))));                                \
        t_ = X8_ADD(t_, X8_BSIG1(e));                                                       \
        (d) = X8_ADD(d, t_);                                                                \
        (h) = X8_ADD(t_, X8_ADD(X8_BSIG0(a), X8_XOR(b, X8_AND(ab_, bc))));                  \
        bc = ab_;                                                                           \
    } while (0)

/* Rounds 16..63 extend the schedule first, in the same 16-word ring. */
#define X8_SCHED(a, b, c, d, e, f, g, h, i)                                                 \
    do {                                                                                    \
        w[(i) & 15] = X8_ADD(X8_ADD(w[(i) & 15], X8_SSIG0(w[((i) - 15) & 15])),             \
                             X8_ADD(w[((i) - 7) & 15], X8_SSIG1(w[((i) - 2) & 15])));       \
        X8_ROUND(a, b, c, d, e, f, g, h, i);                                                \
    } while (0)

/* Words 8k..8k+7 of eight blocks (at offset 32k of each) as eight registers of one word
 * from each lane: big-endian loads, then an 8 x 8 transposition of 32-bit words. */
AVX2_TARGET static inline void x8_load_words(__m256i w[8], const uint8_t *const *p, size_t at)
{
    const __m256i swap = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
                                          3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    __m256i r[8], t[8], u[8];
    for (int l = 0; l < 8; l++) {
        r[l] = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(p[l] + at)),
                                   swap);
    }
    /* t[l], l even: words 0, 1 | 4, 5 of lanes l, l + 1 interleaved; t[l + 1]: 2, 3 | 6, 7 */
    for (int l = 0; l < 8; l += 2) {
        t[l] = _mm256_unpacklo_epi32(r[l], r[l + 1]);
        t[l + 1] = _mm256_unpackhi_epi32(r[l], r[l + 1]);
    }
    /* u[q + k], q = 0 or 4: word k | word k + 4 of lanes q..q + 3 */
    for (int q = 0; q < 8; q += 4) {
        u[q] = _mm256_unpacklo_epi64(t[q], t[q + 2]);
        u[q + 1] = _mm256_unpackhi_epi64(t[q], t[q + 2]);
        u[q + 2] = _mm256_unpacklo_epi64(t[q + 1], t[q + 3]);
        u[q + 3] = _mm256_unpackhi_epi64(t[q + 1], t[q + 3]);
    }
    for (int k = 0; k < 4; k++) {
        w[k] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x20);
        w[k + 4] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x31);
    }
}

/* Compress one 64-byte block per lane, the block of lane l at p[l], into the states
 * st[word][lane] (lanes 0..7 of each row). */
AVX2_TARGET static void sha256x8_blocks(uint32_t st[8][SHA_MAX_LANES],
                                        const uint8_t *const *p)
{
    __m256i w[16];
    x8_load_words(w, p, 0);
    x8_load_words(w + 8, p, 32);
    __m256i a = _mm256_load_si256((const __m256i *)(void *)st[0]);
    __m256i b = _mm256_load_si256((const __m256i *)(void *)st[1]);
    __m256i c = _mm256_load_si256((const __m256i *)(void *)st[2]);
    __m256i d = _mm256_load_si256((const __m256i *)(void *)st[3]);
    __m256i e = _mm256_load_si256((const __m256i *)(void *)st[4]);
    __m256i f = _mm256_load_si256((const __m256i *)(void *)st[5]);
    __m256i g = _mm256_load_si256((const __m256i *)(void *)st[6]);
    __m256i h = _mm256_load_si256((const __m256i *)(void *)st[7]);
    __m256i bc = X8_XOR(b, c);
    SHA_8ROUNDS(X8_ROUND, 0);
    SHA_8ROUNDS(X8_ROUND, 8);
    SHA_8ROUNDS(X8_SCHED, 16);
    SHA_8ROUNDS(X8_SCHED, 24);
    SHA_8ROUNDS(X8_SCHED, 32);
    SHA_8ROUNDS(X8_SCHED, 40);
    SHA_8ROUNDS(X8_SCHED, 48);
    SHA_8ROUNDS(X8_SCHED, 56);
    _mm256_store_si256((__m256i *)(void *)st[0],
                       X8_ADD(a, _mm256_load_si256((const __m256i *)(void *)st[0])));
    _mm256_store_si256((__m256i *)(void *)st[1],
                       X8_ADD(b, _mm256_load_si256((const __m256i *)(void *)st[1])));
    _mm256_store_si256((__m256i *)(void *)st[2],
                       X8_ADD(c, _mm256_load_si256((const __m256i *)(void *)st[2])));
    _mm256_store_si256((__m256i *)(void *)st[3],
                       X8_ADD(d, _mm256_load_si256((const __m256i *)(void *)st[3])));
    _mm256_store_si256((__m256i *)(void *)st[4],
                       X8_ADD(e, _mm256_load_si256((const __m256i *)(void *)st[4])));
    _mm256_store_si256((__m256i *)(void *)st[5],
                       X8_ADD(f, _mm256_load_si256((const __m256i *)(void *)st[5])));
    _mm256_store_si256((__m256i *)(void *)st[6],
                       X8_ADD(g, _mm256_load_si256((const __m256i *)(void *)st[6])));
    _mm256_store_si256((__m256i *)(void *)st[7],
                       X8_ADD(h, _mm256_load_si256((const __m256i *)(void *)st[7])));
}


/* ---- SHA-256 on sixteen lanes (AVX-512F) ---- */

#define Z_ADD(x, y) _mm512_add_epi32((x), (y))
#define Z_ROR(x, n) _mm512_ror_epi32((x), (n))
/* vpternlogd: bit i of the result is bit (x_i y_i z_i, read as a 3-bit number) of the
 * immediate: 0x96 is x ^ y ^ z, 0xCA is x ? y : z (Ch), 0xE8 the majority (Maj). */
#define Z_XOR3(x, y, z) _mm512_ternarylogic_epi32((x), (y), (z), 0x96)
#define Z_CH(e, f, g) _mm512_ternarylogic_epi32((e), (f), (g), 0xCA)
#define Z_MAJ(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0xE8)
#define Z_BSIG0(x) Z_XOR3(Z_ROR(x, 2), Z_ROR(x, 13), Z_ROR(x, 22))
#define Z_BSIG1(x) Z_XOR3(Z_ROR(x, 6), Z_ROR(x, 11), Z_ROR(x, 25))
#define Z_SSIG0(x) Z_XOR3(Z_ROR(x, 7), Z_ROR(x, 18), _mm512_srli_epi32((x), 3))
#define Z_SSIG1(x) Z_XOR3(Z_ROR(x, 17), Z_ROR(x, 19), _mm512_srli_epi32((x), 10))

/* SHA_ROUND on sixteen lanes, with the same renaming of a..h; the round constant is
 * broadcast from the scalar table. */
#define Z_ROUND(a, b, c, d, e, f, g, h, i)                                                  \
    do {                                                                                    \
        __m512i t_ = Z_ADD(h, Z_ADD(w[(i) & 15], _mm512_set1_epi32((int)SHA256_K[i])));    \
        t_ = Z_ADD(t_, Z_CH(e, f, g));                                                      \
        t_ = Z_ADD(t_, Z_BSIG1(e));                                                         \
        (d) = Z_ADD(d, t_);                                                                 \
        (h) = Z_ADD(t_, Z_ADD(Z_BSIG0(a), Z_MAJ(a, b, c)));                                 \
    } while (0)

#define Z_SCHED(a, b, c, d, e, f, g, h, i)                                                  \
    do {                                                                                    \
        w[(i) & 15] = Z_ADD(Z_ADD(w[(i) & 15], Z_SSIG0(w[((i) - 15) & 15])),                \
                            Z_ADD(w[((i) - 7) & 15], Z_SSIG1(w[((i) - 2) & 15])));          \
        Z_ROUND(a, b, c, d, e, f, g, h, i);                                                 \
    } while (0)

/* out[j] = the 128-bit quarters j of a, b, c and d, in that order (a 4 x 4 transposition
 * of quarters). */
AVX512_TARGET static inline void z_transpose_quarters(__m512i a, __m512i b, __m512i c,
                                                      __m512i d, __m512i out[4])
{
    __m512i ab_lo = _mm512_shuffle_i32x4(a, b, 0x44); /* a0 a1 b0 b1 */
    __m512i ab_hi = _mm512_shuffle_i32x4(a, b, 0xEE); /* a2 a3 b2 b3 */
    __m512i cd_lo = _mm512_shuffle_i32x4(c, d, 0x44);
    __m512i cd_hi = _mm512_shuffle_i32x4(c, d, 0xEE);
    out[0] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0x88); /* a0 b0 c0 d0 */
    out[1] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0xDD); /* a1 b1 c1 d1 */
    out[2] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0x88);
    out[3] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0xDD);
}

/* The sixteen words of sixteen blocks as sixteen registers of one word from each lane:
 * big-endian loads (a byte swap made of two rotations, AVX-512F having no byte shuffle),
 * then a 16 x 16 transposition of 32-bit words. */
AVX512_TARGET static inline void x16_load_words(__m512i w[16], const uint8_t *const *p)
{
    const __m512i odd_bytes = _mm512_set1_epi32((int)0xFF00FF00);
    __m512i r[16], t[16], u[16];
    for (int l = 0; l < 16; l++) {
        __m512i x = _mm512_loadu_si512((const void *)p[l]);
        /* x = [m3 m2 m1 m0] per word (most significant byte first): ror 8 gives
         * [m0 m3 m2 m1], rol 8 [m2 m1 m0 m3]; bytes 0 and 2 of the first and 1 and 3 of
         * the second make [m0 m1 m2 m3]. */
        r[l] = _mm512_ternarylogic_epi32(odd_bytes, _mm512_ror_epi32(x, 8),
                                         _mm512_rol_epi32(x, 8), 0xCA);
    }
    /* As in x8_load_words, within each 128-bit quarter: u[4g + k], quarter j, is word
     * 4j + k of lanes 4g .. 4g + 3. */
    for (int l = 0; l < 16; l += 2) {
        t[l] = _mm512_unpacklo_epi32(r[l], r[l + 1]);
        t[l + 1] = _mm512_unpackhi_epi32(r[l], r[l + 1]);
    }
    for (int g = 0; g < 16; g += 4) {
        u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    /* Word 4j + k, quarter g, is u[4g + k], quarter j. */
    for (int k = 0; k < 4; k++) {
        __m512i out[4];
        z_transpose_quarters(u[k], u[4 + k], u[8 + k], u[12 + k], out);
        for (int j = 0; j < 4; j++) {
            w[4 * j + k] = out[j];
        }
    }
}

AVX512_TARGET static void sha256x16_blocks(uint32_t st[8][SHA_MAX_LANES],
                                           const uint8_t *const *p)
{
    __m512i w[16];
    x16_load_words(w, p);
    __m512i a = _mm512_load_si512((const void *)st[0]);
    __m512i b = _mm512_load_si512((const void *)st[1]);
    __m512i c = _mm512_load_si512((const void *)st[2]);
    __m512i d = _mm512_load_si512((const void *)st[3]);
    __m512i e = _mm512_load_si512((const void *)st[4]);
    __m512i f = _mm512_load_si512((const void *)st[5]);
    __m512i g = _mm512_load_si512((const void *)st[6]);
    __m512i h = _mm512_load_si512((const void *)st[7]);
    SHA_8ROUNDS(Z_ROUND, 0);
    SHA_8ROUNDS(Z_ROUND, 8);
    SHA_8ROUNDS(Z_SCHED, 16);
    SHA_8ROUNDS(Z_SCHED, 24);
    SHA_8ROUNDS(Z_SCHED, 32);
    SHA_8ROUNDS(Z_SCHED, 40);
    SHA_8ROUNDS(Z_SCHED, 48);
    SHA_8ROUNDS(Z_SCHED, 56);
    _mm512_store_si512((void *)st[0], Z_ADD(a, _mm512_load_si512((const void *)st[0])));
    _mm512_store_si512((void *)st[1], Z_ADD(b, _mm512_load_si512((const void *)st[1])));
    _mm512_store_si512((void *)st[2], Z_ADD(c, _mm512_load_si512((const void *)st[2])));
    _mm512_store_si512((void *)st[3], Z_ADD(d, _mm512_load_si512((const void *)st[3])));
    _mm512_store_si512((void *)st[4], Z_ADD(e, _mm512_load_si512((const void *)st[4])));
    _mm512_store_si512((void *)st[5], Z_ADD(f, _mm512_load_si512((const void *)st[5])));
    _mm512_store_si512((void *)st[6], Z_ADD(g, _mm512_load_si512((const void *)st[6])));
    _mm512_store_si512((void *)st[7], Z_ADD(h, _mm512_load_si512((const void *)st[7])));
}

/* ---- BLAKE2b on four lanes (AVX2) and eight lanes (AVX-512F) ---- */

/* One round of RFC 7693 section 3.2 for any lane width: G the mixing function, m the
 * message words, v0..v15 the work vector. */
#define B2B_LANES_ROUND(G, r)                                                               \
    do {                                                                                    \
        G(v0, v4, v8, v12, m[BLAKE2B_SIGMA[r][0]], m[BLAKE2B_SIGMA[r][1]]);                 \
        G(v1, v5, v9, v13, m[BLAKE2B_SIGMA[r][2]], m[BLAKE2B_SIGMA[r][3]]);                 \
        G(v2, v6, v10, v14, m[BLAKE2B_SIGMA[r][4]], m[BLAKE2B_SIGMA[r][5]]);                \
        G(v3, v7, v11, v15, m[BLAKE2B_SIGMA[r][6]], m[BLAKE2B_SIGMA[r][7]]);                \
        G(v0, v5, v10, v15, m[BLAKE2B_SIGMA[r][8]], m[BLAKE2B_SIGMA[r][9]]);                \
        G(v1, v6, v11, v12, m[BLAKE2B_SIGMA[r][10]], m[BLAKE2B_SIGMA[r][11]]);              \
        G(v2, v7, v8, v13, m[BLAKE2B_SIGMA[r][12]], m[BLAKE2B_SIGMA[r][13]]);               \
        G(v3, v4, v9, v14, m[BLAKE2B_SIGMA[r][14]], m[BLAKE2B_SIGMA[r][15]]);               \
    } while (0)

#define B2B_LANES_12ROUNDS(G)                                                               \
    B2B_LANES_ROUND(G, 0);                                                                  \
    B2B_LANES_ROUND(G, 1);                                                                  \
    B2B_LANES_ROUND(G, 2);                                                                  \
    B2B_LANES_ROUND(G, 3);                                                                  \
    B2B_LANES_ROUND(G, 4);                                                                  \
    B2B_LANES_ROUND(G, 5);                                                                  \
    B2B_LANES_ROUND(G, 6);                                                                  \
    B2B_LANES_ROUND(G, 7);                                                                  \
    B2B_LANES_ROUND(G, 8);                                                                  \
    B2B_LANES_ROUND(G, 9);                                                                  \
    B2B_LANES_ROUND(G, 10);                                                                 \
    B2B_LANES_ROUND(G, 11)

/* AVX2 has no 64-bit rotation: by 32 a swap of the 32-bit halves, by 24 and 16 a byte
 * shuffle, by 63 (left by 1) a shift and an addition. */
#define Y4_ADD(x, y) _mm256_add_epi64((x), (y))
#define Y4_XOR(x, y) _mm256_xor_si256((x), (y))
#define Y4_ROR32(x) _mm256_shuffle_epi32((x), _MM_SHUFFLE(2, 3, 0, 1))
#define Y4_ROR24(x) _mm256_shuffle_epi8((x), ror24)
#define Y4_ROR16(x) _mm256_shuffle_epi8((x), ror16)
#define Y4_ROR63(x) Y4_XOR(_mm256_srli_epi64((x), 63), Y4_ADD((x), (x)))

#define Y4_G(a, b, c, d, x, y)                                                              \
    do {                                                                                    \
        a = Y4_ADD(Y4_ADD(a, b), x);                                                        \
        d = Y4_ROR32(Y4_XOR(d, a));                                                         \
        c = Y4_ADD(c, d);                                                                   \
        b = Y4_ROR24(Y4_XOR(b, c));                                                         \
        a = Y4_ADD(Y4_ADD(a, b), y);                                                        \
        d = Y4_ROR16(Y4_XOR(d, a));                                                         \
        c = Y4_ADD(c, d);                                                                   \
        b = Y4_ROR63(Y4_XOR(b, c));                                                         \
    } while (0)

AVX2_TARGET static void blake2b_x4_compress(uint64_t h[8][B2B_MAX_LANES],
                                            const uint8_t *const *p, const uint64_t *t0,
                                            const uint64_t *t1, const uint64_t *f0)
{
    const __m256i ror24 = _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9,
                                           10, 3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8,
                                           9, 10);
    const __m256i ror16 = _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8,
                                           9, 2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15,
                                           8, 9);
    __m256i m[16];
    /* Words 4q .. 4q + 3 of the four lanes: a 4 x 4 transposition of 64-bit words. */
    for (int q = 0; q < 4; q++) {
        __m256i r[4];
        for (int l = 0; l < 4; l++) {
            r[l] = _mm256_loadu_si256((const __m256i *)(const void *)(p[l] + 32 * q));
        }
        __m256i even01 = _mm256_unpacklo_epi64(r[0], r[1]); /* words 0 | 2 of lanes 0, 1 */
        __m256i odd01 = _mm256_unpackhi_epi64(r[0], r[1]);  /* words 1 | 3 */
        __m256i even23 = _mm256_unpacklo_epi64(r[2], r[3]);
        __m256i odd23 = _mm256_unpackhi_epi64(r[2], r[3]);
        m[4 * q] = _mm256_permute2x128_si256(even01, even23, 0x20);
        m[4 * q + 1] = _mm256_permute2x128_si256(odd01, odd23, 0x20);
        m[4 * q + 2] = _mm256_permute2x128_si256(even01, even23, 0x31);
        m[4 * q + 3] = _mm256_permute2x128_si256(odd01, odd23, 0x31);
    }
    __m256i v0 = _mm256_load_si256((const __m256i *)(const void *)h[0]);
    __m256i v1 = _mm256_load_si256((const __m256i *)(const void *)h[1]);
    __m256i v2 = _mm256_load_si256((const __m256i *)(const void *)h[2]);
    __m256i v3 = _mm256_load_si256((const __m256i *)(const void *)h[3]);
    __m256i v4 = _mm256_load_si256((const __m256i *)(const void *)h[4]);
    __m256i v5 = _mm256_load_si256((const __m256i *)(const void *)h[5]);
    __m256i v6 = _mm256_load_si256((const __m256i *)(const void *)h[6]);
    __m256i v7 = _mm256_load_si256((const __m256i *)(const void *)h[7]);
    __m256i v8 = _mm256_set1_epi64x((long long)BLAKE2B_IV[0]);
    __m256i v9 = _mm256_set1_epi64x((long long)BLAKE2B_IV[1]);
    __m256i v10 = _mm256_set1_epi64x((long long)BLAKE2B_IV[2]);
    __m256i v11 = _mm256_set1_epi64x((long long)BLAKE2B_IV[3]);
    __m256i v12 = Y4_XOR(_mm256_set1_epi64x((long long)BLAKE2B_IV[4]),
                         _mm256_loadu_si256((const __m256i *)(const void *)t0));
    __m256i v13 = Y4_XOR(_mm256_set1_epi64x((long long)BLAKE2B_IV[5]),
                         _mm256_loadu_si256((const __m256i *)(const void *)t1));
    __m256i v14 = Y4_XOR(_mm256_set1_epi64x((long long)BLAKE2B_IV[6]),
                         _mm256_loadu_si256((const __m256i *)(const void *)f0));
    __m256i v15 = _mm256_set1_epi64x((long long)BLAKE2B_IV[7]);
    B2B_LANES_12ROUNDS(Y4_G);
#define Y4_FOLD(k, lo, hi)                                                                  \
    _mm256_store_si256((__m256i *)(void *)h[k],                                             \
                       Y4_XOR(_mm256_load_si256((const __m256i *)(const void *)h[k]),       \
                              Y4_XOR(lo, hi)))
    Y4_FOLD(0, v0, v8);
    Y4_FOLD(1, v1, v9);
    Y4_FOLD(2, v2, v10);
    Y4_FOLD(3, v3, v11);
    Y4_FOLD(4, v4, v12);
    Y4_FOLD(5, v5, v13);
    Y4_FOLD(6, v6, v14);
    Y4_FOLD(7, v7, v15);
#undef Y4_FOLD
}

#define Z8_ADD(x, y) _mm512_add_epi64((x), (y))
#define Z8_ROR_XOR(x, y, n) _mm512_ror_epi64(_mm512_xor_si512((x), (y)), (n))

#define Z8_G(a, b, c, d, x, y)                                                              \
    do {                                                                                    \
        a = Z8_ADD(Z8_ADD(a, b), x);                                                        \
        d = Z8_ROR_XOR(d, a, 32);                                                           \
        c = Z8_ADD(c, d);                                                                   \
        b = Z8_ROR_XOR(b, c, 24);                                                           \
        a = Z8_ADD(Z8_ADD(a, b), y);                                                        \
        d = Z8_ROR_XOR(d, a, 16);                                                           \
        c = Z8_ADD(c, d);                                                                   \
        b = Z8_ROR_XOR(b, c, 63);                                                           \
    } while (0)

AVX512_TARGET static void blake2b_x8_compress(uint64_t h[8][B2B_MAX_LANES],
                                             const uint8_t *const *p, const uint64_t *t0,
                                             const uint64_t *t1, const uint64_t *f0)
{
    __m512i m[16];
    /* Words 8k .. 8k + 7 of the eight lanes: an 8 x 8 transposition of 64-bit words. The
     * unpacks leave in t[2g + e], quarter j, word 2j + e of lanes 2g and 2g + 1; word
     * 2j + e, quarter g, is then t[2g + e], quarter j. */
    for (int k = 0; k < 2; k++) {
        __m512i r[8], t[8];
        for (int l = 0; l < 8; l++) {
            r[l] = _mm512_loadu_si512((const void *)(p[l] + 64 * k));
        }
        for (int l = 0; l < 8; l += 2) {
            t[l] = _mm512_unpacklo_epi64(r[l], r[l + 1]);
            t[l + 1] = _mm512_unpackhi_epi64(r[l], r[l + 1]);
        }
        for (int e = 0; e < 2; e++) {
            __m512i out[4];
            z_transpose_quarters(t[e], t[2 + e], t[4 + e], t[6 + e], out);
            for (int j = 0; j < 4; j++) {
                m[8 * k + 2 * j + e] = out[j];
            }
        }
    }
    __m512i v0 = _mm512_load_si512((const void *)h[0]);
    __m512i v1 = _mm512_load_si512((const void *)h[1]);
    __m512i v2 = _mm512_load_si512((const void *)h[2]);
    __m512i v3 = _mm512_load_si512((const void *)h[3]);
    __m512i v4 = _mm512_load_si512((const void *)h[4]);
    __m512i v5 = _mm512_load_si512((const void *)h[5]);
    __m512i v6 = _mm512_load_si512((const void *)h[6]);
    __m512i v7 = _mm512_load_si512((const void *)h[7]);
    __m512i v8 = _mm512_set1_epi64((long long)BLAKE2B_IV[0]);
    __m512i v9 = _mm512_set1_epi64((long long)BLAKE2B_IV[1]);
    __m512i v10 = _mm512_set1_epi64((long long)BLAKE2B_IV[2]);
    __m512i v11 = _mm512_set1_epi64((long long)BLAKE2B_IV[3]);
    __m512i v12 = _mm512_xor_si512(_mm512_set1_epi64((long long)BLAKE2B_IV[4]),
                                   _mm512_loadu_si512((const void *)t0));
    __m512i v13 = _mm512_xor_si512(_mm512_set1_epi64((long long)BLAKE2B_IV[5]),
                                   _mm512_loadu_si512((const void *)t1));
    __m512i v14 = _mm512_xor_si512(_mm512_set1_epi64((long long)BLAKE2B_IV[6]),
                                   _mm512_loadu_si512((const void *)f0));
    __m512i v15 = _mm512_set1_epi64((long long)BLAKE2B_IV[7]);
    B2B_LANES_12ROUNDS(Z8_G);
#define Z8_FOLD(k, lo, hi)                                                                  \
    _mm512_store_si512((void *)h[k],                                                        \
                       _mm512_ternarylogic_epi64(_mm512_load_si512((const void *)h[k]), lo, \
                                                 hi, 0x96))
    Z8_FOLD(0, v0, v8);
    Z8_FOLD(1, v1, v9);
    Z8_FOLD(2, v2, v10);
    Z8_FOLD(3, v3, v11);
    Z8_FOLD(4, v4, v12);
    Z8_FOLD(5, v5, v13);
    Z8_FOLD(6, v6, v14);
    Z8_FOLD(7, v7, v15);
#undef Z8_FOLD
}

/* ---- The queues, for any kit ---- */

/* The digests of `count` messages, `kit->sha_lanes` at a time. */
static void sha256_jobs_lanes(const lane_kit *kit, const lane_job *jobs, size_t count)
{
    const int lanes = kit->sha_lanes;
    _Alignas(64) uint32_t st[8][SHA_MAX_LANES]; /* st[word][lane] */
    _Alignas(64) uint8_t buf[SHA_MAX_LANES][64];
    sha_cursor cur[SHA_MAX_LANES];
    const uint8_t *block[SHA_MAX_LANES];
    int busy[SHA_MAX_LANES];
    int busy_lanes = 0;
    size_t next = 0;

    memset(st, 0, sizeof st);
    memset(buf, 0, sizeof buf);
    for (int l = 0; l < SHA_MAX_LANES; l++) {
        block[l] = buf[l]; /* an idle lane hashes whatever its buffer holds */
        busy[l] = l < lanes && next < count;
        if (busy[l]) {
            cursor_start(&cur[l], &jobs[next++]);
            for (int k = 0; k < 8; k++) {
                st[k][l] = SHA256_IV[k];
            }
            busy_lanes++;
        }
    }
    while (busy_lanes > 0) {
        if (next == count && busy_lanes <= kit->sha_tail) {
            for (int l = 0; l < lanes; l++) {
                if (busy[l]) {
                    uint32_t state[8];
                    for (int k = 0; k < 8; k++) {
                        state[k] = st[k][l];
                    }
                    cursor_finish(&cur[l], state, buf[l]);
                }
            }
            return;
        }
        for (int l = 0; l < lanes; l++) {
            if (busy[l]) {
                block[l] = cursor_next(&cur[l], buf[l]);
            }
        }
        kit->sha(st, block);
        for (int l = 0; l < lanes; l++) {
            if (!busy[l] || cur[l].blocks) {
                continue;
            }
            for (int k = 0; k < 8; k++) {
                store_be32(cur[l].job->out + 4 * k, st[k][l]);
            }
            if (next < count) {
                cursor_start(&cur[l], &jobs[next++]);
                for (int k = 0; k < 8; k++) {
                    st[k][l] = SHA256_IV[k];
                }
            } else {
                busy[l] = 0;
                busy_lanes--;
                block[l] = buf[l];
            }
        }
    }
}

/* The BLAKE2b digests (`from->outlen` bytes) of `count` messages, each hashed on from the
 * state `from` with its buffered bytes left out (the jobs start with them, if any),
 * `kit->b2b_lanes` at a time. */
static void blake2b_jobs_lanes(const lane_kit *kit, const blake2b_ctx *from,
                               const lane_job *jobs, size_t count)
{
    const int lanes = kit->b2b_lanes;
    _Alignas(64) uint64_t h[8][B2B_MAX_LANES]; /* h[word][lane] */
    _Alignas(64) uint64_t t0[B2B_MAX_LANES], t1[B2B_MAX_LANES], f0[B2B_MAX_LANES];
    _Alignas(64) uint8_t buf[B2B_MAX_LANES][128];
    b2b_cursor cur[B2B_MAX_LANES];
    const uint8_t *block[B2B_MAX_LANES];
    int busy[B2B_MAX_LANES];
    int busy_lanes = 0;
    size_t next = 0;

    memset(h, 0, sizeof h);
    memset(t0, 0, sizeof t0);
    memset(t1, 0, sizeof t1);
    memset(f0, 0, sizeof f0);
    memset(buf, 0, sizeof buf);
    for (int l = 0; l < B2B_MAX_LANES; l++) {
        block[l] = buf[l];
        busy[l] = 0;
    }
    for (int l = 0; l < lanes && next < count; l++) {
        b2b_cursor_start(&cur[l], &jobs[next++]);
        for (int k = 0; k < 8; k++) {
            h[k][l] = from->h[k];
        }
        t0[l] = from->t0;
        t1[l] = from->t1;
        busy[l] = 1;
        busy_lanes++;
    }
    while (busy_lanes > 0) {
        if (next == count && busy_lanes <= kit->b2b_tail) {
            for (int l = 0; l < lanes; l++) {
                if (busy[l]) {
                    uint64_t state[8];
                    for (int k = 0; k < 8; k++) {
                        state[k] = h[k][l];
                    }
                    b2b_cursor_finish(&cur[l], state, t0[l], t1[l], buf[l], from->outlen);
                }
            }
            return;
        }
        for (int l = 0; l < lanes; l++) {
            if (busy[l]) {
                size_t taken;
                block[l] = b2b_cursor_next(&cur[l], buf[l], &taken);
                b2b_add(&t0[l], &t1[l], taken);
                f0[l] = cur[l].blocks ? 0 : UINT64_MAX;
            }
        }
        kit->b2b(h, block, t0, t1, f0);
        for (int l = 0; l < lanes; l++) {
            if (!busy[l] || cur[l].blocks) {
                continue;
            }
            uint64_t state[8];
            for (int k = 0; k < 8; k++) {
                state[k] = h[k][l];
            }
            b2b_output(state, cur[l].job->out, from->outlen);
            if (next < count) {
                b2b_cursor_start(&cur[l], &jobs[next++]);
                for (int k = 0; k < 8; k++) {
                    h[k][l] = from->h[k];
                }
                t0[l] = from->t0;
                t1[l] = from->t1;
            } else {
                busy[l] = 0;
                busy_lanes--;
                block[l] = buf[l];
            }
        }
    }
}

/* Up to `kit->sha_lanes` Merkle nodes at once: out[l] = SHA-256(0x01 || in[2l] ||
 * in[2l + 1]) for l < lanes, 32-byte nodes; `out` may be `in` (the inputs are copied
 * first). `blocks` holds the two padded blocks of each lane, with everything but the
 * nodes in place (the idle lanes hash whatever their blocks still hold). */
static void node_hash_lanes(const lane_kit *kit, const uint8_t *in, uint8_t *out,
                            size_t lanes, uint8_t blocks[SHA_MAX_LANES][128])
{
    _Alignas(64) uint32_t st[8][SHA_MAX_LANES];
    const uint8_t *p[SHA_MAX_LANES];
    for (size_t l = 0; l < SHA_MAX_LANES; l++) {
        if (l < lanes) {
            memcpy(blocks[l] + 1, in + 64 * l, 64);
        }
        p[l] = blocks[l];
    }
    for (int k = 0; k < 8; k++) {
        for (int l = 0; l < SHA_MAX_LANES; l++) {
            st[k][l] = SHA256_IV[k];
        }
    }
    kit->sha(st, p);
    for (int l = 0; l < SHA_MAX_LANES; l++) {
        p[l] = blocks[l] + 64;
    }
    kit->sha(st, p);
    for (size_t l = 0; l < lanes; l++) {
        for (int k = 0; k < 8; k++) {
            store_be32(out + 32 * l + 4 * k, st[k][l]);
        }
    }
}

/* Levels of up to this many nodes are built on the stack (8 KiB), larger ones on the
 * heap. */
#define MERKLE_STACK_NODES 256

/* merkle_root_of, level by level: the pairs of each level's nodes `kit->sha_lanes` at a
 * time, an odd last node carried up as is. A last group of more than `kit->node_tail`
 * pairs still takes the lanes, a smaller one the scalar code. */
static void merkle_root_lanes(const lane_kit *kit, const uint8_t *leaves, size_t count,
                              uint8_t out[32])
{
    if (count < 4) { /* at most one pair on any level */
        merkle_root_of(leaves, count, out);
        return;
    }
    const size_t lanes = (size_t)kit->sha_lanes;
    _Alignas(64) uint8_t blocks[SHA_MAX_LANES][128];
    uint8_t stack_level[MERKLE_STACK_NODES][32];
    size_t room = count / 2 + (count & 1); /* the nodes of the first level above the leaves */
    uint8_t *level = stack_level[0];
    if (room > MERKLE_STACK_NODES) {
        level = PyMem_RawMalloc(room * 32); /* no GIL needed */
        if (level == NULL) {
            merkle_root_of(leaves, count, out);
            return;
        }
    }
    for (int l = 0; l < SHA_MAX_LANES; l++) {
        blocks[l][0] = 0x01;
        memset(blocks[l] + 1, 0, 64);
        blocks[l][65] = 0x80;
        memset(blocks[l] + 66, 0, 120 - 66);
        store_be64(blocks[l] + 120, 65 * 8);
    }
    const uint8_t *nodes = leaves;
    size_t n = count;
    while (n > 1) {
        /* Node i of the next level overwrites nodes 2i and 2i + 1 of this one, or nodes
         * already consumed: a group writes up to `lanes` nodes from i on, after reading up
         * to 2 * `lanes` from 2i on. */
        size_t pairs = n / 2;
        for (size_t i = 0; i < pairs; i += lanes) {
            size_t group = pairs - i < lanes ? pairs - i : lanes;
            if (group > (size_t)kit->node_tail) {
                node_hash_lanes(kit, nodes + 64 * i, level + 32 * i, group, blocks);
            } else {
                for (size_t j = i; j < i + group; j++) {
                    node_hash(nodes + 64 * j, nodes + 64 * j + 32, level + 32 * j);
                }
            }
        }
        if (n & 1) {
            memmove(level + 32 * pairs, nodes + 64 * pairs, 32);
        }
        n = pairs + (n & 1);
        nodes = level;
    }
    memcpy(out, nodes, 32);
    if (level != stack_level[0]) {
        PyMem_RawFree(level);
    }
}

/* salts_of for `n` consecutive positions from `first_seq`, `kit->b2b_lanes` at a time:
 * every lane compresses one final block from the same keyed state. */
static void salts_lanes(const lane_kit *kit, const salting *s, uint64_t first_seq, size_t n,
                        uint8_t (*out)[64])
{
    const size_t lanes = (size_t)kit->b2b_lanes;
    _Alignas(64) uint64_t h[8][B2B_MAX_LANES];
    _Alignas(64) uint64_t t0[B2B_MAX_LANES], t1[B2B_MAX_LANES], f0[B2B_MAX_LANES];
    _Alignas(64) uint8_t buf[B2B_MAX_LANES][128];
    const uint8_t *block[B2B_MAX_LANES];

    memset(buf, 0, sizeof buf);
    for (int l = 0; l < B2B_MAX_LANES; l++) {
        block[l] = buf[l];
        t0[l] = s->t0 + 8;
        t1[l] = 0;
        f0[l] = UINT64_MAX;
    }
    for (size_t i = 0; i < n; i += lanes) {
        size_t group = n - i < lanes ? n - i : lanes;
        if (group <= (size_t)kit->b2b_tail) {
            for (size_t j = i; j < n; j++) {
                salts_of(s, first_seq + j, out[j]);
            }
            return;
        }
        for (size_t l = 0; l < B2B_MAX_LANES; l++) {
            store_be64(buf[l], first_seq + i + (l < group ? l : 0));
            for (int k = 0; k < 8; k++) {
                h[k][l] = s->h[k];
            }
        }
        kit->b2b(h, block, t0, t1, f0);
        for (size_t l = 0; l < group; l++) {
            for (int k = 0; k < 8; k++) {
                store_le64(out[i + l] + 8 * k, h[k][l]);
            }
        }
    }
}

/* The kits. The tails are where the scalar code costs no more than the lanes: measured
 * here (an AVX-512 Xeon at 2.5 GHz, busy with other work, so roughly), one full-lane
 * compression, with its share of the queue's work, takes about as long as this many
 * scalar ones: SHA-256 2.6 (avx2, 8 lanes) and 2.2 (avx512, 16 lanes), BLAKE2b 2.4 (avx2,
 * 4 lanes) and 2.0-2.4 (avx512, 8 lanes). So two busy lanes are left to the scalar code,
 * and a last Merkle group of two pairs (two compressions per node) too.
 *
 * AVX-512 is the default where the CPU has it: no slower here despite the lower clock
 * some Xeons keep for 512-bit code. On a realistic block of 200 events (heads ~270 B,
 * subjects ~70 B, contents ~390 B), in microseconds per event, scalar / avx2 / avx512:
 * block_digests 5.8 / 1.9 / 1.3, event_leaves 4.5 / 1.35 / 0.85, dedup_keys 0.77 / 0.39 /
 * 0.33; merkle_root of 200 leaves 120 / 31 / 20 microseconds. */
static const lane_kit KIT_AVX2 = {
    .sha_lanes = 8, .sha_tail = 2, .node_tail = 2, .sha = sha256x8_blocks,
    .b2b_lanes = 4, .b2b_tail = 2, .b2b = blake2b_x4_compress,
};
static const lane_kit KIT_AVX512 = {
    .sha_lanes = 16, .sha_tail = 2, .node_tail = 2, .sha = sha256x16_blocks,
    .b2b_lanes = 8, .b2b_tail = 2, .b2b = blake2b_x8_compress,
};

#endif /* HAVE_SIMD */

/* The implementations, from the slowest: "scalar" is the portable C above, the others
 * the lanes of their instruction set. */
enum { LEVEL_SCALAR, LEVEL_AVX2, LEVEL_AVX512, LEVELS };
static const char *const LEVEL_NAMES[LEVELS] = {"scalar", "avx2", "avx512"};

/* Which levels this CPU runs (checked once at import), the one `use_simd(True)` and the
 * import choose, and the one in use. Only Python code, holding the GIL, writes or reads
 * these: each function reads the level once before releasing the GIL and passes its kit
 * down. */
static int level_supported[LEVELS] = {1, 0, 0};
static int level_default = LEVEL_SCALAR;
static int level_in_use = LEVEL_SCALAR;

/* The kit of a level, NULL for the scalar code. */
static const lane_kit *kit_of(int level)
{
#ifdef HAVE_SIMD
    if (level == LEVEL_AVX512) {
        return &KIT_AVX512;
    }
    if (level == LEVEL_AVX2) {
        return &KIT_AVX2;
    }
#endif
    (void)level;
    return NULL;
}

/* The RFC 9162 root, on the lanes of `kit` when there is one. */
static void merkle_root_with(const uint8_t *leaves, size_t count, uint8_t out[32],
                             const lane_kit *kit)
{
#ifdef HAVE_SIMD
    if (kit != NULL) {
        merkle_root_lanes(kit, leaves, count, out);
        return;
    }
#endif
    (void)kit;
    merkle_root_of(leaves, count, out);
}

/* ------------------------------------------------------------------------------------ */
/* Batches of events                                                                    */

typedef struct {
    const uint8_t *head, *subject, *content;
    size_t head_len, subject_len, content_len;
    uint8_t *leaf; /* where its leaf goes */
    uint32_t hour; /* when it occurred, for its de-duplication key */
} event_ref;

static const uint8_t LEAF_PREFIX = 0x00;
static const uint8_t HEAD_END = 0x0A;

/* The leaves of `count` events from position `first_seq` (no Python calls: runs without
 * the GIL), one event after the other. */
static void hash_leaves_scalar(const salting *s, uint64_t first_seq, const event_ref *events,
                               size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const event_ref *ev = &events[i];
        uint8_t salts[64], parts[64];
        sha256_ctx ctx;
        salts_of(s, first_seq + i, salts);
        sha256_init(&ctx);
        sha256_update(&ctx, salts, 32);
        sha256_update(&ctx, ev->subject, ev->subject_len);
        sha256_final(&ctx, parts);
        sha256_init(&ctx);
        sha256_update(&ctx, salts + 32, 32);
        sha256_update(&ctx, ev->content, ev->content_len);
        sha256_final(&ctx, parts + 32);
        sha256_init(&ctx);
        sha256_update(&ctx, &LEAF_PREFIX, 1);
        sha256_update(&ctx, ev->head, ev->head_len);
        sha256_update(&ctx, &HEAD_END, 1);
        sha256_update(&ctx, parts, 64);
        sha256_final(&ctx, ev->leaf);
    }
}

#ifdef HAVE_SIMD
/* Events are hashed in groups of this many: their salts, then their 2 * LEAF_GROUP part
 * digests and LEAF_GROUP leaves as queues of messages for the lanes. */
#define LEAF_GROUP 64

/* hash_leaves_scalar on the lanes of `kit`. Each queue holds the leaves of the previous
 * group (whose part digests the previous queue computed) and the part digests of this
 * group: up to 192 messages, of which only the last few leave lanes idle (about 2% of
 * the blocks of eight lanes for typical events). The salts of a group are computed
 * together before its queue. */
static void hash_leaves_lanes(const lane_kit *kit, const salting *s, uint64_t first_seq,
                              const event_ref *events, size_t count)
{
    uint8_t salts[LEAF_GROUP][64];
    uint8_t parts[2][LEAF_GROUP][64]; /* SHA-256(salt1 || subject) || SHA-256(salt2 || content) */
    lane_job jobs[3 * LEAF_GROUP];
    size_t previous = 0, previous_count = 0;
    int half = 0; /* the parts of this group; those of the previous one are in the other */

    for (size_t start = 0;; start += LEAF_GROUP) {
        size_t group = start >= count ? 0 : count - start;
        if (group > LEAF_GROUP) {
            group = LEAF_GROUP;
        }
        size_t queued = 0;
        for (size_t i = 0; i < previous_count; i++) {
            const event_ref *ev = &events[previous + i];
            lane_job *job = &jobs[queued++];
            job->at[0] = &LEAF_PREFIX;
            job->len[0] = 1;
            job->at[1] = ev->head;
            job->len[1] = ev->head_len;
            job->at[2] = &HEAD_END;
            job->len[2] = 1;
            job->at[3] = parts[!half][i];
            job->len[3] = 64;
            job->segments = 4;
            job->out = ev->leaf;
        }
        salts_lanes(kit, s, first_seq + start, group, salts);
        for (size_t i = 0; i < group; i++) {
            const event_ref *ev = &events[start + i];
            lane_job *job = &jobs[queued++];
            job->at[0] = salts[i];
            job->len[0] = 32;
            job->at[1] = ev->subject;
            job->len[1] = ev->subject_len;
            job->segments = 2;
            job->out = parts[half][i];
            job = &jobs[queued++];
            job->at[0] = salts[i] + 32;
            job->len[0] = 32;
            job->at[1] = ev->content;
            job->len[1] = ev->content_len;
            job->segments = 2;
            job->out = parts[half][i] + 32;
        }
        sha256_jobs_lanes(kit, jobs, queued);
        if (group == 0) {
            return;
        }
        previous = start;
        previous_count = group;
        half = !half;
    }
}

/* De-duplication keys are computed in queues of this many. */
#define DEDUP_GROUP 128

/* hash_dedups on the BLAKE2b lanes of `kit`: each message is the scope bytes still
 * buffered in `scoped` followed by the content. */
static void hash_dedups_lanes(const lane_kit *kit, const blake2b_ctx *scoped,
                              const event_ref *events, size_t count, uint8_t *out)
{
    lane_job jobs[DEDUP_GROUP];
    for (size_t start = 0; start < count; start += DEDUP_GROUP) {
        size_t group = count - start < DEDUP_GROUP ? count - start : DEDUP_GROUP;
        for (size_t i = 0; i < group; i++) {
            const event_ref *ev = &events[start + i];
            uint8_t *key = out + (size_t)DEDUP_SIZE * (start + i);
            store_be32(key, ev->hour);
            jobs[i].at[0] = scoped->buf;
            jobs[i].len[0] = scoped->fill;
            jobs[i].at[1] = ev->content;
            jobs[i].len[1] = ev->content_len;
            jobs[i].segments = 2;
            jobs[i].out = key + DEDUP_HOUR_SIZE;
        }
        blake2b_jobs_lanes(kit, scoped, jobs, group);
    }
}
#endif

/* The leaves of `count` events, on the lanes of `kit` when there is one. */
static void hash_leaves(const salting *s, uint64_t first_seq, const event_ref *events,
                        size_t count, const lane_kit *kit)
{
#ifdef HAVE_SIMD
    if (kit != NULL && count > 1) {
        hash_leaves_lanes(kit, s, first_seq, events, count);
        return;
    }
#endif
    (void)kit;
    hash_leaves_scalar(s, first_seq, events, count);
}

/* The de-duplication keys of `count` events, hour || BLAKE2b-96(scope || content), from
 * the state that hashed the scope; on the lanes of `kit` when there is one. */
static void hash_dedups(const blake2b_ctx *scoped, const event_ref *events, size_t count,
                        uint8_t *out, const lane_kit *kit)
{
#ifdef HAVE_SIMD
    if (kit != NULL && count > 1) {
        hash_dedups_lanes(kit, scoped, events, count, out);
        return;
    }
#endif
    (void)kit;
    for (size_t i = 0; i < count; i++) {
        blake2b_ctx ctx = *scoped;
        uint8_t *key = out + (size_t)DEDUP_SIZE * i;
        store_be32(key, events[i].hour);
        blake2b_update(&ctx, events[i].content, events[i].content_len);
        blake2b_final(&ctx, key + DEDUP_HOUR_SIZE);
    }
}

/* ------------------------------------------------------------------------------------ */
/* The hour an event occurred, read from its stored head (records.hour_of_head)        */

#define NO_HOUR 0
static const char OCCURRED[] = "\"occurred_at\":\"";
#define OCCURRED_SIZE (sizeof OCCURRED - 1)
#define HOUR_TEXT_SIZE 13 /* YYYY-MM-DDTHH */

/* Where `needle` first occurs in `haystack`, or NULL. */
static const uint8_t *find_bytes(const uint8_t *haystack, size_t len, const char *needle,
                                 size_t needle_len)
{
    if (needle_len == 0 || len < needle_len) {
        return needle_len == 0 ? haystack : NULL;
    }
    const uint8_t *end = haystack + (len - needle_len) + 1; /* one past the last start */
    const uint8_t *at = haystack;
    while (at < end) {
        at = memchr(at, (unsigned char)needle[0], (size_t)(end - at));
        if (at == NULL) {
            return NULL;
        }
        if (memcmp(at, needle, needle_len) == 0) {
            return at;
        }
        at++;
    }
    return NULL;
}

static int two_digits(const uint8_t *p, int *out)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') {
        return 0;
    }
    *out = (p[0] - '0') * 10 + (p[1] - '0');
    return 1;
}

/* Days from 1970-01-01 to a proleptic Gregorian date, any day 1..31 of any month, for
 * years from 1970 on (so every quantity below is non-negative). */
static int64_t days_from_civil(int64_t year, int month, int day)
{
    year -= month <= 2;
    int64_t era = year / 400;
    int64_t of_era = year - era * 400;
    int64_t of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t of_cycle = of_era * 365 + of_era / 4 - of_era / 100 + of_year;
    return era * 146097 + of_cycle - 719468;
}

/* Whole hours from 1970-01-01T00 to the `occurred_at` time of a head, or NO_HOUR: the
 * first `"occurred_at":"` must be followed by YYYY-MM-DDTHH with a year from 1970, a
 * month 1..12, a day 1..31 and an hour 0..23. */
static uint32_t hour_of_head(const uint8_t *head, size_t len)
{
    const uint8_t *at = find_bytes(head, len, OCCURRED, OCCURRED_SIZE);
    if (at == NULL) {
        return NO_HOUR;
    }
    const uint8_t *p = at + OCCURRED_SIZE;
    if ((size_t)(head + len - p) < HOUR_TEXT_SIZE) {
        return NO_HOUR;
    }
    int century, years, month, day, hour;
    if (!two_digits(p, &century) || !two_digits(p + 2, &years) || p[4] != '-' ||
        !two_digits(p + 5, &month) || p[7] != '-' || !two_digits(p + 8, &day) ||
        p[10] != 'T' || !two_digits(p + 11, &hour)) {
        return NO_HOUR;
    }
    int year = century * 100 + years;
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23) {
        return NO_HOUR;
    }
    /* At most year 9999: about 7 * 10**7 hours, well within 4 bytes. */
    return (uint32_t)(days_from_civil(year, month, day) * 24 + hour);
}

/* A BLAKE2b key from a Python buffer: 0..64 bytes. */
static int check_key(const Py_buffer *key, const char *what)
{
    if (key->len > 64) {
        PyErr_Format(PyExc_ValueError, "%s is %zd bytes, longer than 64", what, key->len);
        return -1;
    }
    return 0;
}

/* first_seq of `count` events: an int with 0 <= first_seq and first_seq + count <= 2**64,
 * so that every position first_seq .. first_seq + count - 1 fits in 8 bytes. */
static int parse_first_seq(PyObject *obj, size_t count, uint64_t *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "first_seq must be an int, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    unsigned long long value = PyLong_AsUnsignedLongLong(obj);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return -1;
        }
        PyErr_Clear();
        if (count == 0) { /* no position is used: 2**64 itself is still in range */
            PyObject *limit = PyLong_FromString("18446744073709551616", NULL, 10);
            int at_limit = limit == NULL ? -1 : PyObject_RichCompareBool(obj, limit, Py_EQ);
            Py_XDECREF(limit);
            if (at_limit < 0) {
                return -1;
            }
            if (at_limit) {
                *out = 0;
                return 0;
            }
        }
        PyErr_SetString(PyExc_OverflowError, "first_seq is not between 0 and 2**64 - 1");
        return -1;
    }
    if (count > 0 && (uint64_t)(count - 1) > UINT64_MAX - (uint64_t)value) {
        PyErr_SetString(PyExc_OverflowError, "first_seq + the number of events exceeds 2**64");
        return -1;
    }
    *out = (uint64_t)value;
    return 0;
}

/* An hour of `dedup_keys`: an int from 0 to 2**32 - 1. */
static int parse_hour(PyObject *obj, Py_ssize_t index, uint32_t *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "hours[%zd] must be an int, not %.100s", index,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    unsigned long long value = PyLong_AsUnsignedLongLong(obj);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return -1;
        }
        PyErr_Clear();
        value = (unsigned long long)UINT32_MAX + 1;
    }
    if (value > UINT32_MAX) {
        PyErr_Format(PyExc_OverflowError, "hours[%zd] is not between 0 and 2**32 - 1", index);
        return -1;
    }
    *out = (uint32_t)value;
    return 0;
}

/* A sequence argument as a tuple of bytes (a new reference), or NULL. */
static PyObject *bytes_tuple(PyObject *obj, const char *what)
{
    PyObject *items = PySequence_Tuple(obj);
    if (items == NULL) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s[%zd] must be bytes, not %.100s", what, i,
                         Py_TYPE(item)->tp_name);
            Py_DECREF(items);
            return NULL;
        }
    }
    return items;
}

/* The events given as three sequences of bytes; the tuples keep every item alive. */
typedef struct {
    PyObject *heads, *subjects, *contents;
    Py_ssize_t count;
    event_ref *events;
} batch;

static void batch_clear(batch *b)
{
    Py_CLEAR(b->heads);
    Py_CLEAR(b->subjects);
    Py_CLEAR(b->contents);
    PyMem_Free(b->events);
    b->events = NULL;
}

static int batch_collect(batch *b, PyObject *heads, PyObject *subjects, PyObject *contents)
{
    memset(b, 0, sizeof *b);
    if ((b->heads = bytes_tuple(heads, "heads")) == NULL ||
        (b->subjects = bytes_tuple(subjects, "subjects")) == NULL ||
        (b->contents = bytes_tuple(contents, "contents")) == NULL) {
        goto error;
    }
    b->count = PyTuple_GET_SIZE(b->heads);
    if (PyTuple_GET_SIZE(b->subjects) != b->count ||
        PyTuple_GET_SIZE(b->contents) != b->count) {
        PyErr_SetString(PyExc_ValueError,
                        "heads, subjects and contents must have one entry per event");
        goto error;
    }
    if ((size_t)b->count > PY_SSIZE_T_MAX / sizeof(event_ref)) {
        PyErr_NoMemory();
        goto error;
    }
    b->events = PyMem_Malloc(b->count ? (size_t)b->count * sizeof(event_ref) : 1);
    if (b->events == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (Py_ssize_t i = 0; i < b->count; i++) {
        PyObject *head = PyTuple_GET_ITEM(b->heads, i);
        PyObject *subject = PyTuple_GET_ITEM(b->subjects, i);
        PyObject *content = PyTuple_GET_ITEM(b->contents, i);
        event_ref *ev = &b->events[i];
        ev->head = (const uint8_t *)PyBytes_AS_STRING(head);
        ev->head_len = (size_t)PyBytes_GET_SIZE(head);
        ev->subject = (const uint8_t *)PyBytes_AS_STRING(subject);
        ev->subject_len = (size_t)PyBytes_GET_SIZE(subject);
        ev->content = (const uint8_t *)PyBytes_AS_STRING(content);
        ev->content_len = (size_t)PyBytes_GET_SIZE(content);
        ev->leaf = NULL;
        ev->hour = NO_HOUR;
    }
    return 0;
error:
    batch_clear(b);
    return -1;
}

/* ------------------------------------------------------------------------------------ */
/* Python functions                                                                     */

PyDoc_STRVAR(event_leaves_doc,
             "event_leaves(secret, first_seq, heads, subjects, contents, /) -> list[bytes]\n"
             "\n"
             "The 32-byte leaf of each event, the first at position first_seq.");

static PyObject *native_event_leaves(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer secret = {0};
    PyObject *first_obj, *heads, *subjects, *contents;
    PyObject *result = NULL;
    batch b = {0};
    uint64_t first_seq;
    salting s;

    if (!PyArg_ParseTuple(args, "y*OOOO:event_leaves", &secret, &first_obj, &heads,
                          &subjects, &contents)) {
        return NULL;
    }
    if (check_key(&secret, "secret") < 0 || batch_collect(&b, heads, subjects, contents) < 0 ||
        parse_first_seq(first_obj, (size_t)b.count, &first_seq) < 0) {
        goto done;
    }
    result = PyList_New(b.count);
    if (result == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < b.count; i++) {
        PyObject *leaf = PyBytes_FromStringAndSize(NULL, LEAF_SIZE);
        if (leaf == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        b.events[i].leaf = (uint8_t *)PyBytes_AS_STRING(leaf);
        PyList_SET_ITEM(result, i, leaf);
    }
    const lane_kit *kit = kit_of(level_in_use);
    Py_BEGIN_ALLOW_THREADS
    salting_init(&s, secret.buf, (size_t)secret.len);
    hash_leaves(&s, first_seq, b.events, (size_t)b.count, kit);
    Py_END_ALLOW_THREADS
done:
    batch_clear(&b);
    PyBuffer_Release(&secret);
    return result;
}

PyDoc_STRVAR(dedup_keys_doc,
             "dedup_keys(scope, hours, contents, /) -> list[bytes]\n"
             "\n"
             "The 16-byte de-duplication key of each content in scope, occurred in the hour\n"
             "beside it: hour (4 bytes big-endian) || BLAKE2b-96(scope || content).");

static PyObject *native_dedup_keys(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer scope = {0};
    PyObject *hours_obj, *contents_obj, *hours = NULL, *contents = NULL, *result = NULL;
    uint8_t *keys = NULL;
    event_ref *events = NULL;
    blake2b_ctx scoped;

    if (!PyArg_ParseTuple(args, "y*OO:dedup_keys", &scope, &hours_obj, &contents_obj)) {
        return NULL;
    }
    if ((hours = PySequence_Tuple(hours_obj)) == NULL ||
        (contents = bytes_tuple(contents_obj, "contents")) == NULL) {
        goto done;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(contents);
    if (PyTuple_GET_SIZE(hours) != count) {
        PyErr_SetString(PyExc_ValueError, "hours and contents must have one entry per event");
        goto done;
    }
    if ((size_t)count > PY_SSIZE_T_MAX / sizeof(event_ref)) {
        PyErr_NoMemory();
        goto done;
    }
    events = PyMem_Malloc(count ? (size_t)count * sizeof(event_ref) : 1);
    keys = PyMem_Malloc(count ? (size_t)count * DEDUP_SIZE : 1);
    if (events == NULL || keys == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *content = PyTuple_GET_ITEM(contents, i);
        events[i].content = (const uint8_t *)PyBytes_AS_STRING(content);
        events[i].content_len = (size_t)PyBytes_GET_SIZE(content);
        if (parse_hour(PyTuple_GET_ITEM(hours, i), i, &events[i].hour) < 0) {
            goto done;
        }
    }
    const lane_kit *kit = kit_of(level_in_use);
    Py_BEGIN_ALLOW_THREADS
    blake2b_init(&scoped, DEDUP_DIGEST_SIZE, NULL, 0);
    blake2b_update(&scoped, scope.buf, (size_t)scope.len);
    hash_dedups(&scoped, events, (size_t)count, keys, kit);
    Py_END_ALLOW_THREADS
    result = PyList_New(count);
    if (result == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        const char *at = (const char *)keys + (size_t)DEDUP_SIZE * (size_t)i;
        PyObject *key = PyBytes_FromStringAndSize(at, DEDUP_SIZE);
        if (key == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, key);
    }
done:
    PyMem_Free(keys);
    PyMem_Free(events);
    Py_XDECREF(contents);
    Py_XDECREF(hours);
    PyBuffer_Release(&scope);
    return result;
}

PyDoc_STRVAR(merkle_root_doc,
             "merkle_root(leaves, /) -> bytes\n"
             "\n"
             "The RFC 9162 root of the 32-byte leaf hashes concatenated in leaves.");

static PyObject *native_merkle_root(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer leaves = {0};
    uint8_t root[32];

    if (!PyArg_ParseTuple(args, "y*:merkle_root", &leaves)) {
        return NULL;
    }
    if (leaves.len % LEAF_SIZE) {
        PyErr_Format(PyExc_ValueError, "leaves are not a multiple of %d bytes", LEAF_SIZE);
        PyBuffer_Release(&leaves);
        return NULL;
    }
    const lane_kit *kit = kit_of(level_in_use);
    Py_BEGIN_ALLOW_THREADS
    merkle_root_with(leaves.buf, (size_t)leaves.len / LEAF_SIZE, root, kit);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&leaves);
    return PyBytes_FromStringAndSize((const char *)root, sizeof root);
}

PyDoc_STRVAR(pack_chunk_doc,
             "pack_chunk(secret, first_seq, heads, subjects, contents, dedups, /)"
             " -> tuple[bytes, bytes]\n"
             "\n"
             "(the block of these events with their leaves, the root of those leaves).");

static PyObject *native_pack_chunk(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer secret = {0};
    PyObject *first_obj, *heads, *subjects, *contents, *dedups_obj;
    PyObject *dedups = NULL, *body = NULL, *result = NULL;
    const uint8_t **dedup_at = NULL;
    batch b = {0};
    uint64_t first_seq;
    salting s;
    uint8_t root[32];

    if (!PyArg_ParseTuple(args, "y*OOOOO:pack_chunk", &secret, &first_obj, &heads, &subjects,
                          &contents, &dedups_obj)) {
        return NULL;
    }
    if (check_key(&secret, "secret") < 0 || batch_collect(&b, heads, subjects, contents) < 0 ||
        (dedups = bytes_tuple(dedups_obj, "dedups")) == NULL) {
        goto done;
    }
    size_t count = (size_t)b.count;
    if (PyTuple_GET_SIZE(dedups) != b.count) {
        PyErr_SetString(PyExc_ValueError, "every part of a block needs one entry per event");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        if (PyBytes_GET_SIZE(PyTuple_GET_ITEM(dedups, i)) != DEDUP_SIZE) {
            PyErr_Format(PyExc_ValueError, "a de-duplication key is not %d bytes", DEDUP_SIZE);
            goto done;
        }
    }
    if (parse_first_seq(first_obj, count, &first_seq) < 0) {
        goto done;
    }
    if (count > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a block holds at most 2**32 - 1 events");
        goto done;
    }
    /* The size of the body: everything is bounded by the sizes of existing objects, but
     * check against PY_SSIZE_T_MAX anyway. */
    uint64_t size = HEADER_SIZE + (uint64_t)TABLE_ENTRY * count;
    for (size_t i = 0; i < count; i++) {
        const event_ref *ev = &b.events[i];
        if (ev->head_len > UINT32_MAX || ev->subject_len > UINT32_MAX ||
            ev->content_len > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "an event part is 4 GiB or longer");
            goto done;
        }
        size += (uint64_t)ev->head_len + ev->subject_len + ev->content_len;
        if (size > PY_SSIZE_T_MAX) {
            PyErr_NoMemory();
            goto done;
        }
    }
    dedup_at = PyMem_Malloc(count ? count * sizeof *dedup_at : 1);
    if (dedup_at == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        dedup_at[i] = (const uint8_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(dedups, i));
    }
    body = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (body == NULL) {
        goto done;
    }
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(body);
    const lane_kit *kit = kit_of(level_in_use);
    Py_BEGIN_ALLOW_THREADS
    uint8_t *lengths = out + HEADER_SIZE;
    uint8_t *leaves = lengths + 12 * count;
    uint8_t *keys = leaves + (size_t)LEAF_SIZE * count;
    uint8_t *parts = keys + (size_t)DEDUP_SIZE * count;
    memcpy(out, MAGIC, MAGIC_SIZE);
    store_be32(out + MAGIC_SIZE, (uint32_t)count);
    for (size_t i = 0; i < count; i++) {
        event_ref *ev = &b.events[i];
        store_be32(lengths + 12 * i, (uint32_t)ev->head_len);
        store_be32(lengths + 12 * i + 4, (uint32_t)ev->subject_len);
        store_be32(lengths + 12 * i + 8, (uint32_t)ev->content_len);
        memcpy(keys + (size_t)DEDUP_SIZE * i, dedup_at[i], DEDUP_SIZE);
        /* memcpy with a zero length still wants valid pointers: bytes always have one. */
        memcpy(parts, ev->head, ev->head_len);
        parts += ev->head_len;
        memcpy(parts, ev->subject, ev->subject_len);
        parts += ev->subject_len;
        memcpy(parts, ev->content, ev->content_len);
        parts += ev->content_len;
        ev->leaf = leaves + (size_t)LEAF_SIZE * i;
    }
    salting_init(&s, secret.buf, (size_t)secret.len);
    hash_leaves(&s, first_seq, b.events, count, kit);
    merkle_root_with(leaves, count, root, kit);
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(Oy#)", body, (const char *)root, (Py_ssize_t)sizeof root);
done:
    Py_XDECREF(body);
    PyMem_Free(dedup_at);
    Py_XDECREF(dedups);
    batch_clear(&b);
    PyBuffer_Release(&secret);
    return result;
}

PyDoc_STRVAR(block_digests_doc,
             "block_digests(body, first_seq, secret, scope, /) -> tuple[bytes, bytes, bytes]\n"
             "\n"
             "Recompute a block: (its events' leaves, their de-duplication keys, the root of\n"
             "its stored leaves), the leaves and keys concatenated in event order. body may\n"
             "be any bytes-like object. Raises ValueError for a malformed block.");

static PyObject *native_block_digests(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer body = {0}, secret = {0}, scope = {0};
    PyObject *first_obj;
    PyObject *leaves_out = NULL, *keys_out = NULL, *result = NULL;
    event_ref *events = NULL;
    uint64_t first_seq;
    salting s;
    blake2b_ctx scoped;
    uint8_t root[32];

    if (!PyArg_ParseTuple(args, "y*Oy*y*:block_digests", &body, &first_obj, &secret,
                          &scope)) {
        goto done;
    }
    if (check_key(&secret, "secret") < 0) {
        goto done;
    }
    const uint8_t *data = body.buf;
    uint64_t size = (uint64_t)body.len;
    if (size < HEADER_SIZE || memcmp(data, MAGIC, MAGIC_SIZE) != 0) {
        PyErr_SetString(PyExc_ValueError, "not a block of events");
        goto done;
    }
    size_t count = load_be32(data + MAGIC_SIZE);
    uint64_t parts_at = HEADER_SIZE + (uint64_t)TABLE_ENTRY * count; /* < 2**40 */
    if (size < parts_at) {
        PyErr_SetString(PyExc_ValueError, "the block is shorter than its table of events");
        goto done;
    }
    /* Every length is below 2**32 and the running sum stops as soon as it passes the
     * room left, so it never overflows. */
    const uint8_t *lengths = data + HEADER_SIZE;
    uint64_t room = size - parts_at, total = 0;
    for (size_t i = 0; i < 3 * count; i++) {
        total += load_be32(lengths + 4 * i);
        if (total > room) {
            break;
        }
    }
    if (total != room) {
        PyErr_SetString(PyExc_ValueError, "the block's lengths do not add up to its size");
        goto done;
    }
    if (parse_first_seq(first_obj, count, &first_seq) < 0) {
        goto done;
    }
    /* count <= size / TABLE_ENTRY, so this is bounded by the body's own size. */
    events = PyMem_Malloc(count ? count * sizeof(event_ref) : 1);
    if (events == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    leaves_out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(LEAF_SIZE * count));
    keys_out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(DEDUP_SIZE * count));
    if (leaves_out == NULL || keys_out == NULL) {
        goto done;
    }
    uint8_t *leaves = (uint8_t *)PyBytes_AS_STRING(leaves_out);
    uint8_t *keys = (uint8_t *)PyBytes_AS_STRING(keys_out);
    /* The parts are located with the GIL still held, from the lengths just checked: a
     * bytearray body cannot be resized while its buffer is held, but another thread could
     * rewrite its table once the GIL is released (only the hashed bytes would change). */
    const uint8_t *part = data + parts_at;
    for (size_t i = 0; i < count; i++) {
        event_ref *ev = &events[i];
        ev->head_len = load_be32(lengths + 12 * i);
        ev->subject_len = load_be32(lengths + 12 * i + 4);
        ev->content_len = load_be32(lengths + 12 * i + 8);
        ev->head = part;
        part += ev->head_len;
        ev->subject = part;
        part += ev->subject_len;
        ev->content = part;
        part += ev->content_len;
        ev->leaf = leaves + (size_t)LEAF_SIZE * i;
    }
    const lane_kit *kit = kit_of(level_in_use);
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < count; i++) {
        events[i].hour = hour_of_head(events[i].head, events[i].head_len);
    }
    salting_init(&s, secret.buf, (size_t)secret.len);
    hash_leaves(&s, first_seq, events, count, kit);
    blake2b_init(&scoped, DEDUP_DIGEST_SIZE, NULL, 0);
    blake2b_update(&scoped, scope.buf, (size_t)scope.len);
    hash_dedups(&scoped, events, count, keys, kit);
    merkle_root_with(lengths + 12 * count, count, root, kit);
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(OOy#)", leaves_out, keys_out, (const char *)root,
                           (Py_ssize_t)sizeof root);
done:
    Py_XDECREF(leaves_out);
    Py_XDECREF(keys_out);
    PyMem_Free(events);
    if (body.obj != NULL) {
        PyBuffer_Release(&body);
    }
    if (secret.obj != NULL) {
        PyBuffer_Release(&secret);
    }
    if (scope.obj != NULL) {
        PyBuffer_Release(&scope);
    }
    return result;
}

/* Inputs at least this long are hashed with the GIL released. */
#define RELEASE_GIL_AT 4096

PyDoc_STRVAR(sha256_doc, "sha256(data, /) -> bytes\n\nThe SHA-256 digest of data.");

static PyObject *native_sha256(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer data = {0};
    uint8_t digest[32];

    if (!PyArg_ParseTuple(args, "y*:sha256", &data)) {
        return NULL;
    }
    if (data.len >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS
        sha256_digest(data.buf, (size_t)data.len, digest);
        Py_END_ALLOW_THREADS
    } else {
        sha256_digest(data.buf, (size_t)data.len, digest);
    }
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)digest, sizeof digest);
}

PyDoc_STRVAR(blake2b_doc,
             "blake2b(data, key=b\"\", digest_size=64) -> bytes\n"
             "\n"
             "The BLAKE2b digest of data, keyed when key (0 to 64 bytes) is not empty.");

static PyObject *native_blake2b(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data", "key", "digest_size", NULL};
    Py_buffer data = {0}, key = {0};
    Py_ssize_t digest_size = 64;
    uint8_t digest[64];
    blake2b_ctx ctx;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|y*n:blake2b", keywords, &data, &key,
                                     &digest_size)) {
        return NULL;
    }
    if (digest_size < 1 || digest_size > 64) {
        PyErr_SetString(PyExc_ValueError, "digest_size must be between 1 and 64");
        goto error;
    }
    if (check_key(&key, "key") < 0) {
        goto error;
    }
    const uint8_t *key_bytes = key.obj != NULL ? key.buf : NULL;
    size_t key_len = key.obj != NULL ? (size_t)key.len : 0;
    if (data.len >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS
        blake2b_init(&ctx, (size_t)digest_size, key_bytes, key_len);
        blake2b_update(&ctx, data.buf, (size_t)data.len);
        blake2b_final(&ctx, digest);
        Py_END_ALLOW_THREADS
    } else {
        blake2b_init(&ctx, (size_t)digest_size, key_bytes, key_len);
        blake2b_update(&ctx, data.buf, (size_t)data.len);
        blake2b_final(&ctx, digest);
    }
    PyBuffer_Release(&data);
    if (key.obj != NULL) {
        PyBuffer_Release(&key);
    }
    return PyBytes_FromStringAndSize((const char *)digest, digest_size);
error:
    PyBuffer_Release(&data);
    if (key.obj != NULL) {
        PyBuffer_Release(&key);
    }
    return NULL;
}

PyDoc_STRVAR(simd_doc,
             "simd() -> str\n"
             "\n"
             "The hashing in use for events, keys and Merkle trees: \"avx512\" (sixteen\n"
             "SHA-256 and eight BLAKE2b messages at once), \"avx2\" (eight and four) or\n"
             "\"scalar\".");

static PyObject *native_simd(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return PyUnicode_FromString(LEVEL_NAMES[level_in_use]);
}

PyDoc_STRVAR(use_simd_doc,
             "use_simd(level, /) -> None\n"
             "\n"
             "Choose the hashing for the whole module: \"scalar\", \"avx2\" or \"avx512\"\n"
             "(a level this CPU lacks gives the best one below it that it has), or a flag:\n"
             "false for \"scalar\", true for the default chosen at import. The results are\n"
             "the same.");

static PyObject *native_use_simd(PyObject *Py_UNUSED(module), PyObject *arg)
{
    int level;
    if (PyUnicode_Check(arg)) {
        for (level = 0; level < LEVELS; level++) {
            if (PyUnicode_CompareWithASCIIString(arg, LEVEL_NAMES[level]) == 0) {
                break;
            }
        }
        if (level == LEVELS) {
            PyErr_Format(PyExc_ValueError,
                         "unknown level %R: expected \"scalar\", \"avx2\" or \"avx512\"", arg);
            return NULL;
        }
        while (!level_supported[level]) {
            level--; /* the scalar level is always supported */
        }
    } else {
        int on = PyObject_IsTrue(arg);
        if (on < 0) {
            return NULL;
        }
        level = on ? level_default : LEVEL_SCALAR;
    }
    level_in_use = level;
    Py_RETURN_NONE;
}

static PyMethodDef native_methods[] = {
    {"event_leaves", native_event_leaves, METH_VARARGS, event_leaves_doc},
    {"dedup_keys", native_dedup_keys, METH_VARARGS, dedup_keys_doc},
    {"merkle_root", native_merkle_root, METH_VARARGS, merkle_root_doc},
    {"pack_chunk", native_pack_chunk, METH_VARARGS, pack_chunk_doc},
    {"block_digests", native_block_digests, METH_VARARGS, block_digests_doc},
    {"sha256", native_sha256, METH_VARARGS, sha256_doc},
    {"blake2b", (PyCFunction)(void (*)(void))native_blake2b, METH_VARARGS | METH_KEYWORDS,
     blake2b_doc},
    {"simd", native_simd, METH_NOARGS, simd_doc},
    {"use_simd", native_use_simd, METH_O, use_simd_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(module_doc,
             "The ledger's bulk hashing in C: the same bytes as the py_* functions of\n"
             "mamori.ledger.hashing. SHA-256 and BLAKE2b are implemented here.");

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "mamori.ledger._native", module_doc, -1, native_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
#ifdef HAVE_SIMD
    __builtin_cpu_init();
    level_supported[LEVEL_AVX2] = __builtin_cpu_supports("avx2") != 0;
    level_supported[LEVEL_AVX512] = __builtin_cpu_supports("avx512f") != 0;
    for (level_default = LEVELS - 1; !level_supported[level_default]; level_default--) {
    }
#endif
    level_in_use = level_default;
    PyObject *module = PyModule_Create(&native_module);
    if (module != NULL && PyModule_AddIntConstant(module, "API", NATIVE_API) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
