/* hitcount.ingest._scan: the fast paths in C.
 *
 * scan_lines(block, format, users, latest, seed, endpoint_col, ts_col, user_col) reads a
 * block line by line in one of three formats (0 NDJSON, 1 common/combined access log, 2 CSV
 * with the given columns; the readers of the last two are in _scan_text.h). It returns
 *
 *     (endpoint names, endpoint codes, timestamps, user names, user codes, skipped)
 *
 * as `scan` does, one entry a line, and `skipped`: the int32 indexes of the lines it did not
 * read exactly as the per-line parser would (their codes are -1). The caller hands those to
 * the per-line parser; UTF-8 is checked here, line by line. With a `precision` (an optional
 * last argument, 4..57), the users come as their HLL registers instead of their names: int64
 * `index << 6 | rank` bytes, one per user code, hashed from the bytes read (no str made).
 *
 * scan(block, users, latest, seed) reads a block of NDJSON lines whose values are plain:
 * `{"endpoint": "/a", "ts": 1700000000.25, "user": "u1"}` in any key order, any spacing
 * (spaces and tabs), other keys with plain values ignored. It returns the columns
 *
 *     (endpoint names, endpoint codes, timestamps, user names, user codes, non_ascii)
 *
 * names as lists of bytes in first-seen order, codes as int32 and timestamps as float64 in
 * bytearrays (user names and codes are None when no line has a user, or when `users` is
 * false; a user code of -1 is a line without one), and non_ascii tells whether some byte
 * was >= 0x80 (the caller then checks that the block is UTF-8).
 *
 * It returns None as soon as a line holds anything it does not read exactly as the
 * per-line parser does: an escape, a control character, a nested value, a number with a
 * sign or an exponent or too many digits, a string timestamp that is neither a plain number
 * nor ISO 8601 of the shape read_iso takes, a duplicate key, a blank
 * line, a missing field, an empty or over-long endpoint, an over-long user, a timestamp
 * past `latest`. The caller then decodes the block the careful way, so this code only
 * ever skips work and never changes an answer.
 *
 * Timestamps: the digits of `I.F` are read as one integer m and, when m <= 2^53, divided by
 * 10^len(F) (at most 10^19): both exact in float64, so the division is correctly rounded,
 * bit for bit what float("I.F") gives. Longer numbers go to the C library's strtod, which
 * also rounds correctly (glibc, musl, macOS). Above 1e11 a timestamp is epoch milliseconds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../sketches/_blake2b.h"

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif

#define EPOCH_MS_THRESHOLD 1e11
#define MAX_ENDPOINT_BYTES 4096
#define MAX_USER_BYTES 1024
#define MAX_DIGITS 19
#define MAX_EXACT_MANTISSA (1ULL << 53)
#define MAX_NUMBER_CHARS 64

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ---- interning: distinct byte strings of the block, coded in first-seen order ---- */

/* A slot is 16 bytes, so that a table of 100,000 users stays within a few MiB of cache:
 * the text's first 8 bytes (zero-padded), its length, 16 bits of its hash and its code. A
 * text longer than 8 bytes is compared past them at its first occurrence in the block. */
typedef struct {
    uint64_t head;
    int32_t code; /* -1: empty slot */
    uint16_t tag; /* the hash's top 16 bits */
    uint16_t len; /* 0xFFFF: that long or longer (field values), see `lens` */
} Slot;

typedef struct {
    Slot *slots;
    size_t mask;
    int32_t count;
    Py_ssize_t *starts; /* first occurrence of each code */
    Py_ssize_t *lens;
    uint64_t *hashes; /* of each code: the table grows without reading the texts again */
    size_t capacity;
    uint64_t seed;
} Table;

static uint64_t hash_bytes(const unsigned char *p, Py_ssize_t n, uint64_t seed) {
    uint64_t h = seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ULL);
    uint64_t w;
    while (n >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        w = 0;
        memcpy(&w, p, (size_t)n);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 31;
    }
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    return h;
}

