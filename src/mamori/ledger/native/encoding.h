/* encoding.h: an event's stored parts as canonical JSON (records.encode).
 * Part of ../_native.c, which includes these files once, in order, as one
 * translation unit: every function stays static and inlinable.
 *
 * The JSON is byte for byte what orjson.dumps(value, option=OPT_SORT_KEYS) writes, for
 * the values this encoder takes: None, bool, int within 64 bits, str (and str
 * subclasses such as StrEnum, by value), exact dict with str keys (sorted by code
 * point, which is the order of their UTF-8 bytes) and exact list, nested up to
 * MAX_DEPTH. Anything else (a float, a tuple, a datetime outside UTC, a deeper record)
 * makes the whole event NOT_MINE, and the caller encodes it with records.encode, which
 * is the reference: the result is the same either way, only slower. */

#define NOT_MINE 1 /* a value this encoder leaves to the reference (no Python error set) */
#define MAX_DEPTH 64

/* A growing byte buffer; `data` is PyMem-allocated. */
typedef struct {
    char *data;
    size_t len, cap;
} text;

static int text_reserve(text *t, size_t more)
{
    if (t->cap - t->len >= more) {
        return 0;
    }
    size_t cap = t->cap ? t->cap : 256;
    while (cap - t->len < more) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *data = PyMem_Realloc(t->data, cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->data = data;
    t->cap = cap;
    return 0;
}

static int text_put(text *t, const char *bytes, size_t len)
{
    if (text_reserve(t, len) < 0) {
        return -1;
    }
    memcpy(t->data + t->len, bytes, len);
    t->len += len;
    return 0;
}

#define TEXT_PUT_LITERAL(t, literal) text_put((t), (literal), sizeof(literal) - 1)

/* ------------------------------------------------------------------------------------ */
/* Values                                                                               */

static const char HEX_DIGITS[] = "0123456789abcdef";

/* A JSON string of UTF-8 `s`: `"` and `\` escaped, control characters as \b \t \n \f \r
 * or \u00XX (lower-case hex), everything else as it is. */
static int put_string_utf8(text *t, const char *s, size_t len)
{
    /* At worst every byte becomes six. */
    if (len > (PY_SSIZE_T_MAX - 2) / 6 || text_reserve(t, len * 6 + 2) < 0) {
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        return -1;
    }
    char *out = t->data + t->len;
    *out++ = '"';
    size_t run = 0; /* bytes since the last escape, copied in one go */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        memcpy(out, s + run, i - run);
        out += i - run;
        run = i + 1;
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\b': *out++ = 'b'; break;
        case '\t': *out++ = 't'; break;
        case '\n': *out++ = 'n'; break;
        case '\f': *out++ = 'f'; break;
        case '\r': *out++ = 'r'; break;
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = HEX_DIGITS[c >> 4];
            *out++ = HEX_DIGITS[c & 0xF];
        }
    }
    memcpy(out, s + run, len - run);
    out += len - run;
    *out++ = '"';
    t->len = (size_t)(out - t->data);
    return 0;
}

/* The UTF-8 of a str; NOT_MINE for one that has none (lone surrogates). */
static int utf8_of(PyObject *value, const char **s, Py_ssize_t *len)
{
    *s = PyUnicode_AsUTF8AndSize(value, len);
    if (*s != NULL) {
        return 0;
    }
    if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        PyErr_Clear();
        return NOT_MINE;
    }
    return -1;
}

static int put_str(text *t, PyObject *value)
{
    const char *s;
    Py_ssize_t len;
    int found = utf8_of(value, &s, &len);
    return found != 0 ? found : put_string_utf8(t, s, (size_t)len);
}

/* `value` in decimal at `out` (room for 20 characters); returns how many it wrote.
 * Written out by hand: snprintf cost more than the rest of formatting a time. */
