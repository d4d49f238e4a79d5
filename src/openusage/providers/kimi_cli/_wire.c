/* openusage.providers.kimi_cli._wire: the compiled fast path for one Kimi CLI usage line.
 *
 * `wire.parse_line` is the reference. This function answers only the lines whose meaning is plain:
 * strictly valid JSON (RFC 8259, UTF-8 checked), a `StatusUpdate` at the top or wrapped in
 * `SubagentEvent`s, its fields found without escapes and without repeats, a non-empty `message_id`,
 * counts that are integers of at most 18 digits. On anything else it answers DEFER, and the caller runs
 * the reference on the same line: so its answer is always the reference's (tests/test_kimi_wire_fast.py
 * holds the two equal over fuzzed and generated lines).
 *
 * parse(line, records, record_type) -> 0: done (a record appended to `records`, or the line is not
 * usage); 1: an all-zero usage record (nothing appended); 2: DEFER.
 *
 * The line is walked once: a validating recursive-descent pass that notes, for the few key paths a
 * usage record needs, where each value is. Lines longer than LONG_LINE are deferred: msgspec skips a
 * multi-megabyte `mcp_status` faster than a byte loop can validate it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../../_jsonscan.h" /* the JSON scanning shared with the other compiled line parsers */

/* Bumped whenever the function's contract changes: wire.py refuses a stale build. */
#define PARSER_VERSION 2
#define LONG_LINE (64 * 1024)
#define MAX_DEPTH 64   /* JSON nesting; deeper lines are deferred (Python's json has its own limit) */
#define MAX_EVENTS 8   /* SubagentEvent wrappings; deeper ones are deferred */

#define DONE 0
#define ZERO 1
#define DEFER 2

/* 10000-01-01T00:00:00Z: the spec's "before the year 10000" (wire.MAX_TIMESTAMP). */
#define MAX_TIMESTAMP 253402300800.0

typedef struct {
    Val self, type, payload, usage, message_id, model, event;
    Val counts[4]; /* input_other, output, input_cache_read, input_cache_creation */
} Event;

typedef struct {
    const unsigned char *p, *end;
    int depth;
    Val timestamp, message;
    Event ev[MAX_EVENTS];
} Parser;

/* Which object a value is in: the key paths that matter. */
enum ctx { C_NONE = 0, C_TOP, C_EVENT, C_PAYLOAD, C_USAGE };

static const char *const COUNT_NAMES[4] = {"input_other", "output", "input_cache_read", "input_cache_creation"};

static int parse_value(Parser *ps, enum ctx ctx, int level, Val *out);

/* The shared scanning (_jsonscan.h) at this parser's position. */
static inline void skip_ws(Parser *ps)
{
    ps->p = js_skip_ws(ps->p, ps->end);
}

static inline int parse_string(Parser *ps, Val *out)
{
    return js_string(&ps->p, ps->end, out);
}

static inline int parse_number(Parser *ps, Val *out)
{
    return js_number(&ps->p, ps->end, out);
}

static inline int literal(Parser *ps, const char *word, Py_ssize_t n)
{
    return js_literal(&ps->p, ps->end, word, n);
}

#define key_is js_is
#define int_value js_int_value

/* Where the value of `key` goes in an object of context `ctx`, and the context of that value; NULL
 * when the key does not matter here. *defer is set when the key might matter but cannot be read
 * plainly (an escaped key). */