static int table_init(Table *t, uint64_t seed) {
    t->mask = 1023;
    t->count = 0;
    t->capacity = 512;
    t->seed = seed;
    t->slots = PyMem_RawMalloc((t->mask + 1) * sizeof(Slot));
    t->starts = PyMem_RawMalloc(t->capacity * sizeof(Py_ssize_t));
    t->lens = PyMem_RawMalloc(t->capacity * sizeof(Py_ssize_t));
    t->hashes = PyMem_RawMalloc(t->capacity * sizeof(uint64_t));
    if (!t->slots || !t->starts || !t->lens || !t->hashes) return -1;
    for (size_t i = 0; i <= t->mask; i++) t->slots[i].code = -1;
    return 0;
}

static void table_free(Table *t) {
    PyMem_RawFree(t->slots);
    PyMem_RawFree(t->starts);
    PyMem_RawFree(t->lens);
    PyMem_RawFree(t->hashes);
}

static int table_grow(Table *t) {
    size_t size = (t->mask + 1) * 2;
    Slot *slots = PyMem_RawMalloc(size * sizeof(Slot));
    if (!slots) return -1;
    for (size_t i = 0; i < size; i++) slots[i].code = -1;
    for (size_t i = 0; i <= t->mask; i++) {
        Slot s = t->slots[i];
        if (s.code < 0) continue;
        size_t j = (size_t)t->hashes[s.code] & (size - 1);
        while (slots[j].code >= 0) j = (j + 1) & (size - 1);
        slots[j] = s;
    }
    PyMem_RawFree(t->slots);
    t->slots = slots;
    t->mask = size - 1;
    return 0;
}

/* The code of `buf[start:start+len]` whose `hash_bytes` is `h`, adding it when new; -1 on
 * memory failure. */
static int32_t intern_hashed(Table *t, const unsigned char *buf, Py_ssize_t start,
                             Py_ssize_t len, uint64_t h) {
    const unsigned char *text = buf + start;
    uint64_t head = 0;
    memcpy(&head, text, (size_t)(len < 8 ? len : 8));
    const uint16_t tag = (uint16_t)(h >> 48);
    const uint16_t short_len = len < 0xFFFF ? (uint16_t)len : 0xFFFF; /* 0xFFFF: look it up */
    size_t j = (size_t)h & t->mask;
    for (;;) {
        Slot *s = &t->slots[j];
        if (s->code < 0) break;
        if (s->tag == tag && s->len == short_len && s->head == head &&
            (len <= 8 || ((short_len < 0xFFFF || t->lens[s->code] == len) &&
                          memcmp(buf + t->starts[s->code] + 8, text + 8, (size_t)(len - 8)) == 0)))
            return s->code;
        j = (j + 1) & t->mask;
    }
    if ((size_t)t->count >= t->capacity) {
        size_t capacity = t->capacity * 2;
        Py_ssize_t *starts = PyMem_RawRealloc(t->starts, capacity * sizeof(Py_ssize_t));
        if (!starts) return -1;
        t->starts = starts;
        Py_ssize_t *lens = PyMem_RawRealloc(t->lens, capacity * sizeof(Py_ssize_t));
        if (!lens) return -1;
        t->lens = lens;
        uint64_t *hashes = PyMem_RawRealloc(t->hashes, capacity * sizeof(uint64_t));
        if (!hashes) return -1;
        t->hashes = hashes;
        t->capacity = capacity;
    }
    int32_t code = t->count++;
    t->starts[code] = start;
    t->lens[code] = len;
    t->hashes[code] = h;
    t->slots[j] = (Slot){head, code, tag, short_len};
    if ((size_t)t->count * 2 > t->mask + 1 && table_grow(t) < 0) return -1;
    return code;
}

/* The code of `buf[start:start+len]`, adding it when new; -1 on memory failure. */
static int32_t intern(Table *t, const unsigned char *buf, Py_ssize_t start, Py_ssize_t len) {
    return intern_hashed(t, buf, start, len, hash_bytes(buf + start, len, t->seed));
}

/* Start loading the slot where a text of hash `h` is looked up first. */
static inline void prefetch_slot(const Table *t, uint64_t h) {
    PREFETCH(&t->slots[(size_t)h & t->mask]);
}

static PyObject *table_names(const Table *t, const unsigned char *buf) {
    PyObject *names = PyList_New(t->count);
    if (!names) return NULL;
    for (int32_t i = 0; i < t->count; i++) {
        PyObject *name = PyBytes_FromStringAndSize((const char *)buf + t->starts[i], t->lens[i]);
        if (!name) {
            Py_DECREF(names);
            return NULL;
        }
        PyList_SET_ITEM(names, i, name);
    }
    return names;
}

