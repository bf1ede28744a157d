/* events.h: a batch of events: salts, leaves and de-duplication keys.
 * Part of ../_native.c, which includes these files once, in order, as one
 * translation unit: every function stays static and inlinable. */

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

