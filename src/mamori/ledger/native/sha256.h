/* sha256.h: SHA-256 (FIPS 180-4) and the RFC 9162 Merkle root, one message at a time.
 * Part of ../_native.c, which includes these files once, in order, as one
 * translation unit: every function stays static and inlinable. */

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

