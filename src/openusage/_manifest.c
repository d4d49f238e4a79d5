/* The warm check's stats, compiled: `differ(paths, expected)`, the twin of
 * `openusage.manifest.differ_pure` (its documentation and reference; tests/test_manifest.py holds the
 * two equal). Each NUL-ended path is stat'ed (following symlinks) and its mode, device, inode, size,
 * mtime_ns and ctime_ns, as unsigned 64-bit values, compared with `expected` (six per path, native byte
 * order; a missing path compares as all zeros). Returns the indices that differ, in order.
 *
 * Why compiled: a warm run of a 1 GB history stats ~8,000 paths; os.stat builds a stat_result (a
 * tuple of a dozen objects, floats among them) per call, which is about a third of each call's cost.
 * The stats run without the GIL, on two threads when there are many (the calls are independent, and
 * a system call is most of their cost). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MANIFEST_VERSION 1 /* openusage.manifest.NATIVE_VERSION: the contract below */
#define FIELDS 6
#define THREAD_MIN 2048 /* below this many paths one thread does it all: a thread costs ~50 us */

typedef struct {
    const char *const *paths;
    const uint64_t *expected;
    Py_ssize_t start, end;
    unsigned char *differs; /* one flag per path */
} Part;

static void check_one(const char *path, const uint64_t *want, unsigned char *differs) {
    struct stat st;
    uint64_t now[FIELDS];
    if (stat(path, &st) == 0) {
        now[0] = (uint64_t)st.st_mode;
        now[1] = (uint64_t)st.st_dev;
        now[2] = (uint64_t)st.st_ino;
        now[3] = (uint64_t)(int64_t)st.st_size;
        now[4] = (uint64_t)((int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
        now[5] = (uint64_t)((int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);
    } else if (errno == ENOENT) {
        memset(now, 0, sizeof now);
    } else {
        *differs = 1; /* cannot be stat'ed: the comparison says what it is */
        return;
    }
    *differs = memcmp(now, want, sizeof now) != 0;
}

static void *run_part(void *arg) {
    Part *part = (Part *)arg;
    for (Py_ssize_t i = part->start; i < part->end; i++)
        check_one(part->paths[i], part->expected + i * FIELDS, part->differs + i);
    return NULL;
}

static PyObject *differ(PyObject *self, PyObject *args) {
    Py_buffer paths, expected;
    if (!PyArg_ParseTuple(args, "y*y*:differ", &paths, &expected))
        return NULL;
    PyObject *result = NULL;
    const char **starts = NULL;
    unsigned char *differs = NULL;
    uint64_t *want = NULL;
    const char *text = (const char *)paths.buf;
    Py_ssize_t count = 0;
    for (Py_ssize_t at = 0; at < paths.len; at++)
        count += text[at] == '\0';
    if ((paths.len && text[paths.len - 1] != '\0') || expected.len != count * FIELDS * (Py_ssize_t)sizeof(uint64_t)) {
        PyErr_SetString(PyExc_ValueError, "differ: paths and expected stats do not match");
        goto done;
    }
    starts = PyMem_Malloc(sizeof(char *) * (size_t)(count ? count : 1));
    differs = PyMem_Calloc((size_t)(count ? count : 1), 1);
    want = PyMem_Malloc((size_t)(expected.len ? expected.len : 1)); /* aligned, whatever the buffer's */
    if (starts == NULL || differs == NULL || want == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(want, expected.buf, (size_t)expected.len);
    Py_ssize_t index = 0, begin = 0;
    for (Py_ssize_t at = 0; at < paths.len; at++) {
        if (text[at] == '\0') {
            starts[index++] = text + begin;
            begin = at + 1;
        }
    }
    Part parts[2] = {{starts, want, 0, count, differs}, {starts, want, count, count, differs}};
    Py_BEGIN_ALLOW_THREADS
    pthread_t helper;
    int threaded = 0;
    if (count >= THREAD_MIN) {
        parts[0].end = parts[1].start = count / 2;
        threaded = pthread_create(&helper, NULL, run_part, &parts[1]) == 0;
        if (!threaded)
            parts[0].end = count; /* no thread: this one does it all */
    }
    run_part(&parts[0]);
    if (threaded)
        pthread_join(helper, NULL);
    Py_END_ALLOW_THREADS
    result = PyList_New(0);
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!differs[i])
            continue;
        PyObject *number = PyLong_FromSsize_t(i);
        if (number == NULL || PyList_Append(result, number) < 0) {
            Py_XDECREF(number);
            Py_CLEAR(result);
            goto done;
        }
        Py_DECREF(number);
    }
done:
    PyMem_Free(starts);
    PyMem_Free(differs);
    PyMem_Free(want);
    PyBuffer_Release(&paths);
    PyBuffer_Release(&expected);
    return result;
}

static PyMethodDef methods[] = {
    {"differ", differ, METH_VARARGS, "The indices of the paths whose stat differs from the expected one."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_manifest", NULL, -1, methods};

PyMODINIT_FUNC PyInit__manifest(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "MANIFEST_VERSION", MANIFEST_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