/* ---- users' registers remembered across blocks: a worker reads range after range of the
 * same users, and a BLAKE2b costs more than a look-up. Module state, used with the GIL held;
 * forgotten whole when it holds KNOWN_MAX users or the precision changes. ---- */

#define AHEAD 8 /* look-ups between fetching a slot and reading it */
#define KNOWN_MAX (1 << 17)     /* users remembered, at most (6 MiB of slots) */
#define KNOWN_BYTES (1 << 24)   /* bytes of their names, at most */
#define KNOWN_SEED 0x243F6A8885A308D3ULL

typedef struct {
    uint64_t hash;
    int64_t reg;
    uint32_t off; /* of the text in `known.text` */
    int32_t len;  /* -1: empty slot */
} Known;

static struct {
    Known *slots;
    size_t mask, count;
    unsigned char *text;
    size_t used, cap;
    int precision;
} known;

static void known_clear(void) {
    PyMem_RawFree(known.slots);
    PyMem_RawFree(known.text);
    memset(&known, 0, sizeof known);
}

static int known_init(int precision) {
    known_clear();
    known.mask = (1 << 12) - 1;
    known.slots = PyMem_RawMalloc((known.mask + 1) * sizeof(Known));
    known.cap = 1 << 16;
    known.text = PyMem_RawMalloc(known.cap);
    if (!known.slots || !known.text) {
        known_clear();
        return -1;
    }
    for (size_t i = 0; i <= known.mask; i++) known.slots[i].len = -1;
    known.precision = precision;
    return 0;
}

static int known_grow(void) {
    size_t size = (known.mask + 1) * 2;
    Known *slots = PyMem_RawMalloc(size * sizeof(Known));
    if (!slots) return -1;
    for (size_t i = 0; i < size; i++) slots[i].len = -1;
    for (size_t i = 0; i <= known.mask; i++) {
        if (known.slots[i].len < 0) continue;
        size_t j = (size_t)known.slots[i].hash & (size - 1);
        while (slots[j].len >= 0) j = (j + 1) & (size - 1);
        slots[j] = known.slots[i];
    }
    PyMem_RawFree(known.slots);
    known.slots = slots;
    known.mask = size - 1;
    return 0;
}

/* Remember `text`'s register (a failure to remember only costs the next hash). */
static void known_add(const unsigned char *text, Py_ssize_t len, uint64_t h, int64_t reg,
                      size_t j) {
    if (known.used + (size_t)len > known.cap) {
        size_t cap = known.cap * 2 > known.used + (size_t)len ? known.cap * 2 : known.used + (size_t)len;
        unsigned char *grown = cap < UINT32_MAX ? PyMem_RawRealloc(known.text, cap) : NULL;
        if (!grown) return;
        known.text = grown;
        known.cap = cap;
    }
    memcpy(known.text + known.used, text, (size_t)len);
    known.slots[j] = (Known){h, reg, (uint32_t)known.used, (int32_t)len};
    known.used += (size_t)len;
    known.count++;
    if (known.count * 2 > known.mask + 1 && known_grow() < 0) known_clear();
}

/* `text`'s HLL register at `precision`, its `hash_bytes` under KNOWN_SEED being `h`:
 * remembered, or hashed (and remembered). */
static int64_t known_register(const unsigned char *text, Py_ssize_t len, uint64_t h,
                              int precision) {
    if ((known.precision != precision || known.count >= KNOWN_MAX || known.used > KNOWN_BYTES) &&
        known_init(precision) < 0)
        return register_of(hash64(text, (size_t)len), precision);
    size_t j = (size_t)h & known.mask;
    for (; known.slots[j].len >= 0; j = (j + 1) & known.mask) {
        const Known *k = &known.slots[j];
        if (k->hash == h && k->len == len && memcmp(known.text + k->off, text, (size_t)len) == 0)
            return k->reg;
    }
    int64_t reg = register_of(hash64(text, (size_t)len), precision);
    known_add(text, len, h, reg, j);
    return reg;
}

