/* hitcount.sketches._reduce: distinct users in bulk, in C.
 *
 * reduce(codes, ts, user_codes, user_registers, bucket_s, precision, closed_right) computes, for a batch of
 * hits, the largest HyperLogLog rank per (endpoint, time bucket, register) with a radix sort;
 * it replaces numpy's sort in the worker processes and the parent (see sketchlog.py).
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

/* ---- user registers: BLAKE2b with an 8-byte digest (RFC 7693), no key ---- */

static const uint64_t B2B_IV[8] = {
    0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL, 0xA54FF53A5F1D36F1ULL,
    0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL, 0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL,
};

static const uint8_t B2B_SIGMA[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static inline uint64_t rotr64(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

#define B2B_G(a, b, c, d, x, y)            \
    do {                                   \
        v[a] = v[a] + v[b] + (x);          \
        v[d] = rotr64(v[d] ^ v[a], 32);    \
        v[c] = v[c] + v[d];                \
        v[b] = rotr64(v[b] ^ v[c], 24);    \
        v[a] = v[a] + v[b] + (y);          \
        v[d] = rotr64(v[d] ^ v[a], 16);    \
        v[c] = v[c] + v[d];                \
        v[b] = rotr64(v[b] ^ v[c], 63);    \
    } while (0)

#define B2B_ROUND(r)                                                 \
    do {                                                             \
        B2B_G(0, 4, 8, 12, m[B2B_SIGMA[r][0]], m[B2B_SIGMA[r][1]]);   \
        B2B_G(1, 5, 9, 13, m[B2B_SIGMA[r][2]], m[B2B_SIGMA[r][3]]);   \
        B2B_G(2, 6, 10, 14, m[B2B_SIGMA[r][4]], m[B2B_SIGMA[r][5]]);  \
        B2B_G(3, 7, 11, 15, m[B2B_SIGMA[r][6]], m[B2B_SIGMA[r][7]]);  \
        B2B_G(0, 5, 10, 15, m[B2B_SIGMA[r][8]], m[B2B_SIGMA[r][9]]);  \
        B2B_G(1, 6, 11, 12, m[B2B_SIGMA[r][10]], m[B2B_SIGMA[r][11]]); \
        B2B_G(2, 7, 8, 13, m[B2B_SIGMA[r][12]], m[B2B_SIGMA[r][13]]);  \
        B2B_G(3, 4, 9, 14, m[B2B_SIGMA[r][14]], m[B2B_SIGMA[r][15]]);  \
    } while (0)

/* Compress one 128-byte block into `h`; `t` counts the bytes so far, `last` marks the end. */
static void b2b_compress(uint64_t h[8], const uint8_t block[128], uint64_t t, int last) {
    uint64_t v[16], m[16];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(m, block, sizeof m); /* the words are little-endian, as this machine's */
#else
    for (int i = 0; i < 16; i++) {
        uint64_t w = 0;
        for (int j = 7; j >= 0; j--) w = (w << 8) | block[8 * i + j];
        m[i] = w;
    }
#endif
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = B2B_IV[i];
    }
    v[12] ^= t; /* the high word of the counter stays 0: inputs under 2**64 bytes */
    if (last) v[14] = ~v[14];
    /* 12 rounds, unrolled so that the message schedule is constant (rounds 10, 11 = 0, 1) */
    B2B_ROUND(0); B2B_ROUND(1); B2B_ROUND(2); B2B_ROUND(3); B2B_ROUND(4); B2B_ROUND(5);
    B2B_ROUND(6); B2B_ROUND(7); B2B_ROUND(8); B2B_ROUND(9); B2B_ROUND(0); B2B_ROUND(1);
    for (int i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

/* hll.hash64: BLAKE2b of `data` with an 8-byte digest, read as a big-endian integer. */
static uint64_t hash64(const uint8_t *data, size_t n) {
    uint64_t h[8];
    uint8_t block[128];
    memcpy(h, B2B_IV, sizeof h);
    h[0] ^= 0x01010000ULL ^ 8; /* depth 1, fanout 1, no key, digest length 8 */
    uint64_t t = 0;
    while (n > 128) {
        t += 128;
        b2b_compress(h, data, t, 0);
        data += 128;
        n -= 128;
    }
    memset(block, 0, sizeof block);
    if (n) memcpy(block, data, n);
    b2b_compress(h, block, t + n, 1);
    uint64_t big = 0; /* the digest is h[0]'s bytes, little-endian; read them big-endian */
    for (int j = 0; j < 8; j++) big = (big << 8) | ((h[0] >> (8 * j)) & 255);
    return big;
}

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
    int free_bits = 64 - precision;
    uint64_t mask = (1ULL << free_bits) - 1;
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
        uint64_t low = hashed & mask;
        int length = 0;
        while (low) {
            length++;
            low >>= 1;
        }
        packed[i] = (int64_t)(((hashed >> free_bits) << 6) | (uint64_t)(free_bits + 1 - length));
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_XDECREF(out);
    Py_DECREF(seq);
    return NULL;
}

static PyMethodDef methods[] = {
    {"reduce", reduce, METH_VARARGS,
     "reduce(codes, ts, user_codes, user_registers, bucket_s, precision, closed_right) -> (pair codes, "
     "pair buckets, pair sizes, registers, ranks) or None"},
    {"user_registers", user_registers, METH_VARARGS,
     "user_registers(names, precision) -> bytes of int64 index << 6 | rank (hll.hash64), one per name"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "hitcount.sketches._reduce", "Distinct users in bulk, in C.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__reduce(void) { return PyModule_Create(&module); }
