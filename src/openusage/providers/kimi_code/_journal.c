/* openusage.providers.kimi_code._journal: the compiled fast path for Kimi Code's journal lines.
 *
 * `journal.parse_line` is the reference. `Lines(records, state, agent, record_type, reference)` is a
 * callable the candidate reader hands each candidate line of one journal to. It answers the two line
 * shapes almost every candidate has, by the reference's rules and with the reference's record:
 *   - a `usage.record` whose `usage` is an object, whose counts are integers of at most 18 digits (or
 *     not numbers: 0), whose `time` is such an integer and whose `usageScope` and `model` (the alias)
 *     are strings without escapes; or one whose four counts are all zero (counted in `zero`);
 *   - an `llm.request` whose `model` and `modelAlias` hold no escapes (it updates the journal's
 *     state: the last model, overall and per alias);
 *   - and any other line whose `type` is another plain string (not usage: nothing to do).
 * The whole line must be strictly valid JSON (RFC 8259, UTF-8 checked, at most 64 levels deep), no
 * key it reads may come twice or be escaped, and the line must be at most 64 KiB. Anything else (a
 * `forked` marker, a float, a huge count, an absent or non-text time, scope or alias, an escape, JSON
 * only Python's `json` reads, a shape fault to name) goes to `reference(line)` before anything is
 * changed, so a deferred line is read exactly as on the pure path. tests/test_kimi_code_fast.py holds
 * the two paths equal over fuzzed lines and generated homes.
 *
 * The call key is the reference's: "c\x1f<agent>\x1f<repr(time)>\x1f<repr(scope)>\x1f<repr(alias)>
 * \x1f<in>\x1f<out>\x1f<cr>\x1f<cw>", a Python `repr` of an int and of two str. The int's repr is its
 * decimal text; a str's repr is asked of Python itself (PyObject_Repr), once per distinct scope and
 * alias (each Lines keeps the last one of each), so the key is the same text byte for byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "../../_jsonscan.h"

/* Bumped whenever the contract with journal.py changes: a stale build is refused there. */
#define JOURNAL_VERSION 1
#define LONG_LINE (64 * 1024) /* longer lines go to msgspec, which skips big values faster than a byte walk */
#define MAX_DEPTH 64
#define MAX_TIME_MS 253402300800000LL /* journal.MAX_TIME_MS: 10000-01-01T00:00:00Z */

#define DONE 0
#define ZERO 1
#define DEFER 2

/* Which object a value is in: the top-level record, its `usage`, or one that does not matter. */
enum ctx { C_NONE = 0, C_TOP, C_USAGE };

typedef struct {
    const unsigned char *p, *end;
    int depth;
    Val type, usage, scope, model, alias, time;
    Val counts[4]; /* inputOther, output, inputCacheRead, inputCacheCreation */
} Parser;

static const char *const COUNT_NAMES[4] = {"inputOther", "output", "inputCacheRead", "inputCacheCreation"};

static int parse_value(Parser *ps, enum ctx ctx, Val *out);

/* Where the value of `key` goes in an object of context `ctx` (NULL: nowhere), and its own context.
 * *defer is set for an escaped key where keys matter: it could spell a name read here. */
static Val *slot_for(Parser *ps, enum ctx ctx, const Val *key, enum ctx *child, int *defer)
{
    *child = C_NONE;
    if (ctx == C_NONE) return NULL;
    if (key->kind == STR_ESC) {
        *defer = 1;
        return NULL;
    }
    if (ctx == C_USAGE) {
        for (int i = 0; i < 4; i++)
            if (js_is(key, COUNT_NAMES[i])) return &ps->counts[i];
        return NULL;
    }
    switch (key->n) { /* C_TOP */
    case 4:
        if (js_is(key, "type")) return &ps->type;
        if (js_is(key, "time")) return &ps->time;
        return NULL;
    case 5:
        if (js_is(key, "usage")) {
            *child = C_USAGE;
            return &ps->usage;
        }
        if (js_is(key, "model")) return &ps->model;
        return NULL;
    case 10:
        return js_is(key, "usageScope") ? &ps->scope : js_is(key, "modelAlias") ? &ps->alias : NULL;
    default:
        return NULL;
    }
}

