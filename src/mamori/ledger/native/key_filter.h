/* key_filter.h: a Bloom filter over de-duplication keys (ledger/key_filter.py). Part of
 * ../_native.c, included once.
 *
 * A key is 16 bytes: the hour, 4 bytes, then 12 bytes of BLAKE2b, uniformly spread. The
 * filter's probes come from those bytes directly: h1 is bytes 4..8 and h2 bytes 8..12 (odd),
 * both little-endian, and probe i sets or tests bit (h1 + i * h2) mod 2^32, masked to the
 * filter's size, a power of two of at most 2^32 bits. The Python reference computes the same
 * bits (key_filter.py). */

enum { FILTER_KEY_SIZE = 16, FILTER_PROBES = 7 };

static inline uint32_t filter_word(const unsigned char *at)
{
    return (uint32_t)at[0] | ((uint32_t)at[1] << 8) | ((uint32_t)at[2] << 16)
           | ((uint32_t)at[3] << 24);
}

/* Sets the key's bits when `set`; returns whether they were all set before. */
static int filter_probe(unsigned char *bits, uint64_t mask, const unsigned char *key, int set)
{
    uint32_t h1 = filter_word(key + 4), h2 = filter_word(key + 8) | 1u;
    int present = 1;
    for (uint32_t i = 0; i < FILTER_PROBES; i++) {
        uint64_t bit = (uint32_t)(h1 + i * h2) & mask;
        unsigned char flag = (unsigned char)(1u << (bit & 7));
        if (!(bits[bit >> 3] & flag)) {
            present = 0;
            if (!set) {
                return 0;
            }
            bits[bit >> 3] |= flag;
        }
    }
    return present;
}
