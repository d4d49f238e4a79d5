/* openusage._hot: the compiled twin of `openusage.hot.lines`, the candidate reader's per-block loop.
 *
 * One call per block: find every needle in buf[i:n], and hand each complete line holding one to
 * `on_line` in file order (a copy: a bytearray, or bytes read with pread when the line started in an
 * earlier block), so Python is entered once per candidate line instead of several times per hit.
 * The pure-Python function in hot.py is the reference; tests/test_hot_kernels.py holds the two equal.
 *
 * The substring search compares two bytes of the needle at 64 (AVX-512BW), 32 (AVX2) or 16 (SSE2)
 * positions at once and checks the whole needle only where both match; each wider loop leaves its last
 * positions to the narrower ones, and those to memmem, which is all there is elsewhere (not x86-64, not
 * gcc/clang).
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HOT_X86 1
#endif

/* Bumped whenever the function's contract changes: hot.py refuses a stale build (an editable install
 * whose .so predates the source) and falls back to pure Python. */
#define KERNEL_VERSION 1
#define MAX_NEEDLES 16
/* Below this many bytes to search, releasing the GIL costs more than it lets other threads do. */
#define RELEASE_GIL_BYTES (16 * 1024)

typedef struct {
    const unsigned char *bytes;
    Py_ssize_t len;
    Py_ssize_t a, b;      /* the two positions compared first */
    Py_ssize_t next;      /* the first hit at or after `from`, or -1 for none before the block end */
    Py_ssize_t from;      /* where `next` was searched from */
} Needle;

typedef Py_ssize_t (*find_fn)(const unsigned char *, Py_ssize_t, Py_ssize_t, const Needle *);

static Py_ssize_t find_scalar(const unsigned char *h, Py_ssize_t from, Py_ssize_t to, const Needle *nd)
{
    if (to - from < nd->len)
        return -1;
    const unsigned char *hit = memmem(h + from, (size_t)(to - from), nd->bytes, (size_t)nd->len);
    return hit == NULL ? -1 : (Py_ssize_t)(hit - h);
}

#ifdef HOT_X86
/* Positions p in [from, to - len] where the needle starts: a vector compares the needle's bytes a and b
 * at 16 consecutive positions; each position where both match is checked in full. */
static Py_ssize_t find_sse2(const unsigned char *h, Py_ssize_t from, Py_ssize_t to, const Needle *nd)
{
    const Py_ssize_t m = nd->len, a = nd->a, b = nd->b;
    if (to - from < m)
        return -1;
    const __m128i va = _mm_set1_epi8((char)nd->bytes[a]), vb = _mm_set1_epi8((char)nd->bytes[b]);
    Py_ssize_t p = from;
    for (; p + m + 15 <= to; p += 16) {  /* every position checked here has its whole needle inside */
        __m128i ea = _mm_cmpeq_epi8(va, _mm_loadu_si128((const __m128i *)(h + p + a)));
        __m128i eb = _mm_cmpeq_epi8(vb, _mm_loadu_si128((const __m128i *)(h + p + b)));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_and_si128(ea, eb));
        while (mask) {
            int j = __builtin_ctz(mask);
            if (memcmp(h + p + j, nd->bytes, (size_t)m) == 0)
                return p + j;
            mask &= mask - 1;
        }
    }
    return find_scalar(h, p, to, nd);
}

__attribute__((target("avx2")))
static Py_ssize_t find_avx2(const unsigned char *h, Py_ssize_t from, Py_ssize_t to, const Needle *nd)
{
    const Py_ssize_t m = nd->len, a = nd->a, b = nd->b;
    if (to - from < m)
        return -1;
    const __m256i va = _mm256_set1_epi8((char)nd->bytes[a]), vb = _mm256_set1_epi8((char)nd->bytes[b]);
    Py_ssize_t p = from;
    for (; p + m + 31 <= to; p += 32) {
        __m256i ea = _mm256_cmpeq_epi8(va, _mm256_loadu_si256((const __m256i *)(h + p + a)));
        __m256i eb = _mm256_cmpeq_epi8(vb, _mm256_loadu_si256((const __m256i *)(h + p + b)));
        unsigned mask = (unsigned)_mm256_movemask_epi8(_mm256_and_si256(ea, eb));
        while (mask) {
            int j = __builtin_ctz(mask);
            if (memcmp(h + p + j, nd->bytes, (size_t)m) == 0)
                return p + j;
            mask &= mask - 1;
        }
    }
    return find_sse2(h, p, to, nd);
}

