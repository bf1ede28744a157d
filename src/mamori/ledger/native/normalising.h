/* normalising.h: free-form JSON records as IncomingEvents (formats.base.record_to_event).
 * Part of ../_native.c, which includes these files once, in order, as one
 * translation unit: every function stays static and inlinable.
 *
 * The keys, names and words come from Python in a plan (formats.base.NATIVE_PLAN); the
 * rules here are those of record_to_event, for the values a shipper usually sends:
 * strings, integers and booleans in exact dicts and lists, times as ISO 8601 text in UTC
 * (YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z]). Anything else (a number for a text field, an
 * epoch time, a time with an offset, non-ASCII severity words...) makes the record
 * NOT_MINE, and record_to_event, the reference, normalises it instead. */

/* The plan's items, in order (see formats.base.NATIVE_PLAN). */
enum {
    P_EVENT_TYPE,  /* IncomingEvent */
    P_LABELS,      /* ((label, keys), ...) */
    P_MESSAGE,     /* keys: ((key, parts or None), ...) */
    P_TIME,
    P_SEVERITY,
    P_ACTOR,
    P_ACTION,
    P_SOURCE,
    P_OUTCOME,
    P_SEVERITY_NAMES, /* {lower-case name: Severity} */
    P_SYSLOG,         /* (Severity, ...) by syslog number */
    P_DECADES,        /* {10: Severity, ...} */
    P_SUCCESS_WORDS,  /* frozenset */
    P_FAILURE_WORDS,
    P_DEFAULT_SEVERITY,
    P_SUCCESS,
    P_FAILURE,
    P_UNKNOWN,
    P_MESSAGE_KEY, /* "message" */
    PLAN_SIZE
};

/* A value found under a key: a new reference, NULL when absent (or None, the same to the
 * rules). References are held throughout: looking a key up may compare it with a key of
 * another type, which runs Python code that could change the record. */
static int find_key(PyObject *record, PyObject *key, PyObject *parts, PyObject **found)
{
    PyObject *value = PyDict_GetItemWithError(record, key);
    *found = NULL;
    if (value != NULL) {
        *found = Py_NewRef(value);
        return 0;
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    if (parts == Py_None) {
        return 0;
    }
    /* A dotted key walks nested objects (formats.base._walk). */
    PyObject *node = Py_NewRef(record);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(parts); i++) {
        if (!PyDict_CheckExact(node)) {
            int mine = PyUnicode_CheckExact(node) || PyLong_CheckExact(node) ||
                       PyBool_Check(node) || PyFloat_CheckExact(node) ||
                       PyList_CheckExact(node) || node == Py_None;
            Py_DECREF(node);
            return mine ? 0 : NOT_MINE; /* not a mapping: nothing there; or another type */
        }
        PyObject *next = PyDict_GetItemWithError(node, PyTuple_GET_ITEM(parts, i));
        Py_XINCREF(next);
        Py_DECREF(node);
        if (next == NULL) {
            return PyErr_Occurred() ? -1 : 0;
        }
        node = next;
    }
    *found = node;
    return 0;
}

/* formats.base.first_value: the first present, non-empty scalar among `keys` (a new
 * reference, NULL when there is none). */
static int first_scalar(PyObject *record, PyObject *keys, PyObject **chosen)
{
    *chosen = NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++) {
        PyObject *entry = PyTuple_GET_ITEM(keys, i);
        PyObject *value;
        int status = find_key(record, PyTuple_GET_ITEM(entry, 0), PyTuple_GET_ITEM(entry, 1),
                              &value);
        if (status != 0) {
            return status;
        }
        if (value == NULL) {
            continue;
        }
        int skip = value == Py_None || PyDict_CheckExact(value) || PyList_CheckExact(value) ||
                   (PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) == 0);
        int scalar = PyUnicode_CheckExact(value) || PyBool_Check(value) ||
                     PyLong_CheckExact(value) || PyFloat_CheckExact(value);
        if (skip || !scalar) {
            Py_DECREF(value);
            if (skip) {
                continue;
            }
            return NOT_MINE;
        }
        *chosen = value;
        return 0;
    }
    return 0;
}

/* text_of(first_value(...)) when that is a str or nothing (""); NOT_MINE for a number,
 * which the reference writes as JSON. A new reference. */
static int text_field(PyObject *record, PyObject *keys, PyObject *empty, PyObject **text)
{
    PyObject *chosen;
    int status = first_scalar(record, keys, &chosen);
    if (status != 0) {
        return status;
    }
    if (chosen == NULL) {
        *text = Py_NewRef(empty);
        return 0;
    }
    if (!PyUnicode_CheckExact(chosen)) {
        Py_DECREF(chosen);
        return NOT_MINE;
    }
    *text = chosen;
    return 0;
}