static int parse_object(Parser *ps, enum ctx ctx)
{
    ps->p = js_skip_ws(ps->p + 1, ps->end); /* past '{' */
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (ps->p >= ps->end || *ps->p != '"') return -1;
        Val key = {ABSENT, NULL, 0};
        if (js_string(&ps->p, ps->end, &key) < 0) return -1;
        ps->p = js_skip_ws(ps->p, ps->end);
        if (ps->p >= ps->end || *ps->p != ':') return -1;
        ps->p = js_skip_ws(ps->p + 1, ps->end);
        enum ctx child;
        int defer = 0;
        Val *slot = slot_for(ps, ctx, &key, &child, &defer);
        if (defer) return -1;
        if (slot != NULL && slot->kind != ABSENT) return -1; /* a repeated key: the decoders may differ */
        if (parse_value(ps, child, slot) < 0) return -1;
        ps->p = js_skip_ws(ps->p, ps->end);
        if (ps->p >= ps->end) return -1;
        if (*ps->p == ',') {
            ps->p = js_skip_ws(ps->p + 1, ps->end);
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
    ps->p = js_skip_ws(ps->p + 1, ps->end); /* past '[' */
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (parse_value(ps, C_NONE, NULL) < 0) return -1;
        ps->p = js_skip_ws(ps->p, ps->end);
        if (ps->p >= ps->end) return -1;
        if (*ps->p == ',') {
            ps->p = js_skip_ws(ps->p + 1, ps->end);
            continue;
        }
        if (*ps->p == ']') {
            ps->p++;
            return 0;
        }
        return -1;
    }
}

/* One value at ps->p; its kind and span go to `out` when given. */
static int parse_value(Parser *ps, enum ctx ctx, Val *out)
{
    Val scratch;
    Val *v = out != NULL ? out : &scratch;
    if (ps->p >= ps->end) return -1;
    const unsigned char *start = ps->p;
    switch (*ps->p) {
    case '{':
        if (++ps->depth > MAX_DEPTH || parse_object(ps, ctx) < 0) return -1;
        ps->depth--;
        v->kind = OBJ;
        break;
    case '[':
        if (++ps->depth > MAX_DEPTH || parse_array(ps) < 0) return -1;
        ps->depth--;
        v->kind = ARR;
        break;
    case '"':
        return js_string(&ps->p, ps->end, out);
    case 't':
        if (js_literal(&ps->p, ps->end, "true", 4) < 0) return -1;
        v->kind = LITERAL_BOOL;
        break;
    case 'f':
        if (js_literal(&ps->p, ps->end, "false", 5) < 0) return -1;
        v->kind = LITERAL_BOOL;
        break;
    case 'n':
        if (js_literal(&ps->p, ps->end, "null", 4) < 0) return -1;
        v->kind = LITERAL_NULL;
        break;
    default:
        return js_number(&ps->p, ps->end, v);
    }
    v->s = start;
    v->n = ps->p - start;
    return 0;
}

/* A count as journal._add_usage takes it: an integer (negative: 0); a value that is not a number: 0.
 * -1: a float, or an integer of more than 18 digits (the reference reads those). */
static int count_value(const Val *v, long long *count)
{
    *count = 0;
    if (v->kind == FLOAT) return -1;
    if (v->kind != INT) return 0;
    long long x;
    if (js_int_value(v, &x) < 0) return -1;
    *count = x > 0 ? x : 0;
    return 0;
}

/* A Python str a Lines keeps for the last distinct text it saw in one field, with its repr. */
typedef struct {
    PyObject *text, *repr; /* repr: NULL until asked */
} Text;

