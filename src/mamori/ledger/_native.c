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
 *   encode_events(items, fallback) -> list[EncodedEvent]
 *   pack_events(secret, first_seq, received, events) -> (body, root)
 *   normalise_records(records, plan, fallback) -> list[IncomingEvent]
 *   long_digit_run(body) -> int    where 19 digits in a row stand outside JSON strings
 *   filter_add(bits, keys) -> int, filter_maybe(bits, keys) -> list[bytes]   key filter
 *   sort_keys(keys) -> None         16-byte keys sorted in place, in byte order
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
 * `encode_events` writes the stored parts and the de-duplication key of attributed
 * events (records.Attributed) as records.encode does, as EncodedEvent struct sequences:
 * the same tuple as records.Encoded. An event holding a value it leaves to the reference
 * goes to `fallback` (native/encoding.h). `pack_events` is `pack_chunk` of such events,
 * their heads completed with their positions and receipt time (records.head_of).
 * `normalise_records` is formats.base.record_to_event for free-form JSON records, with
 * the same kind of fallback (native/normalising.h).
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

/* The code is kept in native/ by subject and included here in order, as one translation
 * unit: byte order, SHA-256 and BLAKE2b one message at a time, the lanes (cursors, the
 * AVX2 and AVX-512 compression functions, the queues and levels), batches of events and
 * the reading of arguments; the Python functions follow. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>

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
#define NATIVE_API 5
#define TABLE_ENTRY (12 + LEAF_SIZE + DEDUP_SIZE) /* lengths, leaf and key of an event */

#include "native/byteorder.h"
#include "native/sha256.h"
#include "native/blake2b.h"
#include "native/lanes.h"
#include "native/lanes_x86.h"
#include "native/lane_queues.h"
#include "native/events.h"
#include "native/inputs.h"
#include "native/encoding.h"
#include "native/normalising.h"
#include "native/scanning.h"
#include "native/key_filter.h"
#include "native/key_sort.h"

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

/* pack_chunk's work, for it and pack_events; the caller releases `secret`. */
static PyObject *pack_block(Py_buffer *secret_view, PyObject *first_obj, PyObject *heads,
                            PyObject *subjects, PyObject *contents, PyObject *dedups_obj)
{
    Py_buffer secret = *secret_view;
    PyObject *dedups = NULL, *body = NULL, *result = NULL;
    const uint8_t **dedup_at = NULL;
    batch b = {0};
    uint64_t first_seq;
    salting s;
    uint8_t root[32];

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
    return result;
}

static PyObject *native_pack_chunk(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer secret = {0};
    PyObject *first_obj, *heads, *subjects, *contents, *dedups;
    if (!PyArg_ParseTuple(args, "y*OOOOO:pack_chunk", &secret, &first_obj, &heads, &subjects,
                          &contents, &dedups)) {
        return NULL;
    }
    PyObject *result = pack_block(&secret, first_obj, heads, subjects, contents, dedups);
    PyBuffer_Release(&secret);
    return result;
}

PyDoc_STRVAR(pack_events_doc,
             "pack_events(secret, first_seq, received, events, /) -> tuple[bytes, bytes]\n"
             "\n"
             "pack_chunk of encoded events (records.Encoded or EncodedEvent), their heads\n"
             "completed with their positions from first_seq and the receipt time `received`\n"
             "(records.head_of).");

static const char RECEIVED_KEY[] = ",\"received_at\":\"";
static const char SEQ_KEY[] = "\",\"seq\":";

