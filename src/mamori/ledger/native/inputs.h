/* inputs.h: reading Python arguments: heads' hours, hours, and event sequences.
 * Part of ../_native.c, which includes these files once, in order, as one
 * translation unit: every function stays static and inlinable. */

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

