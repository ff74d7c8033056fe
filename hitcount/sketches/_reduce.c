/* hitcount.sketches._reduce: distinct users in bulk, in C.
 *
 * reduce(codes, ts, user_codes, user_registers, bucket_s, precision, closed_right) computes, for a batch of
 * hits, the largest HyperLogLog rank per (endpoint, time bucket, register) with a radix sort;
 * it replaces numpy's sort in the worker processes and the parent (see sketchlog.py).
 * last_per_register and low_words compact a register log and lay its runs out for a save
 * in one pass each, instead of numpy's temporaries.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- distinct users: the largest rank per (endpoint, bucket, register) ---- */

/* Sort `keys` ascending on their low `bits` bits (LSD radix sort, 8 bits a pass). */
static int radix_sort(uint64_t *keys, Py_ssize_t n, int bits) {
    uint64_t *spare = PyMem_RawMalloc((size_t)(n ? n : 1) * sizeof(uint64_t));
    if (!spare) return -1;
    uint64_t *from = keys, *to = spare;
    for (int shift = 0; shift < bits; shift += 8) {
        Py_ssize_t count[257] = {0};
        for (Py_ssize_t i = 0; i < n; i++) count[((from[i] >> shift) & 255) + 1]++;
        for (int d = 0; d < 256; d++) count[d + 1] += count[d];
        for (Py_ssize_t i = 0; i < n; i++) to[count[(from[i] >> shift) & 255]++] = from[i];
        uint64_t *swap = from;
        from = to;
        to = swap;
    }
    if (from != keys) memcpy(keys, from, (size_t)n * sizeof(uint64_t));
    PyMem_RawFree(spare);
    return 0;
}

static int bit_length(uint64_t v) {
    int bits = 0;
    while (v) {
        bits++;
        v >>= 1;
    }
    return bits;
}

/* reduce(codes, ts, user_codes, user_registers, bucket_s, precision, closed_right): for the
 * hits with a
 * user (user code >= 0), the largest rank per (endpoint code, bucket, register), where a
 * user's `index << 6 | rank` is `user_registers[user code]` (int64). Returns
 * (pair codes, pair buckets, pair sizes) as int64 and (registers uint32, ranks uint8), pairs
 * sorted by (code, bucket) and registers increasing within a pair; None when the pairs are
 * too spread out to number in 64-bit keys (the caller then sorts with numpy). */