/* records.head_of: start || ,"received_at":"<received>","seq":<seq> || end. */
static PyObject *head_of(PyObject *event, const Py_buffer *received, uint64_t seq)
{
    PyObject *start = PyTuple_GET_ITEM(event, 2), *end = PyTuple_GET_ITEM(event, 3);
    if (!PyBytes_Check(start) || !PyBytes_Check(end)) {
        PyErr_SetString(PyExc_TypeError, "an event's head pieces must be bytes");
        return NULL;
    }
    char digits[24];
    int digits_len = format_unsigned(digits, (unsigned long long)seq);
    size_t start_len = (size_t)PyBytes_GET_SIZE(start), end_len = (size_t)PyBytes_GET_SIZE(end);
    size_t size = start_len + sizeof RECEIVED_KEY - 1 + (size_t)received->len +
                  sizeof SEQ_KEY - 1 + (size_t)digits_len + end_len;
    PyObject *head = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (head == NULL) {
        return NULL;
    }
    char *out = PyBytes_AS_STRING(head);
    memcpy(out, PyBytes_AS_STRING(start), start_len);
    out += start_len;
    memcpy(out, RECEIVED_KEY, sizeof RECEIVED_KEY - 1);
    out += sizeof RECEIVED_KEY - 1;
    memcpy(out, received->buf, (size_t)received->len);
    out += received->len;
    memcpy(out, SEQ_KEY, sizeof SEQ_KEY - 1);
    out += sizeof SEQ_KEY - 1;
    memcpy(out, digits, (size_t)digits_len);
    out += digits_len;
    memcpy(out, PyBytes_AS_STRING(end), end_len);
    return head;
}

