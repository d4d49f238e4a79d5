/* openusage.providers.codex_cli._rollout: the compiled fast path for Codex CLI's `token_count` lines.
 *
 * `Lines(records, skipped, tally, state, fallback, record_type, reemitted)` is a callable the candidate
 * reader hands every candidate line to. A line of the one shape almost every candidate has (an
 * `event_msg` whose payload is a `token_count` with an `info` holding both usage objects, all five
 * counts plain whole numbers, a UTC timestamp in Codex's own format, the whole line valid ASCII JSON)
 * is read here, and its record built here, by the same rules as rollout.py; so is a `turn_context`
 * naming its model as a plain ASCII string. Any other line (a `session_meta` among them), or any
 * doubt (an escape in a key, a duplicate key, a number with a fraction or over 2**53 - 1, a model on
 * the event, deep nesting, a byte over 0x7f, a timestamp in another form...), goes to
 * `fallback(line, tally, state)`, the pure-Python parser (rollout.parse_line), which is the reference:
 * nothing is changed before that decision, so a deferred line is read exactly as on the pure path.
 * A re-emit goes there too when its time may move the call it repeats (rollout._reemit): rare, since
 * a re-emit is written after its original.
 * tests/test_codex_cli_fastpath.py holds the two paths equal over fuzzed and generated files.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define ROLLOUT_SSE2 1
#endif

/* Bumped whenever the contract with rollout.py changes: a stale build is refused there. */
#define ROLLOUT_VERSION 3
#define MAX_COUNT 9007199254740991LL /* 2**53 - 1: a larger count is left to rollout.py, which keeps it whole */
#define MAX_DEPTH 64                 /* deeper values go to the pure parser, which judges them */

typedef struct {
    const unsigned char *p, *end;
} Cur;

/* A usage object's five counts, in rollout.Usage's order. */
typedef struct {
    long long v[5];
} Usage;

static inline void ws(Cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static inline int is_hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
}

/* A string at c->p (its opening quote); ASCII only, escapes checked. Sets [*s, *e) to its raw
 * contents and *escaped when it holds a backslash. 0, or -1: not read here. */
static int string(Cur *c, const unsigned char **s, const unsigned char **e, int *escaped)
{
    if (c->p >= c->end || *c->p != '"')
        return -1;
    const unsigned char *p = ++c->p, *end = c->end;
    int esc = 0;
    while (p < end) {
#ifdef ROLLOUT_SSE2
        /* 16 bytes at a time up to the first that is not plain (a quote, a backslash, a control
         * character or a byte over 0x7f: signed, those two are the bytes below 0x20) */
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            __m128i odd = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                       _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            unsigned mask = (unsigned)_mm_movemask_epi8(odd);
            if (mask) {
                p += __builtin_ctz(mask);
                break;
            }
            p += 16;
        }
        if (p >= end)
            break;
#endif
        unsigned char ch = *p;
        if (ch == '"') {
            *s = c->p;
            *e = p;
            *escaped = esc;
            c->p = p + 1;
            return 0;
        }
        if (ch < 0x20 || ch >= 0x80)
            return -1;
        if (ch == '\\') {
            esc = 1;
            if (++p >= end)
                return -1;
            ch = *p;
            if (ch == 'u') {
                if (end - p < 5 || !is_hex(p[1]) || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]))
                    return -1;
                p += 4;
            } else if (!strchr("\"\\/bfnrt", ch) || ch == 0) {
                return -1;
            }
        }
        p++;
    }
    return -1;
}

static int skip_number(Cur *c)
{
    const unsigned char *p = c->p, *end = c->end;
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return -1;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return -1;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return -1;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return -1;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    c->p = p;
    return 0;
}

static int literal(Cur *c, const char *word, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return -1;
    c->p += n;
    return 0;
}

static int skip_value(Cur *c, int depth);

