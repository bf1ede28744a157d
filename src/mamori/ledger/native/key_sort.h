/* key_sort.h: de-duplication keys put in order for a merge into the index (dedup.py).
 * Part of ../_native.c, included once.
 *
 * A key is 16 bytes compared as bytes: the same order as two big-endian 64-bit words.
 * Each key's words are read once into an array beside its object, and the array is
 * sorted without going back to the objects: by the first word with a least-significant-
 * digit radix sort (eight passes of a byte, a pass skipped when every key has the same
 * byte there, such as the hour of keys of one hour), then any run of equal first words by
 * the second word. Python's own sort compares bytes objects through their type, about
 * six times slower for the 100,000 keys of a merge. */

typedef struct {
    uint64_t high, low;
    PyObject *key;
} sort_entry;

static int sort_entry_order(const void *a, const void *b)
{
    const sort_entry *x = a, *y = b;
    if (x->high != y->high) {
        return x->high < y->high ? -1 : 1;
    }
    return (x->low > y->low) - (x->low < y->low);
}

/* Sorts entries[0, count) by (high, low); `spare` has room for as many. */
static void sort_entries(sort_entry *entries, sort_entry *spare, size_t count)
{
    sort_entry *from = entries, *to = spare;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t start[256] = {0};
        for (size_t i = 0; i < count; i++) {
            start[(from[i].high >> shift) & 0xFF]++;
        }
        if (start[(from[0].high >> shift) & 0xFF] == count) {
            continue; /* the same byte in every key: nothing moves */
        }
        for (size_t digit = 0, at = 0; digit < 256; digit++) {
            size_t here = start[digit];
            start[digit] = at;
            at += here;
        }
        for (size_t i = 0; i < count; i++) {
            to[start[(from[i].high >> shift) & 0xFF]++] = from[i];
        }
        sort_entry *swap = from;
        from = to;
        to = swap;
    }
    if (from != entries) {
        memcpy(entries, from, count * sizeof(sort_entry));
    }
    /* Equal first words: rare for keys of random bytes, but any number of them is sorted
     * in O(n log n), whatever keys were sent. */
    for (size_t i = 0; i < count;) {
        size_t end = i + 1;
        while (end < count && entries[end].high == entries[i].high) {
            end++;
        }
        if (end - i > 1) {
            qsort(entries + i, end - i, sizeof(sort_entry), sort_entry_order);
        }
        i = end;
    }
}

/* Sorts the list `keys` of 16-byte bytes in place; -1 with ValueError for another item
 * (the list is then left as it was). */
static int sort_keys_in_place(PyObject *keys)
{
    Py_ssize_t count = PyList_GET_SIZE(keys);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) != 16) {
            PyErr_Format(PyExc_ValueError, "key %zd is not 16 bytes", i);
            return -1;
        }
    }
    if (count < 2) {
        return 0;
    }
    sort_entry *entries = PyMem_Malloc(2 * (size_t)count * sizeof(sort_entry));
    if (entries == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        const uint8_t *bytes = (const uint8_t *)PyBytes_AS_STRING(key);
        entries[i] = (sort_entry){load_be64(bytes), load_be64(bytes + 8), key};
    }
    sort_entries(entries, entries + count, (size_t)count);
    /* The same objects, each still referenced once by the list: only their places move. */
    for (Py_ssize_t i = 0; i < count; i++) {
        PyList_SET_ITEM(keys, i, entries[i].key);
    }
    PyMem_Free(entries);
    return 0;
}
