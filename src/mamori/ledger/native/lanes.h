/* lanes.h: multi-buffer hashing: lane kits, messages as segments, and their cursors.
 * Part of ../_native.c, which includes these files once, in order, as one
 * translation unit: every function stays static and inlinable. */

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


#endif /* HAVE_SIMD */