/* Each text's HLL register at `precision`, `index << 6 | rank` as int64 bytes (the values
 * `sketches._reduce.user_registers` gives the texts decoded: they are checked UTF-8). */
static PyObject *table_registers(const Table *t, const unsigned char *buf, int precision) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)t->count * 8);
    if (!out) return NULL;
    int64_t *packed = (int64_t *)PyBytes_AS_STRING(out);
    for (int32_t i = 0; i < t->count; i++) /* the hashes first: slots fetched ahead */
        packed[i] = (int64_t)hash_bytes(buf + t->starts[i], t->lens[i], KNOWN_SEED);
    for (int32_t i = 0; i < t->count; i++) {
        if (i + AHEAD < t->count && known.slots)
            PREFETCH(&known.slots[(size_t)packed[i + AHEAD] & known.mask]);
        packed[i] = known_register(buf + t->starts[i], t->lens[i], (uint64_t)packed[i], precision);
    }
    return out;
}

/* ---- one line ---- */

enum { KEY_OTHER, KEY_ENDPOINT, KEY_TS, KEY_TIMESTAMP, KEY_USER };

typedef struct {
    Py_ssize_t endpoint_start, endpoint_len;
    Py_ssize_t user_start, user_len; /* user_start -1: no user (absent or null) */
    double ts;
    unsigned char high; /* OR of every string byte: >= 0x80 when some is not ASCII */
} Line;

#define SKIP_SPACE(p, e) \
    while ((p) < (e) && (*(p) == ' ' || *(p) == '\t')) (p)++

/* A string without escapes or control characters; p at its opening quote. Returns the
 * position after the closing quote, or NULL. */
static const unsigned char *read_string(const unsigned char *p, const unsigned char *e,
                                        const unsigned char **start, unsigned char *high) {
    p++;
    *start = p;
    unsigned char seen = 0;
    while (p < e && *p != '"') {
        if (*p < 0x20 || *p == '\\') return NULL;
        seen |= *p;
        p++;
    }
    if (p >= e) return NULL;
    *high |= seen;
    return p + 1;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* A JSON number, strictly by the grammar; returns the position after it, or NULL. */
static const unsigned char *skip_number(const unsigned char *p, const unsigned char *e) {
    if (p < e && *p == '-') p++;
    if (p >= e || !is_digit(*p)) return NULL;
    if (*p == '0') {
        p++;
    } else {
        while (p < e && is_digit(*p)) p++;
    }
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_digit(*p)) return NULL;
        while (p < e && is_digit(*p)) p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || !is_digit(*p)) return NULL;
        while (p < e && is_digit(*p)) p++;
    }
    return p;
}

/* A timestamp `I` or `I.F` (no sign, no exponent) as epoch seconds; NULL when it is not
 * one this code reads exactly, or lies past `latest`. `exact_strtod`: whether strtod reads
 * "." as the decimal point (the C locale's LC_NUMERIC). */
static const unsigned char *read_ts(const unsigned char *p, const unsigned char *e,
                                    double latest, int exact_strtod, double *out) {
    const unsigned char *start = p;
    uint64_t m = 0;
    int digits = 0, decimals = 0;
    if (p >= e || !is_digit(*p)) return NULL;
    if (*p == '0') {
        p++;
        if (p < e && is_digit(*p)) return NULL; /* a leading zero is not JSON */
    } else {
        while (p < e && is_digit(*p)) {
            if (++digits <= MAX_DIGITS) m = m * 10 + (uint64_t)(*p - '0');
            p++;
        }
    }
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_digit(*p)) return NULL;
        while (p < e && is_digit(*p)) {
            if (++digits <= MAX_DIGITS) m = m * 10 + (uint64_t)(*p - '0');
            decimals++;
            p++;
        }
    }
    if (p < e && (*p == 'e' || *p == 'E')) return NULL;
    double ts;
    if (digits <= MAX_DIGITS && m <= MAX_EXACT_MANTISSA) {
        ts = decimals ? (double)m / POW10[decimals] : (double)m;
    } else {
        /* More digits than one exact division takes (time.time() writes 17): strtod
         * rounds correctly, as float() does. */
        char text[MAX_NUMBER_CHARS + 1];
        size_t n = (size_t)(p - start);
        if (!exact_strtod || n > MAX_NUMBER_CHARS) return NULL;
        memcpy(text, start, n);
        text[n] = 0;
        ts = strtod(text, NULL);
    }
    if (ts > EPOCH_MS_THRESHOLD) ts = ts / 1000.0;
    if (!(ts <= latest)) return NULL;
    *out = ts;
    return p;
}

