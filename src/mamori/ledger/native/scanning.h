/* scanning.h: a look over a JSON body before orjson reads it whole
 * (formats.json_records.records_at_once). Part of ../_native.c, included once.
 *
 * orjson reads an integer beyond 64 bits as a float, where the record-by-record scanner
 * keeps it exact; such a body is left to the scanner. The test is a run of LONG_DIGITS
 * or more ASCII digits outside JSON strings: every integer of 64 bits or more has one,
 * and so, harmlessly, do a few others (a long fraction or exponent). Strings are skipped
 * with their escapes; in a body that is not JSON the answer does not matter, as orjson
 * refuses it anyway. */

enum { LONG_DIGITS = 19 }; /* 10**18 and above: the first with 19 digits */

/* The offset of the quote that closes the string whose text starts at `from` (size when
 * it is not closed): the first quote after an even number of backslashes. memchr finds
 * the quotes, most of a log body being the text of strings. */
static Py_ssize_t closing_quote(const unsigned char *text, Py_ssize_t from, Py_ssize_t size)
{
    while (from < size) {
        const unsigned char *quote = memchr(text + from, '"', (size_t)(size - from));
        if (quote == NULL) {
            return size;
        }
        Py_ssize_t at = quote - text, slashes = 0;
        while (at - slashes > from && text[at - slashes - 1] == '\\') {
            slashes++;
        }
        if (slashes % 2 == 0) {
            return at;
        }
        from = at + 1;
    }
    return size;
}

/* The offset of the first run of LONG_DIGITS digits outside strings, or -1. */
static Py_ssize_t long_digit_run(const unsigned char *text, Py_ssize_t size)
{
    Py_ssize_t run = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char c = text[i];
        if (c >= '0' && c <= '9') {
            if (++run == LONG_DIGITS) {
                return i + 1 - LONG_DIGITS;
            }
            continue;
        }
        run = 0;
        if (c != '"') {
            continue;
        }
        i = closing_quote(text, i + 1, size);
    }
    return -1;
}