__attribute__((target("avx512bw")))
static Py_ssize_t find_avx512(const unsigned char *h, Py_ssize_t from, Py_ssize_t to, const Needle *nd)
{
    const Py_ssize_t m = nd->len, a = nd->a, b = nd->b;
    if (to - from < m)
        return -1;
    const __m512i va = _mm512_set1_epi8((char)nd->bytes[a]), vb = _mm512_set1_epi8((char)nd->bytes[b]);
    Py_ssize_t p = from;
    for (; p + m + 63 <= to; p += 64) {
        __mmask64 mask = _mm512_cmpeq_epi8_mask(va, _mm512_loadu_si512((const void *)(h + p + a))) &
                         _mm512_cmpeq_epi8_mask(vb, _mm512_loadu_si512((const void *)(h + p + b)));
        while (mask) {
            int j = __builtin_ctzll(mask);
            if (memcmp(h + p + j, nd->bytes, (size_t)m) == 0)
                return p + j;
            mask &= mask - 1;
        }
    }
    return find_avx2(h, p, to, nd);
}
#endif

static find_fn find = find_scalar;
static const char *search_name = "memmem";

/* The needle's two bytes compared first: inside the quotes (a quote is everywhere in JSON), the rarest
 * by a rough letter frequency, so that fewer positions pass the filter to the full comparison. */
static int rarity(unsigned char c)
{
    static const char common[] = "etaoinsrhldcumfpgwybvkxjqz";  /* most frequent first */
    const char *at = c ? strchr(common, c | 0x20) : NULL;
    return at == NULL ? 30 : (int)(at - common);
}

static void choose_positions(Needle *nd)
{
    Py_ssize_t lo = nd->len > 2 ? 1 : 0, hi = nd->len > 2 ? nd->len - 2 : nd->len - 1;
    Py_ssize_t best = lo, second = hi;
    for (Py_ssize_t k = lo; k <= hi; k++)
        if (rarity(nd->bytes[k]) > rarity(nd->bytes[best]))
            best = k;
    second = best == hi ? lo : hi;
    for (Py_ssize_t k = lo; k <= hi; k++)
        if (k != best && nd->bytes[k] != nd->bytes[best] && rarity(nd->bytes[k]) > rarity(nd->bytes[second]))
            second = k;
    nd->a = best < second ? best : second;
    nd->b = best < second ? second : best;
}

/* The next hit of any needle at or after `from`, before `n`; which needle is irrelevant. */
static Py_ssize_t next_hit(const unsigned char *h, Needle *needles, Py_ssize_t count, Py_ssize_t from, Py_ssize_t n)
{
    Py_ssize_t first = -1;
    for (Py_ssize_t k = 0; k < count; k++) {
        Needle *nd = &needles[k];
        if (nd->next != -1 ? nd->next < from : nd->from < 0) {
            nd->from = from;
            if (n - from >= RELEASE_GIL_BYTES) {
                Py_BEGIN_ALLOW_THREADS
                nd->next = find(h, from, n, nd);
                Py_END_ALLOW_THREADS
            } else {
                nd->next = find(h, from, n, nd);
            }
        }
        if (nd->next >= 0 && (first < 0 || nd->next < first))
            first = nd->next;
    }
    return first;
}