static PyObject *reduce(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer codes_view, ts_view, users_view, table_view;
    double bucket_s;
    int precision, closed_right;
    if (!PyArg_ParseTuple(args, "y*y*y*y*dip", &codes_view, &ts_view, &users_view, &table_view,
                          &bucket_s, &precision, &closed_right))
        return NULL;
    PyObject *result = NULL;
    uint64_t *keys = NULL;
    int64_t *buckets = NULL;
    PyObject *pair_codes = NULL, *pair_buckets = NULL, *pair_sizes = NULL;
    PyObject *registers = NULL, *ranks = NULL;
    const Py_ssize_t n = codes_view.len / (Py_ssize_t)sizeof(int32_t);
    const Py_ssize_t users = table_view.len / (Py_ssize_t)sizeof(int64_t);
    const int32_t *codes = codes_view.buf, *user_codes = users_view.buf;
    const double *ts = ts_view.buf;
    const int64_t *table = table_view.buf;
    if (ts_view.len != n * (Py_ssize_t)sizeof(double) ||
        users_view.len != n * (Py_ssize_t)sizeof(int32_t) || precision < 4 || precision > 25 ||
        !(bucket_s > 0)) {
        PyErr_SetString(PyExc_ValueError, "reduce: arrays of different lengths or bad parameters");
        goto out;
    }
    keys = PyMem_RawMalloc((size_t)(n ? n : 1) * sizeof(uint64_t));
    buckets = PyMem_RawMalloc((size_t)(n ? n : 1) * sizeof(int64_t));
    if (!keys || !buckets) {
        PyErr_NoMemory();
        goto out;
    }
    /* Buckets first: their span numbers the pairs. */
    int64_t first = INT64_MAX, last = INT64_MIN;
    int32_t top_code = 0;
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t user = user_codes[i];
        if (user < 0) continue;
        if (user >= users || codes[i] < 0) {
            PyErr_SetString(PyExc_ValueError, "reduce: a code out of range");
            goto out;
        }
        /* (lo, hi] buckets: ceil - 1, so a hit on an edge closes the bucket below it */
        double b = closed_right ? ceil(ts[i] / bucket_s) - 1 : floor(ts[i] / bucket_s);
        if (!(b > -9e15 && b < 9e15)) goto none; /* far out: numpy copes */
        buckets[i] = (int64_t)b;
        if (buckets[i] < first) first = buckets[i];
        if (buckets[i] > last) last = buckets[i];
        if (codes[i] > top_code) top_code = codes[i];
        m++;
    }
    const int pair_bits = precision + 6;
    uint64_t span = m ? (uint64_t)(last - first) + 1 : 1;
    if (span > (1ULL << 40) || span > (UINT64_MAX >> 1) / ((uint64_t)top_code + 1)) goto none;
    uint64_t pairs = span * ((uint64_t)top_code + 1);
    if (pairs >= (1ULL << (62 - pair_bits))) goto none;
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t user = user_codes[i];
        if (user < 0) continue;
        uint64_t pair = (uint64_t)codes[i] * span + (uint64_t)(buckets[i] - first);
        keys[k++] = (pair << pair_bits) | (uint64_t)table[user];
    }
    if (radix_sort(keys, k, bit_length(pairs ? pairs - 1 : 0) + pair_bits) < 0) {
        PyErr_NoMemory();
        goto out;
    }
    /* The last key of each (pair, register) run holds its largest rank. */
    Py_ssize_t kept = 0, pair_count = 0;
    for (Py_ssize_t i = 0; i < k; i++) {
        if (i + 1 < k && (keys[i + 1] >> 6) == (keys[i] >> 6)) continue;
        if (kept == 0 || (keys[kept - 1] >> pair_bits) != (keys[i] >> pair_bits)) pair_count++;
        keys[kept++] = keys[i];
    }
    pair_codes = PyByteArray_FromStringAndSize(NULL, pair_count * 8);
    pair_buckets = PyByteArray_FromStringAndSize(NULL, pair_count * 8);
    pair_sizes = PyByteArray_FromStringAndSize(NULL, pair_count * 8);
    registers = PyByteArray_FromStringAndSize(NULL, kept * 4);
    ranks = PyByteArray_FromStringAndSize(NULL, kept);
    if (!pair_codes || !pair_buckets || !pair_sizes || !registers || !ranks) goto out;
    int64_t *out_codes = (int64_t *)PyByteArray_AS_STRING(pair_codes);
    int64_t *out_buckets = (int64_t *)PyByteArray_AS_STRING(pair_buckets);
    int64_t *out_sizes = (int64_t *)PyByteArray_AS_STRING(pair_sizes);
    uint32_t *out_registers = (uint32_t *)PyByteArray_AS_STRING(registers);
    uint8_t *out_ranks = (uint8_t *)PyByteArray_AS_STRING(ranks);
    Py_ssize_t p = -1;
    for (Py_ssize_t i = 0; i < kept; i++) {
        uint64_t pair = keys[i] >> pair_bits;
        if (i == 0 || pair != (keys[i - 1] >> pair_bits)) {
            p++;
            out_codes[p] = (int64_t)(pair / span);
            out_buckets[p] = first + (int64_t)(pair % span);
            out_sizes[p] = 0;
        }
        out_sizes[p]++;
        out_registers[i] = (uint32_t)((keys[i] >> 6) & ((1ULL << precision) - 1));
        out_ranks[i] = (uint8_t)(keys[i] & 63);
    }
    result = Py_BuildValue("(OOOOO)", pair_codes, pair_buckets, pair_sizes, registers, ranks);
    goto out;
none:
    result = Py_NewRef(Py_None);
out:
    Py_XDECREF(pair_codes);
    Py_XDECREF(pair_buckets);
    Py_XDECREF(pair_sizes);
    Py_XDECREF(registers);
    Py_XDECREF(ranks);
    PyMem_RawFree(keys);
    PyMem_RawFree(buckets);
    PyBuffer_Release(&codes_view);
    PyBuffer_Release(&ts_view);
    PyBuffer_Release(&users_view);
    PyBuffer_Release(&table_view);
    return result;
}

#include "_blake2b.h"

