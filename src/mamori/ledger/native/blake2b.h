/* blake2b.h: BLAKE2b (RFC 7693), one message at a time.
 * Part of ../_native.c, which includes these files once, in order, as one
 * translation unit: every function stays static and inlinable. */

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