static Val *slot_for(Parser *ps, enum ctx ctx, int level, const Val *key, enum ctx *child, int *child_level,
                     int *defer)
{
    *child = C_NONE;
    *child_level = level;
    if (ctx == C_NONE) return NULL;
    if (key->kind == STR_ESC) {
        *defer = 1;
        return NULL;
    }
    Event *ev = &ps->ev[level];
    switch (ctx) {
    case C_TOP:
        if (key_is(key, "timestamp")) return &ps->timestamp;
        if (key_is(key, "message")) {
            *child = C_EVENT;
            *child_level = 0;
            return &ps->message;
        }
        return NULL;
    case C_EVENT:
        if (key_is(key, "type")) return &ev->type;
        if (key_is(key, "payload")) {
            *child = C_PAYLOAD;
            return &ev->payload;
        }
        return NULL;
    case C_PAYLOAD:
        if (key_is(key, "token_usage")) {
            *child = C_USAGE;
            return &ev->usage;
        }
        if (key_is(key, "message_id")) return &ev->message_id;
        if (key_is(key, "model")) return &ev->model;
        if (key_is(key, "event")) {
            if (level + 1 >= MAX_EVENTS) {
                *defer = 1;
                return NULL;
            }
            *child = C_EVENT;
            *child_level = level + 1;
            return &ev->event;
        }
        return NULL;
    case C_USAGE:
        for (int i = 0; i < 4; i++)
            if (key_is(key, COUNT_NAMES[i])) return &ev->counts[i];
        return NULL;
    default:
        return NULL;
    }
}

static int parse_object(Parser *ps, enum ctx ctx, int level)
{
    ps->p++; /* '{' */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (ps->p >= ps->end || *ps->p != '"') return -1;
        Val key = {ABSENT, NULL, 0};
        if (parse_string(ps, &key) < 0) return -1;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') return -1;
        ps->p++;
        skip_ws(ps);
        enum ctx child;
        int child_level, defer = 0;
        Val *slot = slot_for(ps, ctx, level, &key, &child, &child_level, &defer);
        if (defer) return -1;
        if (slot != NULL && slot->kind != ABSENT) return -1; /* a repeated key: the decoders may differ */
        if (child == C_EVENT) /* entered once at most per level (a repeat is deferred above): zeroed here */
            memset(&ps->ev[child_level], 0, sizeof ps->ev[child_level]);
        if (parse_value(ps, child, child_level, slot) < 0) return -1;
        skip_ws(ps);
        if (ps->p >= ps->end) return -1;
        if (*ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        if (*ps->p == '}') {
            ps->p++;
            return 0;
        }
        return -1;
    }
}

static int parse_array(Parser *ps)
{
    ps->p++; /* '[' */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (parse_value(ps, C_NONE, 0, NULL) < 0) return -1;
        skip_ws(ps);
        if (ps->p >= ps->end) return -1;
        if (*ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        if (*ps->p == ']') {
            ps->p++;
            return 0;
        }
        return -1;
    }
}

/* One value at ps->p (whitespace skipped before it); its kind and place go to `out` when given. */
static int parse_value(Parser *ps, enum ctx ctx, int level, Val *out)
{
    Val scratch;
    Val *v = out != NULL ? out : &scratch;
    if (ps->p >= ps->end) return -1;
    const unsigned char *start = ps->p;
    switch (*ps->p) {
    case '{': {
        if (++ps->depth > MAX_DEPTH) return -1;
        if (parse_object(ps, out != NULL ? ctx : C_NONE, level) < 0) return -1;
        ps->depth--;
        v->kind = OBJ;
        break;
    }
    case '[':
        if (++ps->depth > MAX_DEPTH) return -1;
        if (parse_array(ps) < 0) return -1;
        ps->depth--;
        v->kind = ARR;
        break;
    case '"':
        return parse_string(ps, out);
    case 't':
        if (literal(ps, "true", 4) < 0) return -1;
        v->kind = LITERAL_BOOL;
        break;
    case 'f':
        if (literal(ps, "false", 5) < 0) return -1;
        v->kind = LITERAL_BOOL;
        break;
    case 'n':
        if (literal(ps, "null", 4) < 0) return -1;
        v->kind = LITERAL_NULL;
        break;
    default:
        return parse_number(ps, v);
    }
    v->s = start;
    v->n = ps->p - start;
    return 0;
}