/* user_registers(names, precision) -> bytes of int64 `index << 6 | rank`, one per name. */
static PyObject *user_registers(PyObject *self, PyObject *args) {
    PyObject *names;
    int precision;
    if (!PyArg_ParseTuple(args, "Oi", &names, &precision)) return NULL;
    if (precision < 4 || precision > 57) {
        PyErr_SetString(PyExc_ValueError, "precision must be between 4 and 57");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(names, "names must be a sequence of str");
    if (!seq) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyBytes_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(int64_t));
    if (!out) goto fail;
    int64_t *packed = (int64_t *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "names must be str");
            goto fail;
        }
        Py_ssize_t size;
        const char *text = PyUnicode_AsUTF8AndSize(name, &size);
        uint64_t hashed;
        if (text) {
            hashed = hash64((const uint8_t *)text, (size_t)size);
        } else { /* lone surrogates: encode them as Python's "surrogatepass" does */
            PyErr_Clear();
            PyObject *raw = PyUnicode_AsEncodedString(name, "utf-8", "surrogatepass");
            if (!raw) goto fail;
            hashed = hash64((const uint8_t *)PyBytes_AS_STRING(raw), (size_t)PyBytes_GET_SIZE(raw));
            Py_DECREF(raw);
        }
        packed[i] = register_of(hashed, precision);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_XDECREF(out);
    Py_DECREF(seq);
    return NULL;
}

/* ---- register logs: compaction and chunk layout in one pass (see sketchlog.py) ---- */

/* last_per_register(keys) -> n: of sorted int64 keys `pair << 32 | ... | register << 6 |
 * rank` (a writable buffer), keep in place the last key (the largest rank) of each run of
 * equal `key >> 6`; returns how many are kept, at the front. */
static PyObject *last_per_register(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "w*", &view)) return NULL;
    if (view.len % (Py_ssize_t)sizeof(int64_t)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "keys must be int64");
        return NULL;
    }
    int64_t *keys = (int64_t *)view.buf;
    Py_ssize_t n = view.len / (Py_ssize_t)sizeof(int64_t), kept = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i + 1 == n || (keys[i] >> 6) != (keys[i + 1] >> 6)) keys[kept++] = keys[i];
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(kept);
}

/* low_words(keys, starts, sizes) -> bytes: the low 32 bits of the int64 keys of each run
 * `keys[starts[i] : starts[i] + sizes[i]]`, runs in the order given, as native uint32s. */
static PyObject *low_words(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer keys_view, starts_view, sizes_view;
    if (!PyArg_ParseTuple(args, "y*y*y*", &keys_view, &starts_view, &sizes_view)) return NULL;
    PyObject *out = NULL;
    Py_ssize_t n = keys_view.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t runs = starts_view.len / (Py_ssize_t)sizeof(int64_t);
    if (keys_view.len % 8 || starts_view.len % 8 || starts_view.len != sizes_view.len) {
        PyErr_SetString(PyExc_ValueError, "keys, starts and sizes must be int64, as many starts as sizes");
        goto done;
    }
    const int64_t *keys = keys_view.buf, *starts = starts_view.buf, *sizes = sizes_view.buf;
    Py_ssize_t total = 0;
    for (Py_ssize_t r = 0; r < runs; r++) {
        if (starts[r] < 0 || sizes[r] < 0 || starts[r] > n || sizes[r] > n - starts[r]) {
            PyErr_SetString(PyExc_ValueError, "a run lies outside the keys");
            goto done;
        }
        total += sizes[r];
    }
    out = PyBytes_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(uint32_t));
    if (!out) goto done;
    uint32_t *words = (uint32_t *)PyBytes_AS_STRING(out);
    for (Py_ssize_t r = 0; r < runs; r++) {
        const int64_t *run = keys + starts[r];
        for (int64_t i = 0; i < sizes[r]; i++) *words++ = (uint32_t)((uint64_t)run[i] & 0xffffffffu);
    }
done:
    PyBuffer_Release(&keys_view);
    PyBuffer_Release(&starts_view);
    PyBuffer_Release(&sizes_view);
    return out;
}

static PyMethodDef methods[] = {
    {"reduce", reduce, METH_VARARGS,
     "reduce(codes, ts, user_codes, user_registers, bucket_s, precision, closed_right) -> (pair codes, "
     "pair buckets, pair sizes, registers, ranks) or None"},
    {"user_registers", user_registers, METH_VARARGS,
     "user_registers(names, precision) -> bytes of int64 index << 6 | rank (hll.hash64), one per name"},
    {"last_per_register", last_per_register, METH_VARARGS,
     "last_per_register(keys) -> n: sorted int64 keys compacted in place to the last of each register"},
    {"low_words", low_words, METH_VARARGS,
     "low_words(keys, starts, sizes) -> bytes: the low 32 bits of each run's keys, runs in order"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "hitcount.sketches._reduce", "Distinct users in bulk, in C.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__reduce(void) { return PyModule_Create(&module); }