/* An object or array at c->p, its members skipped (but checked). */
static int skip_container(Cur *c, int depth)
{
    if (depth > MAX_DEPTH)
        return -1;
    unsigned char close = *c->p == '{' ? '}' : ']';
    int object = close == '}';
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    for (;;) {
        if (object) {
            const unsigned char *s, *e;
            int esc;
            if (string(c, &s, &e, &esc) < 0)
                return -1;
            ws(c);
            if (c->p >= c->end || *c->p != ':')
                return -1;
            c->p++;
            ws(c);
        }
        if (skip_value(c, depth + 1) < 0)
            return -1;
        ws(c);
        if (c->p >= c->end)
            return -1;
        if (*c->p == close) {
            c->p++;
            return 0;
        }
        if (*c->p != ',')
            return -1;
        c->p++;
        ws(c);
    }
}

static int skip_value(Cur *c, int depth)
{
    if (c->p >= c->end)
        return -1;
    const unsigned char *s, *e;
    int esc;
    switch (*c->p) {
    case '"':
        return string(c, &s, &e, &esc);
    case '{':
    case '[':
        return skip_container(c, depth);
    case 't':
        return literal(c, "true", 4);
    case 'f':
        return literal(c, "false", 5);
    case 'n':
        return literal(c, "null", 4);
    default:
        return skip_number(c);
    }
}

/* Iterates an object's members: `key` sets the next key's raw span, 1 while there is one, 0 at the
 * closing brace, -1 on anything else (and on a key with an escape, which could spell a name read here). */
static int next_key(Cur *c, int *first, const unsigned char **s, const unsigned char **e)
{
    ws(c);
    if (c->p >= c->end)
        return -1;
    if (*c->p == '}') {
        c->p++;
        return 0;
    }
    if (!*first) {
        if (*c->p != ',')
            return -1;
        c->p++;
        ws(c);
    }
    *first = 0;
    int esc;
    if (string(c, s, e, &esc) < 0 || esc)
        return -1;
    ws(c);
    if (c->p >= c->end || *c->p != ':')
        return -1;
    c->p++;
    ws(c);
    return 1;
}

static inline int same(const unsigned char *s, const unsigned char *e, const char *name, size_t n)
{
    return (size_t)(e - s) == n && memcmp(s, name, n) == 0;
}

/* Whether the raw span [s, e) is the literal `name`. */
#define key_is(s, e, name) same((s), (e), (name), sizeof(name) - 1)

static int expect_object(Cur *c)
{
    if (c->p >= c->end || *c->p != '{')
        return -1;
    c->p++;
    return 0;
}