/* str.isspace() of an ASCII character: \t \n \v \f \r, \x1c-\x1f and the space. */
static int ascii_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Python's str.strip() of an ASCII str: where its text starts and how long it is;
 * NOT_MINE for a str that is not ASCII. */
static int ascii_stripped(PyObject *value, const char **text, size_t *len)
{
    if (!PyUnicode_IS_ASCII(value)) {
        return NOT_MINE;
    }
    const char *s = (const char *)PyUnicode_DATA(value);
    size_t n = (size_t)PyUnicode_GET_LENGTH(value);
    while (n > 0 && ascii_space(s[0])) {
        s++;
        n--;
    }
    while (n > 0 && ascii_space(s[n - 1])) {
        n--;
    }
    *text = s;
    *len = n;
    return 0;
}

/* Python's str.strip() and str.lower() of ASCII text, into `out` (at most WORD_MAX
 * bytes); NOT_MINE for text that is not ASCII or is longer. */
#define WORD_MAX 64
static int ascii_word(PyObject *value, char *out, size_t *len)
{
    const char *s;
    size_t n;
    if (ascii_stripped(value, &s, &n) != 0 || n > WORD_MAX) {
        return NOT_MINE;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    }
    *len = n;
    return 0;
}

/* The number of a word of ASCII digits (at most 18 of them), or -1. */
static long long digits_value(const char *word, size_t len)
{
    if (len == 0 || len > 18) {
        return -1;
    }
    long long number = 0;
    for (size_t i = 0; i < len; i++) {
        if (word[i] < '0' || word[i] > '9') {
            return -1;
        }
        number = number * 10 + (word[i] - '0');
    }
    return number;
}