/* os.pread(fd, length, offset): one read, its bytes (fewer when the file shrank). */
static PyObject *pread_bytes(int fd, Py_ssize_t length, Py_ssize_t offset)
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, length);
    if (out == NULL)
        return NULL;
    ssize_t got;
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        got = pread(fd, PyBytes_AS_STRING(out), (size_t)length, (off_t)offset);
        Py_END_ALLOW_THREADS
        if (got >= 0 || errno != EINTR)
            break;
        if (PyErr_CheckSignals() < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    if (got < 0) {
        Py_DECREF(out);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (got != length && _PyBytes_Resize(&out, (Py_ssize_t)got) < 0)
        return NULL;
    return out;
}

static int load_needles(PyObject *tuple, Needle *needles, Py_ssize_t *count)
{
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) < 1 || PyTuple_GET_SIZE(tuple) > MAX_NEEDLES) {
        PyErr_SetString(PyExc_TypeError, "needles: a tuple of 1 to 16 non-empty bytes");
        return -1;
    }
    *count = PyTuple_GET_SIZE(tuple);
    for (Py_ssize_t k = 0; k < *count; k++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, k);
        if (!PyBytes_Check(item) || PyBytes_GET_SIZE(item) < 1) {
            PyErr_SetString(PyExc_TypeError, "needles: a tuple of 1 to 16 non-empty bytes");
            return -1;
        }
        needles[k].bytes = (const unsigned char *)PyBytes_AS_STRING(item);
        needles[k].len = PyBytes_GET_SIZE(item);
        needles[k].next = -1;
        needles[k].from = -1;  /* not searched yet */
        choose_positions(&needles[k]);
    }
    return 0;
}

/* The loop itself, over a buffer held for the whole call (a bytearray cannot be resized meanwhile). */
static PyObject *block_lines(const unsigned char *buf, Needle *needles, Py_ssize_t count, Py_ssize_t base,
                             Py_ssize_t i, Py_ssize_t n, Py_ssize_t line_start, int fd, PyObject *on_line)
{
    Py_ssize_t hit;
    while ((hit = next_hit(buf, needles, count, i, n)) >= 0) {
        const unsigned char *before = memrchr(buf, '\n', (size_t)hit);
        Py_ssize_t ls = before != NULL ? base + (before - buf) + 1 : line_start;
        const unsigned char *after = memchr(buf + hit, '\n', (size_t)(n - hit));
        if (after == NULL)
            return Py_BuildValue("(nn)", i, ls);
        Py_ssize_t nl = after - buf;
        PyObject *line = ls >= base
            ? PyByteArray_FromStringAndSize((const char *)buf + (ls - base), nl - (ls - base))
            : pread_bytes(fd, base + nl - ls, ls);
        if (line == NULL)
            return NULL;
        PyObject *result = PyObject_CallOneArg(on_line, line);
        Py_DECREF(line);
        if (result == NULL)
            return NULL;
        Py_DECREF(result);
        i = nl + 1;
        line_start = base + i;
    }
    return Py_BuildValue("(nn)", i, (Py_ssize_t)-1);
}

PyDoc_STRVAR(lines_doc,
"lines(buf, needles, base, i, n, line_start, fd, on_line) -> (i, pending)\n\n"
"The candidate lines of one block, as openusage.hot.lines (the reference).");

static PyObject *lines(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "lines() takes 8 arguments");
        return NULL;
    }
    Needle needles[MAX_NEEDLES];
    Py_ssize_t count, base, i, n, line_start;
    if (load_needles(args[1], needles, &count) < 0)
        return NULL;
    base = PyLong_AsSsize_t(args[2]);
    i = PyLong_AsSsize_t(args[3]);
    n = PyLong_AsSsize_t(args[4]);
    line_start = PyLong_AsSsize_t(args[5]);
    long fd = PyLong_AsLong(args[6]);
    if (PyErr_Occurred())
        return NULL;
    if (fd < -1 || fd > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "lines(): fd out of range");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *out;
    if (i < 0 || n < i || n > view.len) {
        PyErr_SetString(PyExc_ValueError, "lines(): need 0 <= i <= n <= len(buf)");
        out = NULL;
    } else {
        out = block_lines((const unsigned char *)view.buf, needles, count, base, i, n, line_start, (int)fd,
                          args[7]);
    }
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef methods[] = {
    {"lines", (PyCFunction)(void (*)(void))lines, METH_FASTCALL, lines_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "openusage._hot", "The candidate reader's block loop, compiled (see hot.py).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__hot(void)
{
#ifdef HOT_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512bw")) {
        find = find_avx512;
        search_name = "avx512bw";
    } else if (__builtin_cpu_supports("avx2")) {
        find = find_avx2;
        search_name = "avx2";
    } else {
        find = find_sse2;
        search_name = "sse2";
    }
#endif
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "KERNEL_VERSION", KERNEL_VERSION) < 0 ||
        PyModule_AddStringConstant(m, "SEARCH", search_name) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