static int key_of(const unsigned char *k, Py_ssize_t n) {
    switch (n) {
        case 2: return memcmp(k, "ts", 2) == 0 ? KEY_TS : KEY_OTHER;
        case 4: return memcmp(k, "user", 4) == 0 ? KEY_USER : KEY_OTHER;
        case 8: return memcmp(k, "endpoint", 8) == 0 ? KEY_ENDPOINT : KEY_OTHER;
        case 9: return memcmp(k, "timestamp", 9) == 0 ? KEY_TIMESTAMP : KEY_OTHER;
        default: return KEY_OTHER;
    }
}

/* Any plain value of an ignored key: a string, a number, true, false or null. */
static const unsigned char *skip_value(const unsigned char *p, const unsigned char *e,
                                       unsigned char *high) {
    const unsigned char *start;
    if (p >= e) return NULL;
    if (*p == '"') return read_string(p, e, &start, high);
    if (*p == '-' || is_digit(*p)) return skip_number(p, e);
    if (e - p >= 4 && (memcmp(p, "true", 4) == 0 || memcmp(p, "null", 4) == 0)) return p + 4;
    if (e - p >= 5 && memcmp(p, "false", 5) == 0) return p + 5;
    return NULL;
}

#include "_scan_text.h"

/* A timestamp value: a number, or a string holding a number or an ISO 8601 date-time. */
static const unsigned char *read_json_ts(const unsigned char *p, const unsigned char *e,
                                         double latest, int exact_strtod, double *out,
                                         unsigned char *high) {
    if (p < e && *p == '"') {
        const unsigned char *start;
        unsigned char seen = 0;
        const unsigned char *after = read_string(p, e, &start, &seen);
        if (!after || seen >= 0x80) return NULL;
        *high |= seen;
        return read_text_ts(start, after - 1, latest, exact_strtod, out) < 0 ? NULL : after;
    }
    return read_ts(p, e, latest, exact_strtod, out);
}

/* Parse the line `[p, e)` (without its newline); 0 when read, -1 when not. */
static int parse_line(const unsigned char *buf, const unsigned char *p, const unsigned char *e,
                      double latest, int exact_strtod, Line *line) {
    int seen = 0; /* bit per key */
    double ts = 0, timestamp = 0;
    const unsigned char *start;
    line->user_start = -1;
    line->high = 0;
    SKIP_SPACE(p, e);
    if (p >= e || *p != '{') return -1;
    p++;
    for (;;) {
        SKIP_SPACE(p, e);
        if (p >= e || *p != '"') return -1;
        const unsigned char *key;
        p = read_string(p, e, &key, &line->high);
        if (!p) return -1;
        int kind = key_of(key, p - 1 - key);
        SKIP_SPACE(p, e);
        if (p >= e || *p != ':') return -1;
        p++;
        SKIP_SPACE(p, e);
        if (kind != KEY_OTHER) {
            if (seen & (1 << kind)) return -1; /* a duplicate key */
            seen |= 1 << kind;
        }
        switch (kind) {
            case KEY_ENDPOINT:
                if (p >= e || *p != '"') return -1;
                p = read_string(p, e, &start, &line->high);
                if (!p) return -1;
                line->endpoint_start = start - buf;
                line->endpoint_len = p - 1 - start;
                if (line->endpoint_len < 1 || line->endpoint_len > MAX_ENDPOINT_BYTES) return -1;
                break;
            case KEY_TS:
                p = read_json_ts(p, e, latest, exact_strtod, &ts, &line->high);
                break;
            case KEY_TIMESTAMP:
                p = read_json_ts(p, e, latest, exact_strtod, &timestamp, &line->high);
                break;
            case KEY_USER:
                if (p < e && *p == '"') {
                    p = read_string(p, e, &start, &line->high);
                    if (!p) return -1;
                    line->user_start = start - buf;
                    line->user_len = p - 1 - start;
                    if (line->user_len > MAX_USER_BYTES) return -1;
                    if (line->user_len == 0) line->user_start = -1; /* "": no user */
                } else if (e - p >= 4 && memcmp(p, "null", 4) == 0) {
                    p += 4;
                } else {
                    return -1; /* a number or anything else: the careful path */
                }
                break;
            default:
                p = skip_value(p, e, &line->high);
        }
        if (!p) return -1;
        SKIP_SPACE(p, e);
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        if (p < e && *p == '}') {
            p++;
            break;
        }
        return -1;
    }
    SKIP_SPACE(p, e);
    if (p != e || !(seen & (1 << KEY_ENDPOINT))) return -1;
    if (seen & (1 << KEY_TS)) {
        line->ts = ts;
    } else if (seen & (1 << KEY_TIMESTAMP)) {
        line->ts = timestamp;
    } else {
        return -1;
    }
    return 0;
}