/* A count as rollout._count takes it without a doubt: 0 to 2**53 - 1, no sign, fraction or exponent. */
static int count(Cur *c, long long *out)
{
    const unsigned char *p = c->p, *end = c->end;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    long long v = 0;
    int digits = 0;
    if (*p == '0') {
        p++;
        digits = 1;
    } else {
        while (p < end && *p >= '0' && *p <= '9' && digits < 17) {
            v = v * 10 + (*p - '0');
            p++;
            digits++;
        }
    }
    if (p < end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E'))
        return -1;
    if (v > MAX_COUNT)
        return -1;
    *out = v;
    c->p = p;
    return 0;
}

static const char *const USAGE_KEYS[5] = {
    "input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens", "total_tokens",
};
static const size_t USAGE_KEY_LENGTHS[5] = {12, 19, 13, 23, 12};

/* A usage object with all five counts (other members skipped); anything else is not read here. */
static int usage(Cur *c, Usage *u)
{
    if (expect_object(c) < 0)
        return -1;
    int seen = 0, first = 1, more;
    const unsigned char *s, *e;
    while ((more = next_key(c, &first, &s, &e)) == 1) {
        int k;
        for (k = 0; k < 5; k++)
            if (same(s, e, USAGE_KEYS[k], USAGE_KEY_LENGTHS[k]))
                break;
        if (k < 5) {
            if (seen & (1 << k) || count(c, &u->v[k]) < 0)
                return -1;
            seen |= 1 << k;
        } else if (skip_value(c, 2) < 0) {
            return -1;
        }
    }
    return more == 0 && seen == 0x1f ? 0 : -1;
}

/* The `info` object: both usage objects (1), or -1. */
static int info(Cur *c, Usage *total, Usage *last)
{
    if (expect_object(c) < 0)
        return -1;
    int seen = 0, first = 1, more;
    const unsigned char *s, *e;
    while ((more = next_key(c, &first, &s, &e)) == 1) {
        if (key_is(s, e, "total_token_usage")) {
            if (seen & 1 || usage(c, total) < 0)
                return -1;
            seen |= 1;
        } else if (key_is(s, e, "last_token_usage")) {
            if (seen & 2 || usage(c, last) < 0)
                return -1;
            seen |= 2;
        } else if (key_is(s, e, "model") || key_is(s, e, "model_name")) {
            return -1; /* a model on the event: the pure parser weighs it */
        } else if (skip_value(c, 2) < 0) {
            return -1;
        }
    }
    return more == 0 && seen == 3 ? 1 : -1;
}

/* The payload: 1 for a token_count with both usages, 0 for one whose info is null, -1 otherwise. */
static int payload(Cur *c, Usage *total, Usage *last)
{
    if (expect_object(c) < 0)
        return -1;
    int seen = 0, first = 1, more, has_info = -1;
    const unsigned char *s, *e;
    while ((more = next_key(c, &first, &s, &e)) == 1) {
        if (key_is(s, e, "type")) {
            const unsigned char *vs, *ve;
            int esc;
            if (seen & 1 || string(c, &vs, &ve, &esc) < 0 || esc || !key_is(vs, ve, "token_count"))
                return -1;
            seen |= 1;
        } else if (key_is(s, e, "info")) {
            if (seen & 2)
                return -1;
            seen |= 2;
            if (c->p < c->end && *c->p == 'n') {
                if (literal(c, "null", 4) < 0)
                    return -1;
                has_info = 0;
            } else if ((has_info = info(c, total, last)) < 0) {
                return -1;
            }
        } else if (key_is(s, e, "model") || key_is(s, e, "model_name") || key_is(s, e, "id") ||
                   key_is(s, e, "forked_from_id") || key_is(s, e, "source")) {
            return -1;
        } else if (skip_value(c, 1) < 0) {
            return -1;
        }
    }
    return more == 0 && seen == 3 ? has_info : -1;
}

static int digits(const unsigned char *p, int n)
{
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (p[k] < '0' || p[k] > '9')
            return -1;
        v = v * 10 + (p[k] - '0');
    }
    return v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    const int era = y / 400;
    const int yoe = y - era * 400;
    const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (long long)era * 146097 + doe - 719468;
}

/* `YYYY-MM-DDThh:mm:ss[.fff|.ffffff](Z|+00:00)` → seconds, as datetime.fromisoformat(...).timestamp()
 * gives them: the microseconds since the epoch (exact in a double up to 2**53) divided by 10**6, one
 * correctly rounded division, as CPython divides two such ints. -1: another form, another year range. */
static int seconds(const unsigned char *s, const unsigned char *e, double *out)
{
    Py_ssize_t n = e - s;
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 1971 || y > 2200 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 59)
        return -1;
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > month_days[mo - 1] + (mo == 2 && leap))
        return -1;
    const unsigned char *p = s + 19;
    long long micros = 0;
    if (*p == '.') {
        Py_ssize_t left = e - p - 1;
        int f;
        if (left >= 4 && (f = digits(p + 1, 3)) >= 0 && (p[4] < '0' || p[4] > '9')) {
            micros = f * 1000LL;
            p += 4;
        } else if (left >= 7 && (f = digits(p + 1, 6)) >= 0 && (p[7] < '0' || p[7] > '9')) {
            micros = f;
            p += 7;
        } else {
            return -1;
        }
    }
    if (!((e - p == 1 && *p == 'Z') || (e - p == 6 && memcmp(p, "+00:00", 6) == 0)))
        return -1;
    long long total = (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000LL + micros;
    *out = (double)total / 1e6;
    return 0;
}

/* A turn_context's payload: the span of its model (-1 when it names none the fast way: no `model`,
 * or one that is not a plain non-empty string). */
static int turn_payload(Cur *c, const unsigned char **ms, const unsigned char **me)
{
    if (expect_object(c) < 0)
        return -1;
    int seen = 0, first = 1, more;
    const unsigned char *s, *e;
    while ((more = next_key(c, &first, &s, &e)) == 1) {
        if (key_is(s, e, "model")) {
            int esc;
            if (seen || string(c, ms, me, &esc) < 0 || esc || *me == *ms)
                return -1;
            seen = 1;
        } else if (skip_value(c, 1) < 0) {
            return -1;
        }
    }
    return more == 0 && seen ? 0 : -1;
}