/* The str of a plain (unescaped, UTF-8 checked) string value: the kept one when the bytes are the
 * same, else a new one kept in its place. A borrowed reference, or NULL with an exception set. */
static PyObject *text_of(Text *slot, const Val *v)
{
    if (slot->text != NULL) {
        Py_ssize_t n;
        const char *kept = PyUnicode_AsUTF8AndSize(slot->text, &n);
        if (kept == NULL) return NULL;
        if (n == v->n && memcmp(kept, v->s, (size_t)n) == 0) return slot->text;
    }
    PyObject *text = PyUnicode_DecodeUTF8((const char *)v->s, v->n, "strict");
    if (text == NULL) return NULL;
    Py_XSETREF(slot->text, text);
    Py_CLEAR(slot->repr);
    return text;
}

static PyObject *repr_of(Text *slot)
{
    if (slot->repr == NULL) slot->repr = PyObject_Repr(slot->text);
    return slot->repr;
}

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *records;     /* the tally's list of records */
    PyObject *state;       /* journal._State: `by_alias` (a dict) and `last` */
    PyObject *agent;       /* the agent directory's name (str) */
    PyObject *record_type; /* calls.UsageRecord */
    PyObject *reference;   /* journal.parse_line for this file: reference(line) */
    Text scope, alias, model;
    Py_ssize_t zero;
} Lines;

static PyObject *s_by_alias, *s_last, *s_unresolved;

/* The model a usage record of this alias gets: journal._State.model_for, without the call. A new
 * reference, or NULL; *defer when the state is not of the plain shape read here. */
static PyObject *model_for(Lines *self, PyObject *alias, int *defer)
{
    PyObject *by_alias = PyObject_GetAttr(self->state, s_by_alias);
    if (by_alias == NULL) return NULL;
    if (!PyDict_CheckExact(by_alias)) {
        Py_DECREF(by_alias);
        *defer = 1;
        return NULL;
    }
    PyObject *model = PyDict_GetItemWithError(by_alias, alias);
    Py_XINCREF(model);
    Py_DECREF(by_alias);
    if (model != NULL || PyErr_Occurred()) return model;
    PyObject *last = PyObject_GetAttr(self->state, s_last);
    if (last == NULL || last != Py_None) return last;
    Py_DECREF(last);
    return PyUnicode_Concat(s_unresolved, alias); /* printable(alias) is alias: no escape, no surrogate */
}

/* The key's text (the module's comment): one allocation when every part is ASCII. */
static PyObject *call_key(PyObject *agent, long long time, PyObject *scope, PyObject *alias,
                          const long long counts[4])
{
    char time_text[24], tail[4 * 21 + 1];
    Py_ssize_t time_n = js_put_int(time_text, time) - time_text;
    char *t = tail;
    for (int i = 0; i < 4; i++) {
        *t++ = '\x1f';
        t = js_put_int(t, counts[i]);
    }
    Py_ssize_t tail_n = t - tail;
    if (PyUnicode_IS_ASCII(agent) && PyUnicode_IS_ASCII(scope) && PyUnicode_IS_ASCII(alias)) {
        Py_ssize_t na = PyUnicode_GET_LENGTH(agent), ns = PyUnicode_GET_LENGTH(scope);
        Py_ssize_t nm = PyUnicode_GET_LENGTH(alias);
        PyObject *key = PyUnicode_New(2 + na + 1 + time_n + 1 + ns + 1 + nm + tail_n, 127);
        if (key == NULL) return NULL;
        char *out = (char *)PyUnicode_1BYTE_DATA(key);
        *out++ = 'c';
        *out++ = '\x1f';
        memcpy(out, PyUnicode_1BYTE_DATA(agent), (size_t)na);
        out += na;
        *out++ = '\x1f';
        memcpy(out, time_text, (size_t)time_n);
        out += time_n;
        *out++ = '\x1f';
        memcpy(out, PyUnicode_1BYTE_DATA(scope), (size_t)ns);
        out += ns;
        *out++ = '\x1f';
        memcpy(out, PyUnicode_1BYTE_DATA(alias), (size_t)nm);
        out += nm;
        memcpy(out, tail, (size_t)tail_n);
        return key;
    }
    time_text[time_n] = '\0';
    *t = '\0';
    return PyUnicode_FromFormat("c\x1f%U\x1f%s\x1f%U\x1f%U%s", agent, time_text, scope, alias, tail);
}

