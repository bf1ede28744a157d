/* lane_queues.h: queues of messages feeding the lanes, the kits, and the level in use.
 * Part of ../_native.c, which includes these files once, in order, as one
 * translation unit: every function stays static and inlinable. */

#ifdef HAVE_SIMD

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