/* A count: an integer, or 0 (negative, not an integer, absent). -1: too large to read here. */
static int count_value(const Val *v, long long *count)
{
    *count = 0;
    if (v->kind != INT) return 0;
    long long x;
    if (int_value(v, &x) < 0) return -1;
    *count = x > 0 ? x : 0;
    return 0;
}

/* A plain decimal (digits, one point, at most 19 digits, at most 27 after the point, no exponent) as
 * the correctly rounded double, as the decoders read it; -1 when this quick way cannot promise that.
 * With a 64-bit long double mantissa: the digits and the power of ten are exact, their quotient is
 * rounded once to 64 bits, and rounding that to 53 bits is the correctly rounded result unless it fell
 * exactly halfway between two doubles (a 53-bit boundary lying strictly between the quotient and its
 * 64-bit rounding would be nearer than the rounding, which is impossible): that case is refused. */
static int quick_decimal(const Val *v, double *out)
{
    const unsigned char *p = v->s, *end = v->s + v->n;
    uint64_t m = 0;
    int digits = 0, frac = -1;
    for (; p < end; p++) {
        if (*p == '.') {
            frac = 0;
            continue;
        }
        if (*p < '0' || *p > '9' || ++digits > 19) return -1; /* an exponent, or too many digits */
        m = m * 10 + (uint64_t)(*p - '0');
        if (frac >= 0) frac++;
    }
    if (frac < 0) frac = 0;
#if LDBL_MANT_DIG == 64
    static const long double pow10l[28] = {
        1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L,
        1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
    if (frac > 27) return -1;
    long double q = (long double)m / pow10l[frac];
    int exponent;
    uint64_t bits = (uint64_t)ldexpl(frexpl(q, &exponent), 64);
    if ((bits & 0x7FF) == 0x400) return -1; /* exactly halfway after the first rounding */
    *out = (double)q;
    return 0;
#else
    /* Elsewhere: both exact in a double, one correctly rounded division (Clinger's fast path). */
    static const double pow10d[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (frac > 22 || m > (UINT64_C(1) << 53)) return -1;
    *out = (double)m / pow10d[frac];
    return 0;
#endif
}

/* The valid timestamp (wire.py: a number, not a boolean, 0 < t < MAX_TIMESTAMP), or NAN for none.
 * -1: a number this function does not read (defer). */
static int timestamp_value(const Val *v, double *ts)
{
    *ts = Py_NAN;
    if (v->kind == INT) {
        long long x;
        if (int_value(v, &x) < 0) return -1;
        if (x > 0 && (double)x < MAX_TIMESTAMP) *ts = (double)x;
        return 0;
    }
    if (v->kind == FLOAT) {
        if (v->s[0] == '-') return 0; /* zero or below: not a valid time, whatever its digits */
        double x;
        if (quick_decimal(v, &x) < 0) {
            char text[64];
            if (v->n >= (Py_ssize_t)sizeof text) return -1;
            memcpy(text, v->s, (size_t)v->n);
            text[v->n] = '\0';
            x = PyOS_string_to_double(text, NULL, NULL); /* correctly rounded, as the decoders */
            if (x == -1.0 && PyErr_Occurred()) {
                PyErr_Clear();
                return -1;
            }
        }
        if (x > 0 && x < MAX_TIMESTAMP) *ts = x;
        return 0;
    }
    return 0;
}

static int append_record(PyObject *records, PyObject *record_type, const Val *message_id, const Val *model,
                         double ts, const long long counts[4])
{
    /* The call key, as wire._add_usage writes it: "m\x1f<id>\x1f<in>\x1f<out>\x1f<cr>\x1f<cw>". */
    char small[256];
    Py_ssize_t need = message_id->n + 2 + 4 * 22;
    char *buf = need <= (Py_ssize_t)sizeof small ? small : PyMem_Malloc((size_t)need);
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    buf[0] = 'm';
    buf[1] = '\x1f';
    memcpy(buf + 2, message_id->s, (size_t)message_id->n);
    Py_ssize_t at = 2 + message_id->n;
    for (int i = 0; i < 4; i++) {
        char digits[24];
        int nd = 0;
        unsigned long long x = (unsigned long long)counts[i]; /* never negative: counts are clamped */
        do {
            digits[nd++] = (char)('0' + x % 10);
            x /= 10;
        } while (x);
        buf[at++] = '\x1f';
        while (nd) buf[at++] = digits[--nd];
    }
    PyObject *key = PyUnicode_DecodeUTF8(buf, at, "strict");
    if (buf != small) PyMem_Free(buf);
    if (key == NULL) return -1;

    PyObject *args[7] = {key, NULL, NULL, NULL, NULL, NULL, NULL};
    int failed = 0;
    args[1] = Py_IS_NAN(ts) ? Py_NewRef(Py_None) : PyFloat_FromDouble(ts);
    if (model->kind == STR && model->n > 0)
        args[2] = PyUnicode_DecodeUTF8((const char *)model->s, model->n, "strict");
    else
        args[2] = Py_NewRef(Py_None);
    for (int i = 0; i < 4; i++) args[3 + i] = PyLong_FromLongLong(counts[i]);
    for (int i = 1; i < 7; i++) failed |= args[i] == NULL;
    PyObject *record = failed ? NULL : PyObject_Vectorcall(record_type, args, 7, NULL);
    for (int i = 0; i < 7; i++) Py_XDECREF(args[i]);
    if (record == NULL) return -1;
    int rc = PyList_Append(records, record);
    Py_DECREF(record);
    return rc;
}

static inline int str_is(const Val *v, const char *text)
{
    return v->kind == STR && key_is(v, text);
}

/* What the walked line is: DONE (not usage), ZERO, DEFER, or a usage record to append (returns 3). */
static int classify(Parser *ps, int *level)
{
    if (ps->message.kind != OBJ) return DEFER;
    int e = 0;
    for (;;) {
        Event *ev = &ps->ev[e];
        if (ev->type.kind != STR) return DEFER; /* absent, escaped or not text: rare, the reference decides */
        if (str_is(&ev->type, "SubagentEvent")) {
            if (ev->payload.kind != OBJ || ev->event.kind != OBJ) return DEFER; /* a shape fault to name */
            e++;
            continue;
        }
        if (!str_is(&ev->type, "StatusUpdate")) return DONE; /* another record holding the key */
        if (ev->payload.kind != OBJ) return DEFER;
        if (ev->usage.kind == ABSENT || ev->usage.kind == LITERAL_NULL) return DONE; /* context only */
        if (ev->usage.kind != OBJ) return DEFER;
        if (ev->message_id.kind != STR || ev->message_id.n == 0) return DEFER; /* keyed by its content */
        if (ev->model.kind == STR_ESC) return DEFER;
        *level = e;
        return 3;
    }
}

/* The answer for one line: DONE, ZERO, DEFER, or -1 with an exception set. */
static int answer(PyObject *line, PyObject *records, PyObject *record_type)
{
    const unsigned char *bytes;
    Py_ssize_t len;
    if (PyByteArray_CheckExact(line)) {
        bytes = (const unsigned char *)PyByteArray_AS_STRING(line);
        len = PyByteArray_GET_SIZE(line);
    } else if (PyBytes_CheckExact(line)) {
        bytes = (const unsigned char *)PyBytes_AS_STRING(line);
        len = PyBytes_GET_SIZE(line);
    } else {
        PyErr_SetString(PyExc_TypeError, "line must be bytes or bytearray");
        return -1;
    }
    if (!PyList_CheckExact(records)) {
        PyErr_SetString(PyExc_TypeError, "records must be a list");
        return -1;
    }
    if (len > LONG_LINE) return DEFER;

    Parser ps; /* ev[] is zeroed level by level as the walk enters it (parse_object) */
    ps.depth = 0;
    memset(&ps.timestamp, 0, sizeof ps.timestamp);
    memset(&ps.message, 0, sizeof ps.message);
    ps.p = bytes;
    ps.end = bytes + len;
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p != '{') return DEFER;
    Val top;
    if (parse_value(&ps, C_TOP, 0, &top) < 0) return DEFER;
    skip_ws(&ps);
    if (ps.p != ps.end) return DEFER;

    int level = 0;
    int what = classify(&ps, &level);
    if (what != 3) return what;
    Event *ev = &ps.ev[level];
    long long counts[4];
    for (int i = 0; i < 4; i++)
        if (count_value(&ev->counts[i], &counts[i]) < 0) return DEFER;
    if (!(counts[0] || counts[1] || counts[2] || counts[3])) return ZERO;
    double ts;
    if (timestamp_value(&ps.timestamp, &ts) < 0) return DEFER;
    if (append_record(records, record_type, &ev->message_id, &ev->model, ts, counts) < 0) return -1;
    return DONE;
}

static PyObject *parse(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "parse(line, records, record_type)");
        return NULL;
    }
    int what = answer(args[0], args[1], args[2]);
    return what < 0 ? NULL : PyLong_FromLong(what);
}