/* A usage.record the walk found: DONE (its record appended), ZERO, DEFER, or -1 (an exception). */
static int usage_record(Lines *self, const Parser *ps)
{
    if (ps->usage.kind != OBJ) return DEFER; /* none, null or not an object: a shape fault to name */
    long long counts[4];
    for (int i = 0; i < 4; i++)
        if (count_value(&ps->counts[i], &counts[i]) < 0) return DEFER;
    if (!(counts[0] || counts[1] || counts[2] || counts[3])) return ZERO;
    long long time;
    if (ps->time.kind != INT || js_int_value(&ps->time, &time) < 0) return DEFER;
    if (ps->scope.kind != STR || ps->model.kind != STR) return DEFER;
    PyObject *scope = text_of(&self->scope, &ps->scope);
    PyObject *alias = scope == NULL ? NULL : text_of(&self->alias, &ps->model);
    PyObject *scope_repr = alias == NULL ? NULL : repr_of(&self->scope);
    PyObject *alias_repr = scope_repr == NULL ? NULL : repr_of(&self->alias);
    if (alias_repr == NULL) return -1;
    int defer = 0;
    PyObject *model = model_for(self, alias, &defer);
    if (model == NULL) return defer ? DEFER : -1;
    PyObject *args[8] = {call_key(self->agent, time, scope_repr, alias_repr, counts), NULL, model};
    args[1] = time > 0 && time < MAX_TIME_MS ? PyFloat_FromDouble((double)time / 1000.0) : Py_NewRef(Py_None);
    for (int i = 0; i < 4; i++) args[3 + i] = PyLong_FromLongLong(counts[i]);
    args[7] = scope;
    PyObject *record = NULL;
    int ok = 1;
    for (int i = 0; i < 7; i++) ok &= args[i] != NULL;
    if (ok) record = PyObject_Vectorcall(self->record_type, args, 8, NULL);
    for (int i = 0; i < 7; i++) Py_XDECREF(args[i]);
    if (record == NULL) return -1;
    int rc = PyList_Append(self->records, record);
    Py_DECREF(record);
    return rc < 0 ? -1 : DONE;
}

/* An llm.request: journal._request, on plain strings. */
static int request(Lines *self, const Parser *ps)
{
    if (ps->model.kind == STR_ESC) return DEFER;
    if (ps->model.kind != STR || ps->model.n == 0) return DONE; /* names no model: its alias is not read */
    if (ps->alias.kind == STR_ESC) return DEFER;
    PyObject *model = text_of(&self->model, &ps->model); /* printable(model) is model: no escape */
    if (model == NULL || PyObject_SetAttr(self->state, s_last, model) < 0) return -1;
    if (ps->alias.kind != STR) return DONE;
    PyObject *alias = text_of(&self->alias, &ps->alias);
    if (alias == NULL) return -1;
    PyObject *by_alias = PyObject_GetAttr(self->state, s_by_alias);
    if (by_alias == NULL) return -1;
    int rc = PyObject_SetItem(by_alias, alias, model);
    Py_DECREF(by_alias);
    return rc < 0 ? -1 : DONE;
}