enum { NOTHING, USAGE, MODEL };

/* What a line of a fast shape says: nothing (a token_count whose info is null), a call's usage, or
 * the model of the turns that follow (a turn_context). */
typedef struct {
    int what;
    Usage total, last;
    double ts;
    const unsigned char *model, *model_end;
} Event;

enum { EVENT_MSG = 1, TURN_CONTEXT = 2 };

/* The whole line: 0 when it is of a fast shape (`ev` filled), -1 when the pure parser must read it.
 * Codex writes `type` before `payload`; a line that does not is left to the pure parser. */
static int read_line(const unsigned char *buf, Py_ssize_t len, Event *ev)
{
    Cur c = {buf, buf + len};
    ws(&c);
    if (expect_object(&c) < 0)
        return -1;
    int seen = 0, first = 1, more, kind = 0;
    const unsigned char *s, *e, *ts_s = NULL, *ts_e = NULL;
    while ((more = next_key(&c, &first, &s, &e)) == 1) {
        if (key_is(s, e, "timestamp")) {
            int esc;
            if (seen & 1 || string(&c, &ts_s, &ts_e, &esc) < 0 || esc)
                return -1;
            seen |= 1;
        } else if (key_is(s, e, "type")) {
            const unsigned char *vs, *ve;
            int esc;
            if (seen & 2 || string(&c, &vs, &ve, &esc) < 0 || esc)
                return -1;
            kind = key_is(vs, ve, "event_msg") ? EVENT_MSG : key_is(vs, ve, "turn_context") ? TURN_CONTEXT : 0;
            if (kind == 0)
                return -1; /* a session_meta, or another kind: the pure parser */
            seen |= 2;
        } else if (key_is(s, e, "payload")) {
            if (seen & 4 || kind == 0)
                return -1;
            if (kind == TURN_CONTEXT) {
                if (turn_payload(&c, &ev->model, &ev->model_end) < 0)
                    return -1;
                ev->what = MODEL;
            } else {
                int found = payload(&c, &ev->total, &ev->last);
                if (found < 0)
                    return -1;
                ev->what = found ? USAGE : NOTHING;
            }
            seen |= 4;
        } else if (skip_value(&c, 1) < 0) {
            return -1;
        }
    }
    /* A turn_context needs no timestamp; an event_msg is read here only with one. */
    if (more != 0 || (seen | (kind == TURN_CONTEXT)) != 7)
        return -1;
    ws(&c);
    if (c.p != c.end)
        return -1;
    return ev->what == USAGE ? seconds(ts_s, ts_e, &ev->ts) : 0;
}

typedef struct {
    PyObject_HEAD
    PyObject *records;     /* the tally's list of records */
    PyObject *skipped;     /* the tally's skipped counts, by reason */
    PyObject *tally;       /* for its `zero` count */
    PyObject *state;       /* rollout._State */
    PyObject *fallback;    /* rollout.parse_line */
    PyObject *record_type; /* calls.UsageRecord */
    PyObject *reemitted;   /* SkipReason.REEMITTED.value */
    vectorcallfunc vectorcall;
} Lines;

static PyObject *s_previous, *s_base, *s_model, *s_root, *s_zero, *s_lineage_root, *s_unit, *s_ts, *s_last;

static PyObject *usage_tuple(const Usage *u)
{
    PyObject *t = PyTuple_New(5);
    if (t == NULL)
        return NULL;
    for (int k = 0; k < 5; k++) {
        PyObject *v = PyLong_FromLongLong(u->v[k]);
        if (v == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, k, v);
    }
    return t;
}

/* `state.root`, or `state.lineage_root()` when it is not worked out yet. */
static PyObject *lineage_root(PyObject *state)
{
    PyObject *root = PyObject_GetAttr(state, s_root);
    if (root == NULL || root != Py_None)
        return root;
    Py_DECREF(root);
    return PyObject_CallMethodNoArgs(state, s_lineage_root);
}

