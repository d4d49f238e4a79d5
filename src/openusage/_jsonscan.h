/* openusage/_jsonscan.h: strict JSON scanning for the compiled line parsers (included, not a module).
 *
 * What a parser that answers a line only when its meaning is plain needs from JSON: whitespace,
 * strings checked byte by byte (RFC 8259 escapes, strict UTF-8: no overlongs, no surrogates, nothing
 * past U+10FFFF, no control characters; a `\u` escape of a surrogate refused, since the decoders
 * differ on lone ones), numbers checked to the grammar and told apart as integer or not, the three
 * literals, and an integer's value when it has at most 18 digits. Each function returns 0 or, for
 * anything it does not accept, -1: the caller then hands the line to its pure-Python reference.
 * Which keys matter, and what a line means, stays in each parser.
 *
 * Included by providers/kimi_code/_journal.c and providers/kimi_cli/_wire.c. (codex_cli/_rollout.c
 * keeps its own ASCII-only scanner, with a 16-byte SSE2 string loop: Codex lines are ASCII.)
 */
#ifndef OPENUSAGE_JSONSCAN_H
#define OPENUSAGE_JSONSCAN_H

#include <Python.h>
#include <string.h>

#define JS_MAX_DIGITS 18 /* an integer of at most 18 digits fits in a long long */

/* What a value is; STR_ESC: a string holding an escape (its raw span is not its text). */
enum kind { ABSENT = 0, STR, STR_ESC, INT, FLOAT, LITERAL_NULL, LITERAL_BOOL, OBJ, ARR };

typedef struct {
    enum kind kind;
    const unsigned char *s; /* a string's content (without quotes), a number's text, a container's span */
    Py_ssize_t n;
} Val;

/* JSON's whitespace (space, tab, newline, carriage return), and the bytes a string's fast loop stops
 * at (the closing quote, a backslash, a control character, any byte of a multi-byte sequence). Filled
 * by js_fill_tables() when the including module is initialised. */
static unsigned char js_is_ws[256];
static unsigned char js_string_stop[256];

static void js_fill_tables(void)
{
    for (int c = 0; c < 256; c++) {
        js_string_stop[c] = (c < 0x20 || c == '"' || c == '\\' || c >= 0x80);
        js_is_ws[c] = (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    }
}

static inline const unsigned char *js_skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && js_is_ws[*p]) p++;
    return p;
}

static inline int js_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One UTF-8 sequence starting at a byte >= 0x80, strictly (what Python's decoder accepts). Returns
 * its length, or 0 when it is not valid. */
static inline int js_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    Py_ssize_t left = end - p;
    if (c >= 0xC2 && c <= 0xDF) return (left >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && p[1] >= 0xA0) return 0; /* a surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0; /* overlong */
        if (c == 0xF4 && p[1] >= 0x90) return 0; /* beyond U+10FFFF */
        return 4;
    }
    return 0;
}

/* A string whose opening quote is at *pp; *pp moves past the closing quote. `out` (may be NULL) gets
 * STR or STR_ESC and the raw content's span. */
static int js_string(const unsigned char **pp, const unsigned char *end, Val *out)
{
    const unsigned char *p = *pp + 1, *start = p;
    int escaped = 0;
    for (;;) {
        while (end - p >= 4 &&
               !(js_string_stop[p[0]] | js_string_stop[p[1]] | js_string_stop[p[2]] | js_string_stop[p[3]]))
            p += 4;
        while (p < end && !js_string_stop[*p]) p++;
        if (p >= end) return -1;
        unsigned char c = *p;
        if (c == '"') break;
        if (c < 0x20) return -1;
        if (c == '\\') {
            escaped = 1;
            if (p + 1 >= end) return -1;
            unsigned char e = p[1];
            if (e == 'u') {
                if (end - p < 6) return -1;
                int h0 = js_hexval(p[2]), h1 = js_hexval(p[3]), h2 = js_hexval(p[4]), h3 = js_hexval(p[5]);
                if ((h0 | h1 | h2 | h3) < 0) return -1;
                int code = (h0 << 12) | (h1 << 8) | (h2 << 4) | h3;
                if (code >= 0xD800 && code <= 0xDFFF) return -1;
                p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                       e == 't') {
                p += 2;
            } else {
                return -1;
            }
            continue;
        }
        int len = js_utf8_len(p, end); /* c >= 0x80 */
        if (len == 0) return -1;
        p += len;
    }
    if (out != NULL) {
        out->kind = escaped ? STR_ESC : STR;
        out->s = start;
        out->n = p - start;
    }
    *pp = p + 1;
    return 0;
}

/* A number at *pp, to the grammar; `out` gets INT (no fraction, no exponent) or FLOAT and its text. */
static int js_number(const unsigned char **pp, const unsigned char *end, Val *out)
{
    const unsigned char *p = *pp, *start = *pp;
    int is_float = 0;
    if (p < end && *p == '-') p++;
    if (p >= end) return -1;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return -1;
    }
    if (p < end && *p == '.') {
        is_float = 1;
        p++;
        if (p >= end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_float = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return -1;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    out->kind = is_float ? FLOAT : INT;
    out->s = start;
    out->n = p - start;
    *pp = p;
    return 0;
}

static inline int js_literal(const unsigned char **pp, const unsigned char *end, const char *word, Py_ssize_t n)
{
    if (end - *pp < n || memcmp(*pp, word, (size_t)n) != 0) return -1;
    *pp += n;
    return 0;
}

/* Whether a key's (or a plain string's) raw span is `name`. */
static inline int js_is(const Val *v, const char *name)
{
    size_t n = strlen(name);
    return (size_t)v->n == n && memcmp(v->s, name, n) == 0;
}

/* An integer's text (INT kind) as a long long ("-0" is 0, as the decoders read it); -1 when it has
 * more than JS_MAX_DIGITS digits. */
static int js_int_value(const Val *v, long long *value)
{
    const unsigned char *p = v->s, *end = v->s + v->n;
    int negative = 0;
    if (*p == '-') {
        negative = 1;
        p++;
    }
    if (end - p > JS_MAX_DIGITS) return -1;
    long long x = 0;
    for (; p < end; p++) x = x * 10 + (*p - '0');
    *value = negative ? -x : x;
    return 0;
}

/* `x` in decimal at `out` (room for 20 bytes), as Python's repr of an int writes it; returns the end. */
static inline char *js_put_int(char *out, long long x)
{
    char digits[24];
    int nd = 0;
    unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
    do {
        digits[nd++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (x < 0) *out++ = '-';
    while (nd) *out++ = digits[--nd];
    return out;
}

#endif /* OPENUSAGE_JSONSCAN_H */