/* The answer for one line: DONE, ZERO, DEFER, or -1 with an exception set. */
static int answer(Lines *self, const unsigned char *bytes, Py_ssize_t len)
{
    if (len > LONG_LINE) return DEFER;
    Parser ps;
    memset(&ps, 0, sizeof ps);
    ps.p = js_skip_ws(bytes, bytes + len);
    ps.end = bytes + len;
    if (ps.p >= ps.end || *ps.p != '{') return DEFER;
    Val top;
    if (parse_value(&ps, C_TOP, &top) < 0) return DEFER;
    if (js_skip_ws(ps.p, ps.end) != ps.end) return DEFER;
    if (ps.type.kind != STR) return DEFER; /* absent, escaped or not text: rare, the reference decides */
    if (js_is(&ps.type, "usage.record")) return usage_record(self, &ps);
    if (js_is(&ps.type, "llm.request")) return request(self, &ps);
    if (js_is(&ps.type, "forked")) return DEFER; /* marks the records before it: the reference does */
    return DONE; /* another record that merely holds a needle */
}

static PyObject *lines_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Lines *self = (Lines *)op;
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "Lines() takes one line");
        return NULL;
    }
    PyObject *line = args[0];
    int what = DEFER;
    if (PyByteArray_CheckExact(line))
        what = answer(self, (const unsigned char *)PyByteArray_AS_STRING(line), PyByteArray_GET_SIZE(line));
    else if (PyBytes_CheckExact(line))
        what = answer(self, (const unsigned char *)PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line));
    if (what < 0) return NULL;
    if (what == ZERO) self->zero++;
    if (what == DEFER) return PyObject_CallOneArg(self->reference, line);
    Py_RETURN_NONE;
}

static PyObject *lines_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *records, *state, *agent, *record_type, *reference;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "Lines() takes positional arguments only");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!OUOO:Lines", &PyList_Type, &records, &state, &agent, &record_type, &reference))
        return NULL;
    Lines *self = (Lines *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->vectorcall = lines_call;
    self->records = Py_NewRef(records);
    self->state = Py_NewRef(state);
    self->agent = Py_NewRef(agent);
    self->record_type = Py_NewRef(record_type);
    self->reference = Py_NewRef(reference);
    return (PyObject *)self;
}

static void lines_dealloc(PyObject *op)
{
    Lines *self = (Lines *)op;
    Py_XDECREF(self->records);
    Py_XDECREF(self->state);
    Py_XDECREF(self->agent);
    Py_XDECREF(self->record_type);
    Py_XDECREF(self->reference);
    Text *texts[3] = {&self->scope, &self->alias, &self->model};
    for (int i = 0; i < 3; i++) {
        Py_XDECREF(texts[i]->text);
        Py_XDECREF(texts[i]->repr);
    }
    Py_TYPE(op)->tp_free(op);
}

static PyMemberDef lines_members[] = {
    {"zero", T_PYSSIZET, offsetof(Lines, zero), READONLY, "all-zero usage records the fast path counted"},
    {NULL, 0, 0, 0, NULL},
};

/* Not tracked by the cyclic collector (as _wire.Sink): what it holds never refers back to it. */
static PyTypeObject LinesType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "openusage.providers.kimi_code._journal.Lines",
    .tp_basicsize = sizeof(Lines),
    .tp_dealloc = lines_dealloc,
    .tp_vectorcall_offset = offsetof(Lines, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Lines(records, state, agent, record_type, reference): called with each candidate line of one "
              "journal (see journal.py)",
    .tp_members = lines_members,
    .tp_new = lines_new,
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "openusage.providers.kimi_code._journal",
    "Kimi Code's usage.record and llm.request lines read in C (see journal.py, the reference).", -1, NULL,
};

PyMODINIT_FUNC PyInit__journal(void)
{
    js_fill_tables();
    s_by_alias = PyUnicode_InternFromString("by_alias");
    s_last = PyUnicode_InternFromString("last");
    s_unresolved = PyUnicode_FromStringAndSize("\0", 1); /* config.UNRESOLVED */
    if (s_by_alias == NULL || s_last == NULL || s_unresolved == NULL) return NULL;
    if (PyType_Ready(&LinesType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "JOURNAL_VERSION", JOURNAL_VERSION) < 0 ||
        PyModule_AddObjectRef(m, "Lines", (PyObject *)&LinesType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