static PyObject *native_pack_events(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer secret = {0}, received = {0};
    PyObject *first_obj, *events_obj;
    PyObject *events = NULL, *heads = NULL, *subjects = NULL, *contents = NULL, *dedups = NULL;
    PyObject *result = NULL;
    uint64_t first_seq;

    if (!PyArg_ParseTuple(args, "y*Oy*O:pack_events", &secret, &first_obj, &received,
                          &events_obj)) {
        return NULL;
    }
    if ((events = PySequence_Tuple(events_obj)) == NULL) {
        goto done;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(events);
    if (parse_first_seq(first_obj, (size_t)count, &first_seq) < 0 ||
        (heads = PyTuple_New(count)) == NULL || (subjects = PyTuple_New(count)) == NULL ||
        (contents = PyTuple_New(count)) == NULL || (dedups = PyTuple_New(count)) == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *event = PyTuple_GET_ITEM(events, i);
        if (!PyTuple_Check(event) || PyTuple_GET_SIZE(event) != ENCODED_FIELD_COUNT) {
            PyErr_Format(PyExc_TypeError, "events[%zd] is not an encoded event", i);
            goto done;
        }
        PyObject *head = head_of(event, &received, first_seq + (uint64_t)i);
        if (head == NULL) {
            goto done;
        }
        PyTuple_SET_ITEM(heads, i, head);
        PyTuple_SET_ITEM(subjects, i, Py_NewRef(PyTuple_GET_ITEM(event, 4)));
        PyTuple_SET_ITEM(contents, i, Py_NewRef(PyTuple_GET_ITEM(event, 5)));
        PyTuple_SET_ITEM(dedups, i, Py_NewRef(PyTuple_GET_ITEM(event, 7)));
    }
    result = pack_block(&secret, first_obj, heads, subjects, contents, dedups);
done:
    Py_XDECREF(events);
    Py_XDECREF(heads);
    Py_XDECREF(subjects);
    Py_XDECREF(contents);
    Py_XDECREF(dedups);
    PyBuffer_Release(&received);
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

PyDoc_STRVAR(encode_events_doc,
             "encode_events(items, fallback, /) -> list\n"
             "\n"
             "The stored parts and de-duplication key of each attributed event, as\n"
             "records.encode makes them, each an EncodedEvent (the same tuple as\n"
             "records.Encoded). An event holding a value this encoder leaves alone (a float,\n"
             "a tuple, a time outside UTC...) is given to fallback(item) instead.");

static PyObject *native_encode_events(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *items, *fallback;
    if (!PyArg_ParseTuple(args, "OO:encode_events", &items, &fallback)) {
        return NULL;
    }
    /* A tuple of its own: the attribute reads and the fallback run Python code, which
     * must not be able to change what is being walked. */
    PyObject *sequence = PySequence_Tuple(items);
    if (sequence == NULL) {
        return NULL;
    }
    PyObject *result = encode_batch(sequence, fallback, kit_of(level_in_use));
    Py_DECREF(sequence);
    return result;
}

PyDoc_STRVAR(normalise_records_doc,
             "normalise_records(records, plan, fallback, /) -> list\n"
             "\n"
             "The IncomingEvent of each free-form JSON record (a dict), as\n"
             "formats.base.record_to_event(record, original=record) makes it, by the keys and\n"
             "words of `plan` (formats.base.NATIVE_PLAN). A record holding a value this code\n"
             "leaves alone (a number for a text field, an epoch or offset time...) is given to\n"
             "fallback(record) instead.");

static PyObject *native_normalise_records(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *records, *plan, *fallback;
    if (!PyArg_ParseTuple(args, "OOO:normalise_records", &records, &plan, &fallback) ||
        check_plan(plan) < 0) {
        return NULL;
    }
    PyObject *sequence = PySequence_Tuple(records); /* see encode_events */
    if (sequence == NULL) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(sequence);
    PyObject *empty = PyUnicode_FromStringAndSize("", 0);
    PyObject *no_args = PyTuple_New(0);
    PyObject *result = empty && no_args ? PyList_New(count) : NULL;
    for (Py_ssize_t i = 0; result != NULL && i < count; i++) {
        PyObject *record = PyTuple_GET_ITEM(sequence, i);
        PyObject *event = normalise_record(record, plan, empty, no_args);
        if (event == Py_None) {
            Py_DECREF(event);
            event = PyObject_CallOneArg(fallback, record);
        }
        if (event == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, i, event);
    }
    Py_XDECREF(empty);
    Py_XDECREF(no_args);
    Py_DECREF(sequence);
    return result;
}

PyDoc_STRVAR(long_digit_run_doc,
             "long_digit_run(body, /) -> int\n"
             "\n"
             "The offset of the first run of 19 or more ASCII digits outside JSON strings in\n"
             "body (any bytes-like object), or -1: where an integer orjson would read as a\n"
             "float may stand (native/scanning.h).");

static PyObject *native_long_digit_run(PyObject *Py_UNUSED(module), PyObject *body)
{
    Py_buffer view;
    if (PyObject_GetBuffer(body, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Py_ssize_t found;
    Py_BEGIN_ALLOW_THREADS
    found = long_digit_run((const unsigned char *)view.buf, view.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(found);
}

PyDoc_STRVAR(filter_add_doc,
             "filter_add(bits, keys, /) -> int\n"
             "\n"
             "Set the bits of each 16-byte key of the list keys in bits, a bytearray whose\n"
             "size is a power of two; the number of keys not all of whose bits were set\n"
             "before (native/key_filter.h).");

PyDoc_STRVAR(filter_maybe_doc,
             "filter_maybe(bits, keys, /) -> list\n"
             "\n"
             "Those of the 16-byte keys of the list keys whose bits are all set in bits:\n"
             "the keys the filter may hold. The others it does not (native/key_filter.h).");

/* A call of filter_add or filter_maybe: the filter's bytes (writable for filter_add), its
 * bit mask and the list of keys. */
typedef struct {
    Py_buffer view;
    uint64_t mask;
    PyObject *keys;
} FilterCall;

static int filter_call(PyObject *args, const char *format, int writable, FilterCall *call)
{
    PyObject *bits;
    if (!PyArg_ParseTuple(args, format, &bits, &PyList_Type, &call->keys)) {
        return -1;
    }
    if (PyObject_GetBuffer(bits, &call->view, writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0) {
        return -1;
    }
    uint64_t size = (uint64_t)call->view.len;
    if (size == 0 || (size & (size - 1)) != 0 || size > ((uint64_t)1 << 29)) {
        PyBuffer_Release(&call->view);
        PyErr_SetString(PyExc_ValueError,
                        "a key filter's size must be a power of two of at most 2**29 bytes");
        return -1;
    }
    call->mask = size * 8 - 1;
    return 0;
}

/* The 16 bytes of keys[i], or NULL with an exception set. */
static const unsigned char *filter_key(PyObject *keys, Py_ssize_t i)
{
    PyObject *key = PyList_GET_ITEM(keys, i);
    if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) != FILTER_KEY_SIZE) {
        PyErr_Format(PyExc_ValueError, "key %zd is not 16 bytes", i);
        return NULL;
    }
    return (const unsigned char *)PyBytes_AS_STRING(key);
}

static PyObject *native_filter_add(PyObject *Py_UNUSED(module), PyObject *args)
{
    FilterCall call;
    if (filter_call(args, "OO!:filter_add", 1, &call) < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t added = 0, count = PyList_GET_SIZE(call.keys), i = 0;
    for (; i < count; i++) {
        const unsigned char *key = filter_key(call.keys, i);
        if (key == NULL) {
            break;
        }
        added += !filter_probe((unsigned char *)call.view.buf, call.mask, key, 1);
    }
    if (i == count) {
        result = PyLong_FromSsize_t(added);
    }
    PyBuffer_Release(&call.view);
    return result;
}

static PyObject *native_filter_maybe(PyObject *Py_UNUSED(module), PyObject *args)
{
    FilterCall call;
    if (filter_call(args, "OO!:filter_maybe", 0, &call) < 0) {
        return NULL;
    }
    PyObject *maybe = PyList_New(0);
    Py_ssize_t count = PyList_GET_SIZE(call.keys);
    for (Py_ssize_t i = 0; maybe != NULL && i < count; i++) {
        const unsigned char *key = filter_key(call.keys, i);
        if (key == NULL) {
            Py_CLEAR(maybe);
        } else if (filter_probe((unsigned char *)call.view.buf, call.mask, key, 0)
                   && PyList_Append(maybe, PyList_GET_ITEM(call.keys, i)) < 0) {
            Py_CLEAR(maybe);
        }
    }
    PyBuffer_Release(&call.view);
    return maybe;
}

PyDoc_STRVAR(sort_keys_doc,
             "sort_keys(keys, /) -> None\n"
             "\n"
             "Sort the list keys of 16-byte de-duplication keys in place, in byte order\n"
             "(native/key_sort.h); ValueError, with the list unchanged, for another item.");

static PyObject *native_sort_keys(PyObject *Py_UNUSED(module), PyObject *keys)
{
    if (!PyList_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "sort_keys takes a list");
        return NULL;
    }
    if (sort_keys_in_place(keys) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
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
    {"encode_events", native_encode_events, METH_VARARGS, encode_events_doc},
    {"pack_events", native_pack_events, METH_VARARGS, pack_events_doc},
    {"normalise_records", native_normalise_records, METH_VARARGS, normalise_records_doc},
    {"long_digit_run", native_long_digit_run, METH_O, long_digit_run_doc},
    {"filter_add", native_filter_add, METH_VARARGS, filter_add_doc},
    {"filter_maybe", native_filter_maybe, METH_VARARGS, filter_maybe_doc},
    {"sort_keys", native_sort_keys, METH_O, sort_keys_doc},
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
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL || intern_attribute_names() < 0) {
        return NULL;
    }
    if (encoded_type == NULL && (encoded_type = PyStructSequence_NewType(&ENCODED_DESC)) == NULL) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&native_module);
    if (module != NULL && (PyModule_AddIntConstant(module, "API", NATIVE_API) < 0 ||
                           PyModule_AddObjectRef(module, "EncodedEvent",
                                                 (PyObject *)encoded_type) < 0)) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