static int add_one(PyObject *dict, PyObject *key)
{
    PyObject *old = PyDict_GetItemWithError(dict, key);
    if (old == NULL && PyErr_Occurred())
        return -1;
    PyObject *now = old == NULL ? PyLong_FromLong(1) : PyNumber_Add(old, s_unit);
    if (now == NULL)
        return -1;
    int rc = PyDict_SetItem(dict, key, now);
    Py_DECREF(now);
    return rc;
}

static int add_zero(PyObject *tally)
{
    PyObject *old = PyObject_GetAttr(tally, s_zero);
    if (old == NULL)
        return -1;
    PyObject *now = PyNumber_Add(old, s_unit);
    Py_DECREF(old);
    if (now == NULL)
        return -1;
    int rc = PyObject_SetAttr(tally, s_zero, now);
    Py_DECREF(now);
    return rc;
}

/* `n` (0 to 2**53 - 1) in decimal at `p`; returns the end. */
static char *put_count(char *p, long long n)
{
    char digits[20];
    int k = 0;
    do {
        digits[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (k)
        *p++ = digits[--k];
    return p;
}

/* The five counts as str() writes their tuple: "(1, 2, 3, 4, 5)". At most 5 * 16 + 10 bytes. */
static char *put_tuple(char *p, const Usage *u)
{
    *p++ = '(';
    for (int k = 0; k < 5; k++) {
        if (k) {
            *p++ = ',';
            *p++ = ' ';
        }
        p = put_count(p, u->v[k]);
    }
    *p++ = ')';
    return p;
}

/* The key's text: rollout._token_count's f-string, with the tuples as str() writes them; one
 * allocation when the root is ASCII (a thread id always is). */
static PyObject *call_key(PyObject *root, const Event *ev)
{
    char tail[256];
    char *p = tail;
    *p++ = '\x1f';
    p = put_tuple(p, &ev->total);
    *p++ = '\x1f';
    p = put_tuple(p, &ev->last);
    Py_ssize_t tail_len = p - tail;
    if (PyUnicode_IS_ASCII(root)) {
        Py_ssize_t root_len = PyUnicode_GET_LENGTH(root);
        PyObject *key = PyUnicode_New(2 + root_len + tail_len, 127);
        if (key == NULL)
            return NULL;
        char *out = (char *)PyUnicode_1BYTE_DATA(key);
        out[0] = 'x';
        out[1] = '\x1f';
        memcpy(out + 2, PyUnicode_1BYTE_DATA(root), (size_t)root_len);
        memcpy(out + 2 + root_len, tail, (size_t)tail_len);
        return key;
    }
    PyObject *key = PyUnicode_FromFormat("x\x1f%U", root);
    if (key == NULL)
        return NULL;
    PyObject *rest = PyUnicode_FromStringAndSize(tail, tail_len);
    if (rest == NULL) {
        Py_DECREF(key);
        return NULL;
    }
    Py_SETREF(key, PyUnicode_Concat(key, rest));
    Py_DECREF(rest);
    return key;
}

/* Whether `previous` equals the tuple of `u`'s counts, as `==` says: 1 or 0 when that is plain (a
 * 5-tuple of ints, None, a tuple of another length), -1 when `==` must be asked. */
static int same_total(PyObject *previous, const Usage *u)
{
    if (previous == Py_None)
        return 0;
    if (!PyTuple_CheckExact(previous))
        return -1;
    if (PyTuple_GET_SIZE(previous) != 5)
        return 0;
    for (int k = 0; k < 5; k++) {
        PyObject *item = PyTuple_GET_ITEM(previous, k);
        if (!PyLong_CheckExact(item))
            return -1;
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(item, &overflow);
        if (v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return -1;
        }
        if (overflow || v != u->v[k])
            return 0;
    }
    return 1;
}

/* Whether a re-emit stamped `ts` may move the time of the call it repeats (rollout._reemit): the
 * file's last call (this read's last record, else `state.last`, an earlier read's) has no time or a
 * later one. 1: rollout.py decides, 0: it cannot, -1: an error. */
static int reemit_may_move(Lines *self, double ts)
{
    Py_ssize_t n = PyList_GET_SIZE(self->records);
    PyObject *was;
    if (n > 0) {
        was = PyObject_GetAttr(PyList_GET_ITEM(self->records, n - 1), s_ts);
    } else {
        PyObject *last = PyObject_GetAttr(self->state, s_last);
        if (last == NULL || last == Py_None || !PyTuple_CheckExact(last) || PyTuple_GET_SIZE(last) != 2) {
            int some = last != NULL && last != Py_None; /* another shape: rollout.py says what it is */
            Py_XDECREF(last);
            return last == NULL ? -1 : some;
        }
        was = Py_NewRef(PyTuple_GET_ITEM(last, 1));
        Py_DECREF(last);
    }
    if (was == NULL)
        return -1;
    int may = !PyFloat_CheckExact(was) || ts < PyFloat_AS_DOUBLE(was);
    Py_DECREF(was);
    return may;
}

/* rollout._token_count for an event of the fast shape (a total and a last with all four counts).
 * 1: the line is rollout.py's to read (nothing changed here). */
static int token_count(Lines *self, const Event *ev)
{
    PyObject *state = self->state;
    PyObject *previous = PyObject_GetAttr(state, s_previous);
    if (previous == NULL)
        return -1;
    /* A re-emit (40 % of events) is found without building its tuple. */
    int same = same_total(previous, &ev->total);
    PyObject *total = same == 1 ? NULL : usage_tuple(&ev->total);
    if (same == -1 && total != NULL)
        same = PyObject_RichCompareBool(total, previous, Py_EQ);
    Py_DECREF(previous);
    if (same < 0 || (same == 0 && total == NULL)) {
        Py_XDECREF(total);
        return -1;
    }
    if (same) {
        Py_XDECREF(total);
        int may = reemit_may_move(self, ev->ts);
        return may != 0 ? may : add_one(self->skipped, self->reemitted);
    }
    if (PyObject_SetAttr(state, s_previous, total) < 0 || PyObject_SetAttr(state, s_base, total) < 0)
        goto fail;
    Py_DECREF(total);
    long long inp = ev->last.v[0], cached = ev->last.v[1], out = ev->last.v[2], reasoning = ev->last.v[3];
    if (cached > inp)
        cached = inp; /* cached input is part of input: never more than it */
    if (!(inp || out || reasoning)) /* cached is at most input here */
        return add_zero(self->tally);
    PyObject *root = lineage_root(state);
    if (root == NULL)
        return -1;
    PyObject *key = PyUnicode_CheckExact(root) ? call_key(root, ev) : NULL;
    Py_DECREF(root);
    if (key == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "lineage root is not a str");
        return -1;
    }
    PyObject *model = PyObject_GetAttr(state, s_model);
    if (model == NULL) {
        Py_DECREF(key);
        return -1;
    }
    PyObject *args[10] = {key, PyFloat_FromDouble(ev->ts), model, PyLong_FromLongLong(inp - cached),
                          PyLong_FromLongLong(out), PyLong_FromLongLong(cached), PyLong_FromLong(0), Py_None,
                          PyLong_FromLong(0), PyLong_FromLongLong(reasoning)};
    PyObject *record = NULL;
    int ok = 1;
    for (int k = 0; k < 10; k++)
        ok &= args[k] != NULL;
    if (ok)
        record = PyObject_Vectorcall(self->record_type, args, 10, NULL);
    Py_DECREF(key);
    Py_DECREF(model);
    for (int k = 1; k < 10; k++)
        if (k != 2 && k != 7)
            Py_XDECREF(args[k]);
    if (record == NULL)
        return -1;
    int rc = PyList_Append(self->records, record);
    Py_DECREF(record);
    return rc;
fail:
    Py_DECREF(total);
    return -1;
}

static PyObject *lines_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Lines *self = (Lines *)op;
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "Lines() takes one line");
        return NULL;
    }
    PyObject *line = args[0];
    const unsigned char *buf;
    Py_ssize_t len;
    if (PyByteArray_CheckExact(line)) {
        buf = (const unsigned char *)PyByteArray_AS_STRING(line);
        len = PyByteArray_GET_SIZE(line);
    } else if (PyBytes_CheckExact(line)) {
        buf = (const unsigned char *)PyBytes_AS_STRING(line);
        len = PyBytes_GET_SIZE(line);
    } else {
        buf = NULL;
        len = 0;
    }
    Event ev;
    if (buf == NULL || read_line(buf, len, &ev) < 0) {
        PyObject *call[3] = {line, self->tally, self->state};
        return PyObject_Vectorcall(self->fallback, call, 3, NULL);
    }
    if (ev.what == USAGE) {
        int rc = token_count(self, &ev);
        if (rc < 0)
            return NULL;
        if (rc == 1) {
            PyObject *call[3] = {line, self->tally, self->state};
            return PyObject_Vectorcall(self->fallback, call, 3, NULL);
        }
    } else if (ev.what == MODEL) {
        /* rollout._turn_context: a non-empty ASCII model, which `printable` leaves as it is */
        PyObject *model = PyUnicode_FromStringAndSize((const char *)ev.model, ev.model_end - ev.model);
        if (model == NULL)
            return NULL;
        int rc = PyObject_SetAttr(self->state, s_model, model);
        Py_DECREF(model);
        if (rc < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *lines_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *records, *skipped, *tally, *state, *fallback, *record_type, *reemitted;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "Lines() takes positional arguments only");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!O!OOOOU:Lines", &PyList_Type, &records, &PyDict_Type, &skipped, &tally, &state,
                          &fallback, &record_type, &reemitted))
        return NULL;
    Lines *self = (Lines *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->records = Py_NewRef(records);
    self->skipped = Py_NewRef(skipped);
    self->tally = Py_NewRef(tally);
    self->state = Py_NewRef(state);
    self->fallback = Py_NewRef(fallback);
    self->record_type = Py_NewRef(record_type);
    self->reemitted = Py_NewRef(reemitted);
    self->vectorcall = lines_call;
    return (PyObject *)self;
}