/* ---- the block ---- */

static PyObject *scan(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    int want_users;
    double latest;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "y*pdK", &view, &want_users, &latest, &seed)) return NULL;
    const unsigned char *buf = view.buf;
    const Py_ssize_t size = view.len;
    PyObject *result = NULL, *codes = NULL, *stamps = NULL, *user_codes = NULL;
    PyObject *names = NULL, *user_names = NULL;
    Table endpoints = {0}, users = {0};
    Py_ssize_t lines = 0;
    const struct lconv *conventions = localeconv();
    const int exact_strtod = strcmp(conventions->decimal_point, ".") == 0;
    for (const unsigned char *q = buf, *end = buf + size; q < end; lines++) {
        const unsigned char *nl = memchr(q, '\n', (size_t)(end - q));
        q = nl ? nl + 1 : end;
    }
    if (lines == 0) goto done;
    codes = PyByteArray_FromStringAndSize(NULL, lines * (Py_ssize_t)sizeof(int32_t));
    stamps = PyByteArray_FromStringAndSize(NULL, lines * (Py_ssize_t)sizeof(double));
    user_codes = PyByteArray_FromStringAndSize(NULL, lines * (Py_ssize_t)sizeof(int32_t));
    if (!codes || !stamps || !user_codes || table_init(&endpoints, seed) < 0 ||
        table_init(&users, seed ^ 0x5851F42D4C957F2DULL) < 0) {
        PyErr_NoMemory();
        goto fail;
    }
    int32_t *code_out = (int32_t *)PyByteArray_AS_STRING(codes);
    double *ts_out = (double *)PyByteArray_AS_STRING(stamps);
    int32_t *user_out = (int32_t *)PyByteArray_AS_STRING(user_codes);
    int any_user = 0, failed = 0;
    unsigned char high = 0;
    Py_BEGIN_ALLOW_THREADS
    const unsigned char *p = buf, *end = buf + size;
    for (Py_ssize_t i = 0; i < lines; i++) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *e = nl ? nl : end;
        Line line = {0};
        if (parse_line(buf, p, e, latest, exact_strtod, &line) < 0) {
            failed = 1;
            break;
        }
        high |= line.high;
        int32_t code = intern(&endpoints, buf, line.endpoint_start, line.endpoint_len);
        int32_t user = -1;
        if (line.user_start >= 0) {
            any_user = 1;
            if (want_users) user = intern(&users, buf, line.user_start, line.user_len);
        }
        if (code < 0 || (want_users && line.user_start >= 0 && user < 0)) {
            failed = 2;
            break;
        }
        code_out[i] = code;
        ts_out[i] = line.ts;
        user_out[i] = user;
        p = e + 1;
    }
    Py_END_ALLOW_THREADS
    if (failed == 2) {
        PyErr_NoMemory();
        goto fail;
    }
    if (failed) goto done;
    names = table_names(&endpoints, buf);
    if (!names) goto fail;
    if (want_users && any_user) {
        user_names = table_names(&users, buf);
        if (!user_names) goto fail;
    } else {
        Py_CLEAR(user_codes);
        user_codes = Py_NewRef(Py_None);
        user_names = Py_NewRef(Py_None);
    }
    result = Py_BuildValue("(OOOOOO)", names, codes, stamps, user_names, user_codes,
                           (high & 0x80) ? Py_True : Py_False);
    goto fail; /* releases the references the tuple took */