static int format_unsigned(char *out, unsigned long long value)
{
    char reversed[20];
    int count = 0;
    do {
        reversed[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (int i = 0; i < count; i++) {
        out[i] = reversed[count - 1 - i];
    }
    return count;
}

/* `value` (below 10^width) as exactly `width` digits, zeros in front, at `out`. */
static void format_fixed(char *out, int value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

static int put_int(text *t, PyObject *value)
{
    int overflow = 0;
    long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow != 0) {
        return NOT_MINE; /* orjson takes up to 2**64 - 1; the reference decides */
    }
    if (number == -1 && PyErr_Occurred()) {
        return -1;
    }
    char digits[24];
    int size = 0;
    unsigned long long magnitude = (unsigned long long)number;
    if (number < 0) {
        digits[size++] = '-';
        magnitude = 0ULL - magnitude; /* also right for the most negative number */
    }
    size += format_unsigned(digits + size, magnitude);
    return text_put(t, digits, (size_t)size);
}

static int put_value(text *t, PyObject *value, int depth);

/* One member of a dict being sorted. */
typedef struct {
    const char *key;
    size_t key_len;
    PyObject *value; /* borrowed from the dict */
} member;

static int member_before(const member *a, const member *b)
{
    size_t common = a->key_len < b->key_len ? a->key_len : b->key_len;
    int order = memcmp(a->key, b->key, common);
    return order < 0 || (order == 0 && a->key_len < b->key_len);
}

/* Insertion sort for the few keys of most records, merge sort (stable, no recursion
 * limit of note: log2 of the size) above that. */
static void sort_members(member *items, member *spare, size_t count)
{
    if (count <= 16) {
        for (size_t i = 1; i < count; i++) {
            member item = items[i];
            size_t j = i;
            while (j > 0 && member_before(&item, &items[j - 1])) {
                items[j] = items[j - 1];
                j--;
            }
            items[j] = item;
        }
        return;
    }
    size_t half = count / 2;
    sort_members(items, spare, half);
    sort_members(items + half, spare, count - half);
    memcpy(spare, items, half * sizeof *items);
    size_t left = 0, right = half, out = 0;
    while (left < half && right < count) {
        if (member_before(&items[right], &spare[left])) {
            items[out++] = items[right++];
        } else {
            items[out++] = spare[left++];
        }
    }
    while (left < half) {
        items[out++] = spare[left++];
    }
}

static int put_dict(text *t, PyObject *dict, int depth)
{
    Py_ssize_t count = PyDict_GET_SIZE(dict);
    if (count == 0) {
        return TEXT_PUT_LITERAL(t, "{}");
    }
    member small[32];
    member *items = small;
    if (count > 16) {
        /* room for the members and the merge sort's spare half */
        items = PyMem_Malloc(((size_t)count + (size_t)count / 2 + 1) * sizeof *items);
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    int status = 0;
    Py_ssize_t position = 0, n = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &position, &key, &value)) {
        if (!PyUnicode_Check(key)) {
            status = NOT_MINE; /* orjson refuses other keys; the reference says how */
            goto done;
        }
        Py_ssize_t len;
        status = utf8_of(key, &items[n].key, &len);
        if (status != 0) {
            goto done;
        }
        items[n].key_len = (size_t)len;
        items[n].value = value;
        n++;
    }
    sort_members(items, items + count, (size_t)count);
    /* Keys and values are borrowed: nothing below runs Python code that could change
     * the dict (values are only read, and only exact containers are walked). */
    for (Py_ssize_t i = 0; i < count; i++) {
        if ((status = text_put(t, i == 0 ? "{" : ",", 1)) != 0 ||
            (status = put_string_utf8(t, items[i].key, items[i].key_len)) != 0 ||
            (status = text_put(t, ":", 1)) != 0 ||
            (status = put_value(t, items[i].value, depth + 1)) != 0) {
            goto done;
        }
    }
    status = text_put(t, "}", 1);
done:
    if (items != small) {
        PyMem_Free(items);
    }
    return status;
}

static int put_list(text *t, PyObject *list, int depth)
{
    Py_ssize_t count = PyList_GET_SIZE(list);
    if (count == 0) {
        return TEXT_PUT_LITERAL(t, "[]");
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        int status = text_put(t, i == 0 ? "[" : ",", 1);
        if (status == 0) {
            status = put_value(t, PyList_GET_ITEM(list, i), depth + 1);
        }
        if (status != 0) {
            return status;
        }
    }
    return text_put(t, "]", 1);
}

static int put_value(text *t, PyObject *value, int depth)
{
    if (depth > MAX_DEPTH) {
        return NOT_MINE;
    }
    if (value == Py_None) {
        return TEXT_PUT_LITERAL(t, "null");
    }
    if (value == Py_True) {
        return TEXT_PUT_LITERAL(t, "true");
    }
    if (value == Py_False) {
        return TEXT_PUT_LITERAL(t, "false");
    }
    if (PyUnicode_Check(value)) {
        return put_str(t, value);
    }
    if (PyLong_CheckExact(value)) {
        return put_int(t, value);
    }
    if (PyDict_CheckExact(value)) {
        return put_dict(t, value, depth);
    }
    if (PyList_CheckExact(value)) {
        return put_list(t, value, depth);
    }
    return NOT_MINE;
}

/* A head value the cut between the head's pieces relies on: a str or None. */
static int put_flat(text *t, PyObject *value)
{
    if (value == Py_None) {
        return TEXT_PUT_LITERAL(t, "null");
    }
    return PyUnicode_Check(value) ? put_str(t, value) : NOT_MINE;
}

/* ------------------------------------------------------------------------------------ */
/* Events                                                                               */

/* Attribute names, interned once when the module is imported. */
enum {
    A_EVENT, A_TENANT, A_SERVICE, A_CLASS,
    A_ORIGINAL, A_OCCURRED, A_SEVERITY, A_ACTOR, A_ACTION, A_SOURCE, A_OUTCOME,
    A_MESSAGE, A_LABELS, ATTRIBUTES
};
static const char *const ATTRIBUTE_NAMES[ATTRIBUTES] = {
    "event", "tenant_id", "service_id", "event_class",
    "original", "occurred_at", "severity", "actor", "action", "source_address", "outcome",
    "message", "labels",
};
static PyObject *attribute_names[ATTRIBUTES];

static int intern_attribute_names(void)
{
    for (int i = 0; i < ATTRIBUTES; i++) {
        attribute_names[i] = PyUnicode_InternFromString(ATTRIBUTE_NAMES[i]);
        if (attribute_names[i] == NULL) {
            return -1;
        }
    }
    return 0;
}

/* `occurred_at` as records.timestamp writes it, and its records.occurred_hour; NOT_MINE
 * for a time that is not an exact datetime in UTC. */
static int put_occurred(text *t, PyObject *moment, uint32_t *hour)
{
    *hour = NO_HOUR;
    if (moment == Py_None) {
        return TEXT_PUT_LITERAL(t, "null");
    }
    if (!PyDateTime_CheckExact(moment) ||
        PyDateTime_DATE_GET_TZINFO(moment) != PyDateTime_TimeZone_UTC) {
        return NOT_MINE;
    }
    int year = PyDateTime_GET_YEAR(moment), month = PyDateTime_GET_MONTH(moment);
    int day = PyDateTime_GET_DAY(moment), hours = PyDateTime_DATE_GET_HOUR(moment);
    /* "YYYY-MM-DDTHH:MM:SS.ffffffZ", quoted; a datetime's year has four digits */
    char stamp[] = "\"0000-00-00T00:00:00.000000Z\"";
    format_fixed(stamp + 1, year, 4);
    format_fixed(stamp + 6, month, 2);
    format_fixed(stamp + 9, day, 2);
    format_fixed(stamp + 12, hours, 2);
    format_fixed(stamp + 15, PyDateTime_DATE_GET_MINUTE(moment), 2);
    format_fixed(stamp + 18, PyDateTime_DATE_GET_SECOND(moment), 2);
    format_fixed(stamp + 21, PyDateTime_DATE_GET_MICROSECOND(moment), 6);
    int size = (int)sizeof stamp - 1;
    if (year >= 1970) {
        *hour = (uint32_t)(days_from_civil(year, month, day) * 24 + hours);
    }
    return text_put(t, stamp, (size_t)size);
}

/* The attributes of an event's item, fetched once (new references). */
typedef struct {
    PyObject *values[ATTRIBUTES];
} fields;

static void fields_clear(fields *f)
{
    for (int i = 0; i < ATTRIBUTES; i++) {
        Py_CLEAR(f->values[i]);
    }
}

static int fields_fetch(fields *f, PyObject *item)
{
    memset(f, 0, sizeof *f);
    PyObject *event = f->values[A_EVENT] = PyObject_GetAttr(item, attribute_names[A_EVENT]);
    if (event == NULL) {
        return -1;
    }
    for (int i = A_TENANT; i < ATTRIBUTES; i++) {
        PyObject *owner = i < A_ORIGINAL ? item : event;
        if ((f->values[i] = PyObject_GetAttr(owner, attribute_names[i])) == NULL) {
            fields_clear(f);
            return -1;
        }
    }
    return 0;
}

/* Where one event's parts lie in the shared text: its de-duplication scope
 * [scope, head), head [head, subject) cut at `cut`, subject and content [content, end). */
typedef struct {
    size_t scope, head, cut, subject, content, end;
    uint32_t hour;
} parts;

/* Write `f`'s head (cut before "service"), subject and content, in that order. */
static int put_event(text *t, const fields *f, parts *p)
{
    PyObject *const *v = f->values;
    int status;
    p->head = t->len;
    if ((status = TEXT_PUT_LITERAL(t, "{\"action\":")) != 0 ||
        (status = put_flat(t, v[A_ACTION])) != 0 ||
        (status = TEXT_PUT_LITERAL(t, ",\"class\":")) != 0 ||
        (status = put_flat(t, v[A_CLASS])) != 0 ||
        (status = TEXT_PUT_LITERAL(t, ",\"occurred_at\":")) != 0 ||
        (status = put_occurred(t, v[A_OCCURRED], &p->hour)) != 0 ||
        (status = TEXT_PUT_LITERAL(t, ",\"outcome\":")) != 0 ||
        (status = put_flat(t, v[A_OUTCOME])) != 0) {
        return status;
    }
    p->cut = t->len;
    if ((status = TEXT_PUT_LITERAL(t, ",\"service\":")) != 0 ||
        (status = put_value(t, v[A_SERVICE], 0)) != 0 ||
        (status = TEXT_PUT_LITERAL(t, ",\"severity\":")) != 0 ||
        (status = put_value(t, v[A_SEVERITY], 0)) != 0 ||
        (status = TEXT_PUT_LITERAL(t, ",\"tenant\":")) != 0 ||
        (status = put_value(t, v[A_TENANT], 0)) != 0 ||
        (status = TEXT_PUT_LITERAL(t, ",\"v\":1}")) != 0) {
        return status;
    }
    p->subject = t->len;
    if ((status = TEXT_PUT_LITERAL(t, "{\"actor\":")) != 0 ||
        (status = put_value(t, v[A_ACTOR], 1)) != 0 ||
        (status = TEXT_PUT_LITERAL(t, ",\"source_address\":")) != 0 ||
        (status = put_value(t, v[A_SOURCE], 1)) != 0 ||
        (status = TEXT_PUT_LITERAL(t, "}")) != 0) {
        return status;
    }
    p->content = t->len;
    /* records.encode stores dict(labels): an exact dict is encoded as it is, any other
     * mapping goes to the reference. */
    if (!PyDict_CheckExact(v[A_LABELS])) {
        return NOT_MINE;
    }
    if ((status = TEXT_PUT_LITERAL(t, "{\"labels\":")) != 0 ||
        (status = put_dict(t, v[A_LABELS], 1)) != 0 ||
        (status = TEXT_PUT_LITERAL(t, ",\"message\":")) != 0 ||
        (status = put_value(t, v[A_MESSAGE], 1)) != 0 ||
        (status = TEXT_PUT_LITERAL(t, ",\"original\":")) != 0 ||
        (status = put_value(t, v[A_ORIGINAL], 1)) != 0 ||
        (status = TEXT_PUT_LITERAL(t, "}")) != 0) {
        return status;
    }
    p->end = t->len;
    return 0;
}

/* The scope of a de-duplication key (records.dedup_scope): "<tenant or ->|<class>|".
 * NOT_MINE when the tenant or the class is not a str (the reference formats such values
 * its own way). */
static int put_scope(text *t, PyObject *tenant, PyObject *event_class)
{
    const char *tenant_text = "-", *class_text;
    Py_ssize_t tenant_len = 1, class_len;
    int status;
    if (tenant != Py_None) {
        if (!PyUnicode_Check(tenant)) {
            return NOT_MINE;
        }
        if ((status = utf8_of(tenant, &tenant_text, &tenant_len)) != 0) {
            return status;
        }
        if (tenant_len == 0) {
            tenant_text = "-";
            tenant_len = 1;
        }
    }
    if (!PyUnicode_Check(event_class)) {
        return NOT_MINE;
    }
    if ((status = utf8_of(event_class, &class_text, &class_len)) != 0) {
        return status;
    }
    if ((status = text_put(t, tenant_text, (size_t)tenant_len)) != 0 ||
        (status = text_put(t, "|", 1)) != 0 ||
        (status = text_put(t, class_text, (size_t)class_len)) != 0) {
        return status;
    }
    return text_put(t, "|", 1);
}

/* One event of a batch being encoded: where its parts are, and its tenant and class
 * (new references), or `fallback` set when the reference encodes it. */
typedef struct {
    parts p;
    PyObject *tenant, *event_class;
    int fallback;
} encoding;

/* Write the scope and parts of `item` at the end of `t`; NOT_MINE leaves `t` as it was. */
static int encode_into(text *t, PyObject *item, encoding *e)
{
    fields f;
    if (fields_fetch(&f, item) < 0) {
        return -1;
    }
    size_t start = t->len;
    e->p.scope = start;
    int status = put_scope(t, f.values[A_TENANT], f.values[A_CLASS]);
    if (status == 0) {
        status = put_event(t, &f, &e->p);
    }
    if (status == 0) {
        e->tenant = Py_NewRef(f.values[A_TENANT]);
        e->event_class = Py_NewRef(f.values[A_CLASS]);
    } else {
        t->len = start;
    }
    fields_clear(&f);
    return status;
}

/* The de-duplication keys of the encoded events, hour || BLAKE2b-96(scope || content)
 * (records.dedup_key), on the lanes of `kit` when there is one. */
static void hash_encoded_keys(const text *t, const encoding *events, size_t count,
                              uint8_t *keys, const lane_kit *kit)
{
    blake2b_ctx fresh;
    blake2b_init(&fresh, DEDUP_DIGEST_SIZE, NULL, 0);
#ifdef HAVE_SIMD
    if (kit != NULL) {
        lane_job jobs[DEDUP_GROUP];
        size_t queued = 0;
        for (size_t i = 0; i < count; i++) {
            const parts *p = &events[i].p;
            uint8_t *key = keys + (size_t)DEDUP_SIZE * i;
            if (events[i].fallback) {
                continue;
            }
            store_be32(key, p->hour);
            lane_job *job = &jobs[queued++];
            job->at[0] = (const uint8_t *)t->data + p->scope;
            job->len[0] = p->head - p->scope;
            job->at[1] = (const uint8_t *)t->data + p->content;
            job->len[1] = p->end - p->content;
            job->segments = 2;
            job->out = key + DEDUP_HOUR_SIZE;
            if (queued == DEDUP_GROUP) {
                blake2b_jobs_lanes(kit, &fresh, jobs, queued);
                queued = 0;
            }
        }
        if (queued > 0) {
            blake2b_jobs_lanes(kit, &fresh, jobs, queued);
        }
        return;
    }
#endif
    (void)kit;
    for (size_t i = 0; i < count; i++) {
        const parts *p = &events[i].p;
        uint8_t *key = keys + (size_t)DEDUP_SIZE * i;
        if (events[i].fallback) {
            continue;
        }
        blake2b_ctx ctx = fresh;
        store_be32(key, p->hour);
        blake2b_update(&ctx, (const uint8_t *)t->data + p->scope, p->head - p->scope);
        blake2b_update(&ctx, (const uint8_t *)t->data + p->content, p->end - p->content);
        blake2b_final(&ctx, key + DEDUP_HOUR_SIZE);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Encoded events                                                                       */

/* records.Encoded's fields, in its order: the struct sequence below is the same tuple. */
static PyStructSequence_Field ENCODED_FIELDS[] = {
    {"tenant_id", "the chunk's tenant (None: the provider)"},
    {"event_class", "the event class"},
    {"head_start", "the head up to where its position goes"},
    {"head_end", "the head from \"service\" on"},
    {"subject", "who and from where, as JSON"},
    {"content", "labels, message and original record, as JSON"},
    {"hour", "whole hours from 1970 to the time it occurred (0: unknown)"},
    {"dedup", "its de-duplication key"},
    {NULL, NULL},
};
#define ENCODED_FIELD_COUNT 8

static PyStructSequence_Desc ENCODED_DESC = {
    "mamori.ledger._native.EncodedEvent",
    "An event's stored parts and key, as records.Encoded holds them.",
    ENCODED_FIELDS,
    ENCODED_FIELD_COUNT,
};

static PyTypeObject *encoded_type;

/* The EncodedEvent of `e` (its tenant and class references are handed over), or NULL. */
static PyObject *encoded_event(const text *t, encoding *e, const uint8_t key[DEDUP_SIZE])
{
    PyObject *event = PyStructSequence_New(encoded_type);
    if (event == NULL) {
        return NULL;
    }
    PyStructSequence_SET_ITEM(event, 0, e->tenant);
    PyStructSequence_SET_ITEM(event, 1, e->event_class);
    e->tenant = e->event_class = NULL;
    const parts *p = &e->p;
    const size_t bounds[5] = {p->head, p->cut, p->subject, p->content, p->end};
    for (int i = 0; i < 4; i++) {
        PyObject *piece = PyBytes_FromStringAndSize(t->data + bounds[i],
                                                    (Py_ssize_t)(bounds[i + 1] - bounds[i]));
        if (piece == NULL) {
            Py_DECREF(event);
            return NULL;
        }
        PyStructSequence_SET_ITEM(event, 2 + i, piece);
    }
    PyObject *hour = PyLong_FromUnsignedLong(p->hour);
    PyObject *dedup = PyBytes_FromStringAndSize((const char *)key, DEDUP_SIZE);
    if (hour == NULL || dedup == NULL) {
        Py_XDECREF(hour);
        Py_XDECREF(dedup);
        Py_DECREF(event);
        return NULL;
    }
    PyStructSequence_SET_ITEM(event, 6, hour);
    PyStructSequence_SET_ITEM(event, 7, dedup);
    return event;
}

/* encode_events: every item encoded into one text, the keys hashed together, then each
 * event made; `fallback(item)` for the items the reference encodes. `items` is a tuple. */
static PyObject *encode_batch(PyObject *items, PyObject *fallback, const lane_kit *kit)
{
    Py_ssize_t count = PyTuple_GET_SIZE(items);
    PyObject *result = NULL;
    text t = {0};
    encoding *events = PyMem_Calloc(count ? (size_t)count : 1, sizeof *events);
    uint8_t *keys = PyMem_Malloc(count ? (size_t)count * DEDUP_SIZE : 1);
    if (events == NULL || keys == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        int status = encode_into(&t, PyTuple_GET_ITEM(items, i), &events[i]);
        if (status < 0) {
            goto done;
        }
        events[i].fallback = status == NOT_MINE;
    }
    hash_encoded_keys(&t, events, (size_t)count, keys, kit);
    if ((result = PyList_New(count)) == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *event =
            events[i].fallback
                ? PyObject_CallOneArg(fallback, PyTuple_GET_ITEM(items, i))
                : encoded_event(&t, &events[i], keys + (size_t)DEDUP_SIZE * i);
        if (event == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, event);
    }
done:
    if (events != NULL) {
        for (Py_ssize_t i = 0; i < count; i++) {
            Py_XDECREF(events[i].tenant);
            Py_XDECREF(events[i].event_class);
        }
    }
    PyMem_Free(events);
    PyMem_Free(keys);
    PyMem_Free(t.data);
    return result;
}