static int lines_traverse(Lines *self, visitproc visit, void *arg)
{
    Py_VISIT(self->records);
    Py_VISIT(self->skipped);
    Py_VISIT(self->tally);
    Py_VISIT(self->state);
    Py_VISIT(self->fallback);
    Py_VISIT(self->record_type);
    Py_VISIT(self->reemitted);
    return 0;
}

static int lines_clear(Lines *self)
{
    Py_CLEAR(self->records);
    Py_CLEAR(self->skipped);
    Py_CLEAR(self->tally);
    Py_CLEAR(self->state);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->record_type);
    Py_CLEAR(self->reemitted);
    return 0;
}

static void lines_dealloc(Lines *self)
{
    PyObject_GC_UnTrack(self);
    lines_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject LinesType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "openusage.providers.codex_cli._rollout.Lines",
    .tp_basicsize = sizeof(Lines),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Lines(records, skipped, tally, state, fallback, record_type, reemitted): called with each "
              "candidate line of one rollout (see rollout.py).",
    .tp_new = lines_new,
    .tp_traverse = (traverseproc)lines_traverse,
    .tp_clear = (inquiry)lines_clear,
    .tp_dealloc = (destructor)lines_dealloc,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Lines, vectorcall),
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "openusage.providers.codex_cli._rollout",
    "Codex CLI's token_count lines read in C (see rollout.py, the reference).", -1, NULL, NULL, NULL, NULL, NULL,
};

static int intern(PyObject **slot, const char *text)
{
    *slot = PyUnicode_InternFromString(text);
    return *slot == NULL ? -1 : 0;
}

PyMODINIT_FUNC PyInit__rollout(void)
{
    if (intern(&s_previous, "previous") < 0 || intern(&s_base, "base") < 0 || intern(&s_model, "model") < 0 ||
        intern(&s_root, "root") < 0 || intern(&s_zero, "zero") < 0 || intern(&s_lineage_root, "lineage_root") < 0 ||
        intern(&s_ts, "ts") < 0 || intern(&s_last, "last") < 0)
        return NULL;
    s_unit = PyLong_FromLong(1);
    if (s_unit == NULL || PyType_Ready(&LinesType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "ROLLOUT_VERSION", ROLLOUT_VERSION) < 0 ||
        PyModule_AddObjectRef(m, "Lines", (PyObject *)&LinesType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
