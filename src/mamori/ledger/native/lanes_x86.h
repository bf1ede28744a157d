/* lanes_x86.h: the AVX2 and AVX-512 compression functions of SHA-256 and BLAKE2b.
 * Part of ../_native.c, which includes these files once, in order, as one
 * translation unit: every function stays static and inlinable. */

#ifdef HAVE_SIMD

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

#endif /* HAVE_SIMD */