/* Sink(records, record_type, reference): a callable the block loop hands each candidate line to
 * directly (no Python frame per line). A record goes to `records`, an all-zero record adds to `zero`,
 * and a deferred line goes to `reference(line)`. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *records, *record_type, *reference;
    Py_ssize_t zero;
} Sink;

static PyObject *sink_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Sink *sink = (Sink *)self;
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "a Sink takes one line");
        return NULL;
    }
    int what = answer(args[0], sink->records, sink->record_type);
    if (what < 0) return NULL;
    if (what == ZERO) sink->zero++;
    if (what == DEFER) return PyObject_CallOneArg(sink->reference, args[0]);
    Py_RETURN_NONE;
}

static PyObject *sink_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *records, *record_type, *reference;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "Sink(records, record_type, reference)");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!OO:Sink", &PyList_Type, &records, &record_type, &reference)) return NULL;
    Sink *sink = (Sink *)type->tp_alloc(type, 0);
    if (sink == NULL) return NULL;
    sink->vectorcall = sink_call;
    sink->records = Py_NewRef(records);
    sink->record_type = Py_NewRef(record_type);
    sink->reference = Py_NewRef(reference);
    sink->zero = 0;
    return (PyObject *)sink;
}

static void sink_dealloc(PyObject *self)
{
    Sink *sink = (Sink *)self;
    Py_XDECREF(sink->records);
    Py_XDECREF(sink->record_type);
    Py_XDECREF(sink->reference);
    Py_TYPE(self)->tp_free(self);
}

static PyMemberDef sink_members[] = {
    {"zero", T_PYSSIZET, offsetof(Sink, zero), READONLY, "all-zero usage records seen by the fast path"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject SinkType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "openusage.providers.kimi_cli._wire.Sink",
    .tp_basicsize = sizeof(Sink),
    .tp_dealloc = sink_dealloc,
    .tp_vectorcall_offset = offsetof(Sink, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Sink(records, record_type, reference): the fast path as the block loop's callback",
    .tp_members = sink_members,
    .tp_new = sink_new,
};

static PyMethodDef methods[] = {
    {"parse", (PyCFunction)(void (*)(void))parse, METH_FASTCALL,
     "parse(line, records, record_type) -> 0 done, 1 all-zero record, 2 defer to wire.parse_line"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "openusage.providers.kimi_cli._wire",
    "The compiled fast path for a Kimi CLI usage line (reference: openusage.providers.kimi_cli.wire).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__wire(void)
{
    js_fill_tables();
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL) return NULL;
    if (PyType_Ready(&SinkType) < 0 || PyModule_AddObjectRef(m, "Sink", (PyObject *)&SinkType) < 0 ||
        PyModule_AddIntConstant(m, "PARSER_VERSION", PARSER_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