/* formats.base.severity_from(chosen) or the default (a borrowed Severity). */
static int severity_of(PyObject *chosen, PyObject *plan, PyObject **severity)
{
    int status = 0;
    PyObject *fallback = PyTuple_GET_ITEM(plan, P_DEFAULT_SEVERITY);
    PyObject *syslog = PyTuple_GET_ITEM(plan, P_SYSLOG);
    *severity = fallback;
    if (chosen == NULL || PyBool_Check(chosen) || PyFloat_CheckExact(chosen)) {
        return 0;
    }
    long long number;
    if (PyUnicode_CheckExact(chosen)) {
        char word[WORD_MAX];
        size_t len;
        if ((status = ascii_word(chosen, word, &len)) != 0) {
            return status;
        }
        if (len > 0 && word[0] >= '0' && word[0] <= '9') {
            number = digits_value(word, len);
            if (number < 0 && len > 18) {
                /* a long run of digits: the reference's int() decides */
                int all_digits = 1;
                for (size_t i = 0; i < len; i++) {
                    all_digits &= word[i] >= '0' && word[i] <= '9';
                }
                if (all_digits) {
                    return NOT_MINE;
                }
            }
            if (number >= 0) {
                goto numbered;
            }
        }
        PyObject *name = PyUnicode_FromStringAndSize(word, (Py_ssize_t)len);
        if (name == NULL) {
            return -1;
        }
        PyObject *named = PyDict_GetItemWithError(PyTuple_GET_ITEM(plan, P_SEVERITY_NAMES), name);
        Py_DECREF(name);
        if (named == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (named != NULL) {
            *severity = named;
        }
        return 0;
    }
    /* an exact int */
    {
        int overflow = 0;
        number = PyLong_AsLongLongAndOverflow(chosen, &overflow);
        if (number == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (overflow != 0) {
            return 0; /* in no table */
        }
    }
numbered:
    if (number >= 0 && number < PyTuple_GET_SIZE(syslog)) {
        *severity = PyTuple_GET_ITEM(syslog, number);
        return 0;
    }
    {
        PyObject *key = PyLong_FromLongLong(number);
        if (key == NULL) {
            return -1;
        }
        PyObject *level = PyDict_GetItemWithError(PyTuple_GET_ITEM(plan, P_DECADES), key);
        Py_DECREF(key);
        if (level == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (level != NULL) {
            *severity = level;
        }
    }
    return 0;
}

/* formats.base.outcome_from(chosen) or UNKNOWN (a borrowed Outcome). */
static int outcome_of(PyObject *chosen, PyObject *plan, PyObject **outcome)
{
    int status = 0;
    PyObject *success = PyTuple_GET_ITEM(plan, P_SUCCESS);
    PyObject *failure = PyTuple_GET_ITEM(plan, P_FAILURE);
    *outcome = PyTuple_GET_ITEM(plan, P_UNKNOWN);
    if (chosen == NULL || PyFloat_CheckExact(chosen)) {
        return 0;
    }
    if (PyBool_Check(chosen)) {
        *outcome = chosen == Py_True ? success : failure;
        return 0;
    }
    long long status_code;
    if (PyUnicode_CheckExact(chosen)) {
        char word[WORD_MAX];
        size_t len;
        if ((status = ascii_word(chosen, word, &len)) != 0) {
            return status;
        }
        status_code = digits_value(word, len);
        if (status_code < 0) {
            if (len > 18 && word[0] >= '0' && word[0] <= '9') {
                return NOT_MINE; /* perhaps a long run of digits: the reference decides */
            }
            PyObject *text = PyUnicode_FromStringAndSize(word, (Py_ssize_t)len);
            if (text == NULL) {
                return -1;
            }
            int succeeded = PySet_Contains(PyTuple_GET_ITEM(plan, P_SUCCESS_WORDS), text);
            int failed = succeeded ? 0 : PySet_Contains(PyTuple_GET_ITEM(plan, P_FAILURE_WORDS), text);
            Py_DECREF(text);
            if (succeeded < 0 || failed < 0) {
                return -1;
            }
            if (succeeded || failed) {
                *outcome = succeeded ? success : failure;
            }
            return 0;
        }
    } else {
        int overflow = 0;
        status_code = PyLong_AsLongLongAndOverflow(chosen, &overflow);
        if (status_code == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (overflow != 0) {
            return 0;
        }
    }
    if (status_code >= 100 && status_code < 600) {
        *outcome = status_code < 400 ? success : failure;
    }
    return 0;
}

/* The severity (borrowed) of the first scalar under the severity keys. */
static int severity_field(PyObject *record, PyObject *plan, PyObject **severity)
{
    PyObject *chosen;
    int status = first_scalar(record, PyTuple_GET_ITEM(plan, P_SEVERITY), &chosen);
    if (status == 0) {
        status = severity_of(chosen, plan, severity);
    }
    Py_XDECREF(chosen);
    return status;
}

/* The outcome (borrowed) of the first scalar under the outcome keys. */
static int outcome_field(PyObject *record, PyObject *plan, PyObject **outcome)
{
    PyObject *chosen;
    int status = first_scalar(record, PyTuple_GET_ITEM(plan, P_OUTCOME), &chosen);
    if (status == 0) {
        status = outcome_of(chosen, plan, outcome);
    }
    Py_XDECREF(chosen);
    return status;
}

/* Digits at s[0..count) as a number, or -1. */
static int fixed_digits(const char *s, int count)
{
    int number = 0;
    for (int i = 0; i < count; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        number = number * 10 + (s[i] - '0');
    }
    return number;
}

static int days_in_month(int year, int month)
{
    static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return DAYS[month - 1] + (month == 2 && leap);
}

/* An aware UTC datetime of ISO 8601 text in UTC, as formats.base.parse_time reads it, or
 * NOT_MINE for text in any other shape. A new reference in *moment. */
static int utc_time(PyObject *value, PyObject **moment)
{
    const char *s;
    size_t stripped;
    if (ascii_stripped(value, &s, &stripped) != 0) {
        return NOT_MINE;
    }
    Py_ssize_t n = (Py_ssize_t)stripped;
    /* YYYY-MM-DD?HH:MM:SS */
    if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':') {
        return NOT_MINE;
    }
    int year = fixed_digits(s, 4), month = fixed_digits(s + 5, 2), day = fixed_digits(s + 8, 2);
    int hour = fixed_digits(s + 11, 2), minute = fixed_digits(s + 14, 2);
    int second = fixed_digits(s + 17, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59 || second < 0 || second > 59 ||
        day > days_in_month(year, month)) {
        return NOT_MINE;
    }
    Py_ssize_t at = 19;
    int micros = 0;
    if (at < n && (s[at] == '.' || s[at] == ',')) {
        Py_ssize_t start = ++at;
        while (at < n && s[at] >= '0' && s[at] <= '9') {
            if (at - start < 6) {
                micros = micros * 10 + (s[at] - '0');
            }
            at++;
        }
        if (at == start) {
            return NOT_MINE;
        }
        for (Py_ssize_t kept = at - start; kept < 6; kept++) {
            micros *= 10;
        }
    }
    if (at < n && (s[at] == 'Z' || s[at] == 'z')) {
        at++;
    }
    if (at != n) {
        return NOT_MINE; /* an offset, a space before the zone, or other text */
    }
    *moment = PyDateTimeAPI->DateTime_FromDateAndTime(year, month, day, hour, minute, second,
                                                      micros, PyDateTime_TimeZone_UTC,
                                                      PyDateTimeAPI->DateTimeType);
    return *moment == NULL ? -1 : 0;
}

/* formats.base._first_time: the first time key whose value reads as a time. */
static int time_field(PyObject *record, PyObject *keys, PyObject **moment)
{
    *moment = NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++) {
        PyObject *entry = PyTuple_GET_ITEM(keys, i);
        PyObject *value;
        int status = find_key(record, PyTuple_GET_ITEM(entry, 0), PyTuple_GET_ITEM(entry, 1),
                              &value);
        if (status != 0) {
            return status;
        }
        if (value == NULL) {
            continue;
        }
        if (value == Py_None || PyBool_Check(value) || PyDict_CheckExact(value) ||
            PyList_CheckExact(value)) {
            Py_DECREF(value);
            continue; /* parse_time gives None: the next key */
        }
        /* epoch numbers and the rest go to the reference */
        status = PyUnicode_CheckExact(value) ? utc_time(value, moment) : NOT_MINE;
        Py_DECREF(value);
        return status;
    }
    *moment = Py_NewRef(Py_None);
    return 0;
}

/* The labels record_to_event finds (a new dict), or NOT_MINE for a number among them. */
static int label_fields(PyObject *record, PyObject *plan, PyObject **labels)
{
    PyObject *found = PyDict_New();
    if (found == NULL) {
        return -1;
    }
    PyObject *entries = PyTuple_GET_ITEM(plan, P_LABELS);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(entries); i++) {
        PyObject *entry = PyTuple_GET_ITEM(entries, i);
        PyObject *chosen;
        int status = first_scalar(record, PyTuple_GET_ITEM(entry, 1), &chosen);
        if (status == 0 && chosen != NULL) {
            status = PyUnicode_CheckExact(chosen)
                         ? PyDict_SetItem(found, PyTuple_GET_ITEM(entry, 0), chosen)
                         : NOT_MINE;
        }
        Py_XDECREF(chosen);
        if (status != 0) {
            Py_DECREF(found);
            return status;
        }
    }
    *labels = found;
    return 0;
}

/* The message: first_value of its keys, else whatever "message" holds, as text. */
static int message_field(PyObject *record, PyObject *plan, PyObject *empty, PyObject **message)
{
    PyObject *chosen;
    int status = first_scalar(record, PyTuple_GET_ITEM(plan, P_MESSAGE), &chosen);
    if (status != 0) {
        return status;
    }
    if (chosen == NULL) {
        status = find_key(record, PyTuple_GET_ITEM(plan, P_MESSAGE_KEY), Py_None, &chosen);
        if (status != 0) {
            return status;
        }
        if (chosen == NULL || chosen == Py_None) {
            Py_XDECREF(chosen);
            *message = Py_NewRef(empty);
            return 0;
        }
    }
    if (!PyUnicode_CheckExact(chosen)) {
        Py_DECREF(chosen);
        return NOT_MINE;
    }
    *message = chosen;
    return 0;
}

/* An IncomingEvent of one record, Py_None (a new reference) when it is NOT_MINE, or NULL
 * with an exception. Its fields are set as the frozen dataclass's own __init__ sets them
 * (object.__setattr__), without the cost of calling it. */
static PyObject *normalise_record(PyObject *record, PyObject *plan, PyObject *empty,
                                  PyObject *no_args)
{
    if (!PyDict_CheckExact(record)) {
        Py_RETURN_NONE;
    }
    enum { F_ORIGINAL, F_OCCURRED, F_SEVERITY, F_ACTOR, F_ACTION, F_SOURCE, F_OUTCOME,
           F_MESSAGE, F_LABELS, FIELDS };
    PyObject *values[FIELDS] = {NULL};
    PyObject *severity = NULL, *outcome = NULL, *event = NULL;
    int status;
    /* The severity and the outcome are taken (referenced) as soon as they are found: the
     * lookups after them may run Python code that changes the plan's tables. */
    if ((status = time_field(record, PyTuple_GET_ITEM(plan, P_TIME), &values[F_OCCURRED])) != 0 ||
        (status = severity_field(record, plan, &severity)) != 0 ||
        (values[F_SEVERITY] = Py_NewRef(severity)) == NULL ||
        (status = text_field(record, PyTuple_GET_ITEM(plan, P_ACTOR), empty, &values[F_ACTOR])) != 0 ||
        (status = text_field(record, PyTuple_GET_ITEM(plan, P_ACTION), empty, &values[F_ACTION])) != 0 ||
        (status = text_field(record, PyTuple_GET_ITEM(plan, P_SOURCE), empty, &values[F_SOURCE])) != 0 ||
        (status = outcome_field(record, plan, &outcome)) != 0 ||
        (values[F_OUTCOME] = Py_NewRef(outcome)) == NULL ||
        (status = message_field(record, plan, empty, &values[F_MESSAGE])) != 0 ||
        (status = label_fields(record, plan, &values[F_LABELS])) != 0) {
        goto done;
    }
    values[F_ORIGINAL] = Py_NewRef(record);
    PyTypeObject *type = (PyTypeObject *)PyTuple_GET_ITEM(plan, P_EVENT_TYPE);
    event = type->tp_new(type, no_args, NULL);
    if (event == NULL) {
        status = -1;
        goto done;
    }
    for (int i = 0; i < FIELDS; i++) {
        if (PyObject_GenericSetAttr(event, attribute_names[A_ORIGINAL + i], values[i]) < 0) {
            Py_CLEAR(event);
            status = -1;
            goto done;
        }
    }
done:
    for (int i = 0; i < FIELDS; i++) {
        Py_XDECREF(values[i]);
    }
    if (status < 0) {
        return NULL;
    }
    if (status == NOT_MINE) {
        Py_XDECREF(event);
        Py_RETURN_NONE;
    }
    return event;
}

/* Check the plan's shape once per call: the code above reads it without checks. */
static int check_plan(PyObject *plan)
{
    if (!PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) != PLAN_SIZE ||
        !PyType_Check(PyTuple_GET_ITEM(plan, P_EVENT_TYPE)) ||
        !PyDict_Check(PyTuple_GET_ITEM(plan, P_SEVERITY_NAMES)) ||
        !PyTuple_Check(PyTuple_GET_ITEM(plan, P_SYSLOG)) ||
        !PyDict_Check(PyTuple_GET_ITEM(plan, P_DECADES)) ||
        !PyAnySet_Check(PyTuple_GET_ITEM(plan, P_SUCCESS_WORDS)) ||
        !PyAnySet_Check(PyTuple_GET_ITEM(plan, P_FAILURE_WORDS)) ||
        !PyTuple_Check(PyTuple_GET_ITEM(plan, P_LABELS)) ||
        !PyUnicode_CheckExact(PyTuple_GET_ITEM(plan, P_MESSAGE_KEY))) {
        PyErr_SetString(PyExc_TypeError, "not a normalising plan (formats.base.NATIVE_PLAN)");
        return -1;
    }
    if (((PyTypeObject *)PyTuple_GET_ITEM(plan, P_EVENT_TYPE))->tp_new == NULL) {
        PyErr_SetString(PyExc_TypeError, "the plan's event type cannot be instantiated");
        return -1;
    }
    const int key_lists[] = {P_MESSAGE, P_TIME, P_SEVERITY, P_ACTOR, P_ACTION, P_SOURCE,
                             P_OUTCOME};
    PyObject *labels = PyTuple_GET_ITEM(plan, P_LABELS);
    Py_ssize_t lists = (Py_ssize_t)(sizeof key_lists / sizeof key_lists[0]);
    for (Py_ssize_t i = 0; i < lists + PyTuple_GET_SIZE(labels); i++) {
        PyObject *keys;
        if (i < lists) {
            keys = PyTuple_GET_ITEM(plan, key_lists[i]);
        } else {
            PyObject *label = PyTuple_GET_ITEM(labels, i - lists);
            if (!PyTuple_Check(label) || PyTuple_GET_SIZE(label) != 2 ||
                !PyUnicode_Check(PyTuple_GET_ITEM(label, 0))) {
                PyErr_SetString(PyExc_TypeError, "a plan label is not (label, keys)");
                return -1;
            }
            keys = PyTuple_GET_ITEM(label, 1);
        }
        if (!PyTuple_Check(keys)) {
            PyErr_SetString(PyExc_TypeError, "a plan's keys must be a tuple");
            return -1;
        }
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keys); k++) {
            PyObject *entry = PyTuple_GET_ITEM(keys, k);
            if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2 ||
                !PyUnicode_Check(PyTuple_GET_ITEM(entry, 0)) ||
                (PyTuple_GET_ITEM(entry, 1) != Py_None &&
                 !PyTuple_Check(PyTuple_GET_ITEM(entry, 1)))) {
                PyErr_SetString(PyExc_TypeError, "a plan key is not (key, parts or None)");
                return -1;
            }
        }
    }
    return 0;
}