done:
    result = Py_NewRef(Py_None);
fail:
    Py_XDECREF(names);
    Py_XDECREF(user_names);
    Py_XDECREF(codes);
    Py_XDECREF(stamps);
    Py_XDECREF(user_codes);
    if (endpoints.slots || endpoints.starts || endpoints.lens || endpoints.hashes)
        table_free(&endpoints);
    if (users.slots || users.starts || users.lens || users.hashes) table_free(&users);
    PyBuffer_Release(&view);
    return result;
}

/* ---- users interned a few lines late: their slots are fetched while lines are parsed ---- */


typedef struct {
    Py_ssize_t line[AHEAD], start[AHEAD], len[AHEAD];
    uint64_t hash[AHEAD];
    Py_ssize_t count, done; /* users queued, users interned */
} Pending;

/* Intern the queued users up to the `until`th; -1 on memory failure. */
static int drain_users(Pending *q, Table *t, const unsigned char *buf, Py_ssize_t until,
                       int32_t *user_out) {
    for (; q->done < until; q->done++) {
        int k = (int)(q->done % AHEAD);
        user_out[q->line[k]] = intern_hashed(t, buf, q->start[k], q->len[k], q->hash[k]);
        if (user_out[q->line[k]] < 0) return -1;
    }
    return 0;
}

/* Queue line `i`'s user (its slot starts loading); intern the one queued AHEAD users ago. */
static int queue_user(Pending *q, Table *t, const unsigned char *buf, Py_ssize_t i,
                      const Line *line, int32_t *user_out) {
    if (q->count - q->done == AHEAD && drain_users(q, t, buf, q->done + 1, user_out) < 0)
        return -1;
    int k = (int)(q->count % AHEAD);
    q->line[k] = i;
    q->start[k] = line->user_start;
    q->len[k] = line->user_len;
    q->hash[k] = hash_bytes(buf + line->user_start, line->user_len, t->seed);
    prefetch_slot(t, q->hash[k]);
    q->count++;
    return 0;
}

/* ---- a block line by line: what the C code cannot read goes to the per-line parser ---- */

enum { FORMAT_NDJSON, FORMAT_ACCESS, FORMAT_CSV };

#define MAX_LINE_BYTES (1024 * 1024)

static int parse_any(int format, const unsigned char *buf, const unsigned char *p,
                     const unsigned char *e, double latest, int exact_strtod,
                     const CsvColumns *cols, Line *line) {
    if (e - p > MAX_LINE_BYTES) return -1;
    if (e > p && e[-1] == '\r') e--;
    line->user_start = -1;
    switch (format) {
        case FORMAT_NDJSON:
            if (parse_line(buf, p, e, latest, exact_strtod, line) < 0) return -1;
            return (line->high & 0x80) && !valid_utf8(p, e - p) ? -1 : 0;
        case FORMAT_ACCESS:
            return parse_access(buf, p, e, latest, line);
        default:
            return parse_csv(buf, p, e, latest, exact_strtod, cols, line);
    }
}

static PyObject *scan_lines(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    int format, want_users;
    double latest;
    unsigned long long seed;
    CsvColumns cols;
    int precision = 0; /* users as names (0) or as their HLL registers at this precision */
    if (!PyArg_ParseTuple(args, "y*ipdKiii|i", &view, &format, &want_users, &latest, &seed,
                          &cols.endpoint, &cols.ts, &cols.user, &precision))
        return NULL;
    if (precision != 0 && (precision < 4 || precision > 57)) {
        PyErr_SetString(PyExc_ValueError, "precision must be 0 or between 4 and 57");
        PyBuffer_Release(&view);
        return NULL;
    }
    const unsigned char *buf = view.buf, *end = buf + view.len;
    PyObject *result = NULL, *codes = NULL, *stamps = NULL, *user_codes = NULL;
    PyObject *names = NULL, *user_names = NULL, *skipped = NULL;
    Table endpoints = {0}, users = {0};
    Py_ssize_t lines = 0, misses = 0;
    const int exact_strtod = strcmp(localeconv()->decimal_point, ".") == 0;
    for (const unsigned char *q = buf; q < end; lines++) {
        const unsigned char *nl = memchr(q, '\n', (size_t)(end - q));
        q = nl ? nl + 1 : end;
    }
    codes = PyByteArray_FromStringAndSize(NULL, lines * (Py_ssize_t)sizeof(int32_t));
    stamps = PyByteArray_FromStringAndSize(NULL, lines * (Py_ssize_t)sizeof(double));
    user_codes = PyByteArray_FromStringAndSize(NULL, lines * (Py_ssize_t)sizeof(int32_t));
    skipped = PyByteArray_FromStringAndSize(NULL, lines * (Py_ssize_t)sizeof(int32_t));
    if (!codes || !stamps || !user_codes || !skipped || table_init(&endpoints, seed) < 0 ||
        table_init(&users, seed ^ 0x5851F42D4C957F2DULL) < 0) {
        PyErr_NoMemory();
        goto fail;
    }
    int32_t *code_out = (int32_t *)PyByteArray_AS_STRING(codes);
    double *ts_out = (double *)PyByteArray_AS_STRING(stamps);
    int32_t *user_out = (int32_t *)PyByteArray_AS_STRING(user_codes);
    int32_t *skip_out = (int32_t *)PyByteArray_AS_STRING(skipped);
    int any_user = 0, failed = 0;
    Pending ahead = {.count = 0, .done = 0};
    Py_BEGIN_ALLOW_THREADS
    const unsigned char *p = buf;
    for (Py_ssize_t i = 0; i < lines; i++) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *e = nl ? nl : end;
        Line line = {0};
        code_out[i] = user_out[i] = -1;
        ts_out[i] = 0;
        if (parse_any(format, buf, p, e, latest, exact_strtod, &cols, &line) < 0) {
            skip_out[misses++] = (int32_t)i;
        } else {
            code_out[i] = intern(&endpoints, buf, line.endpoint_start, line.endpoint_len);
            ts_out[i] = line.ts;
            if (line.user_start >= 0) {
                any_user = 1;
                if (want_users && queue_user(&ahead, &users, buf, i, &line, user_out) < 0)
                    failed = 1;
            }
            if (code_out[i] < 0) failed = 1;
            if (failed) break;
        }
        p = e + 1;
    }
    if (!failed && drain_users(&ahead, &users, buf, ahead.count, user_out) < 0) failed = 1;
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto fail;
    }
    if (PyByteArray_Resize(skipped, misses * (Py_ssize_t)sizeof(int32_t)) < 0) goto fail;
    names = table_names(&endpoints, buf);
    if (!names) goto fail;
    if (want_users && any_user) {
        user_names = precision ? table_registers(&users, buf, precision) : table_names(&users, buf);
        if (!user_names) goto fail;
    } else {
        Py_CLEAR(user_codes);
        user_codes = Py_NewRef(Py_None);
        user_names = Py_NewRef(Py_None);
    }
    result = Py_BuildValue("(OOOOOO)", names, codes, stamps, user_names, user_codes, skipped);
fail:
    Py_XDECREF(names);
    Py_XDECREF(user_names);
    Py_XDECREF(codes);
    Py_XDECREF(stamps);
    Py_XDECREF(user_codes);
    Py_XDECREF(skipped);
    if (endpoints.slots || endpoints.starts || endpoints.lens || endpoints.hashes)
        table_free(&endpoints);
    if (users.slots || users.starts || users.lens || users.hashes) table_free(&users);
    PyBuffer_Release(&view);
    return result;
}

#include "_scan_fields.h"

static PyMethodDef methods[] = {
    {"scan_fields", scan_fields, METH_VARARGS,
     "scan_fields(block, format, users, latest, seed, names) -> "
     "(names, codes, ts, user_names, user_codes, skipped, fields)"},
    {"scan_lines", scan_lines, METH_VARARGS,
     "scan_lines(block, format, users, latest, seed, endpoint_col, ts_col, user_col, "
     "precision=0) -> (names, codes, ts, user_names or registers, user_codes, skipped)"},
    {"scan", scan, METH_VARARGS,
     "scan(block, users, latest, seed) -> (names, codes, ts, user_names, user_codes, "
     "non_ascii) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "hitcount.ingest._scan", "The fast paths in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
