/* scan_fields of hitcount.ingest._scan: scan_lines plus the fields `--key`/`--where` name.
 *
 * scan_fields(block, format, users, latest, seed, names) reads a block as scan_lines does
 * (format 0 NDJSON, 1 common/combined access log) and also returns, for each name, the
 * values of that field coded per line:
 *
 *     (endpoint names, codes, timestamps, user names, user codes, skipped, fields)
 *
 * `fields` holds one (value names, value codes) pair per name: the distinct raw values as
 * bytes in first-seen order and an int32 code per line (-1: the line has no such field, or
 * was skipped). NDJSON: the value of a top-level key as written (a string with its quotes,
 * a number, true, false or null), for the caller to decode as JSON; a line that names a
 * wanted key twice is skipped. Access logs: `method` (the request's first word) and
 * `status` (its three digits); other names are absent. Included once, by _scan.c.
 */

#define MAX_FIELDS 16

typedef struct {
    int n;
    const char *names[MAX_FIELDS];
    Py_ssize_t name_lens[MAX_FIELDS];
    Py_ssize_t start[MAX_FIELDS], len[MAX_FIELDS]; /* start -1: absent */
} Fields;

static int field_index(const Fields *f, const unsigned char *name, Py_ssize_t n) {
    for (int i = 0; i < f->n; i++)
        if (f->name_lens[i] == n && memcmp(f->names[i], name, (size_t)n) == 0) return i;
    return -1;
}

/* The wanted keys of an NDJSON line parse_line read (so flat, without escapes); -1 when a
 * wanted key is there twice. */
static int ndjson_fields(const unsigned char *buf, const unsigned char *p, const unsigned char *e,
                         Fields *f) {
    unsigned char high = 0;
    SKIP_SPACE(p, e);
    p++; /* { */
    for (;;) {
        SKIP_SPACE(p, e);
        const unsigned char *key;
        p = read_string(p, e, &key, &high);
        if (!p) return -1;
        int i = field_index(f, key, p - 1 - key);
        SKIP_SPACE(p, e);
        p++; /* : */
        SKIP_SPACE(p, e);
        const unsigned char *value = p;
        p = skip_value(p, e, &high);
        if (!p) return -1;
        if (i >= 0) {
            if (f->start[i] >= 0) return -1;
            f->start[i] = value - buf;
            f->len[i] = p - value;
        }
        SKIP_SPACE(p, e);
        if (p >= e || *p != ',') return 0;
        p++;
    }
}

/* `method` and `status` of an access-log line parse_access read. */
static int access_fields(const unsigned char *buf, const unsigned char *p, const unsigned char *e,
                         Fields *f) {
    while (p < e && *p != ' ') p++; /* host */
    p++;
    while (p < e && *p != ' ') p++; /* ident */
    p = memchr(p, '[', (size_t)(e - p));
    if (!p) return -1;
    const unsigned char *request = p + 30, *q = request;
    for (;;) {
        q = memchr(q, '"', (size_t)(e - q));
        if (!q) return -1;
        if (status_follows(q, e)) break;
        q++;
    }
    const unsigned char *m = request, *me = q;
    while (m < me && *m == ' ') m++;
    while (me > m && me[-1] == ' ') me--;
    const unsigned char *space = memchr(m, ' ', (size_t)(me - m));
    for (int i = 0; i < f->n; i++) {
        if (f->name_lens[i] == 6 && memcmp(f->names[i], "method", 6) == 0) {
            f->start[i] = m - buf;
            f->len[i] = (space ? space : me) - m;
        } else if (f->name_lens[i] == 6 && memcmp(f->names[i], "status", 6) == 0) {
            f->start[i] = q + 2 - buf;
            f->len[i] = 3;
        }
    }
    return 0;
}

static PyObject *scan_fields(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    int format, want_users;
    double latest;
    unsigned long long seed;
    PyObject *wanted;
    if (!PyArg_ParseTuple(args, "y*ipdKO!", &view, &format, &want_users, &latest, &seed,
                          &PyTuple_Type, &wanted))
        return NULL;
    Fields f = {0};
    f.n = (int)PyTuple_GET_SIZE(wanted);
    if (f.n > MAX_FIELDS || (format != FORMAT_NDJSON && format != FORMAT_ACCESS)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "scan_fields: at most 16 names, NDJSON or access log");
        return NULL;
    }
    for (int i = 0; i < f.n; i++) {
        PyObject *name = PyTuple_GET_ITEM(wanted, i);
        if (!PyBytes_Check(name)) {
            PyBuffer_Release(&view);
            PyErr_SetString(PyExc_TypeError, "scan_fields: names must be bytes");
            return NULL;
        }
        f.names[i] = PyBytes_AS_STRING(name);
        f.name_lens[i] = PyBytes_GET_SIZE(name);
    }
    const unsigned char *buf = view.buf, *end = buf + view.len;
    PyObject *result = NULL, *codes = NULL, *stamps = NULL, *user_codes = NULL;
    PyObject *names = NULL, *user_names = NULL, *skipped = NULL, *out_fields = NULL;
    PyObject *field_codes[MAX_FIELDS] = {0};
    int32_t *field_out[MAX_FIELDS] = {0};
    Table endpoints = {0}, users = {0}, values[MAX_FIELDS];
    memset(values, 0, sizeof(values));
    Py_ssize_t lines = 0, misses = 0;
    const CsvColumns cols = {0, 1, -1};
    const int exact_strtod = strcmp(localeconv()->decimal_point, ".") == 0;
    for (const unsigned char *q = buf; q < end; lines++) {
        const unsigned char *nl = memchr(q, '\n', (size_t)(end - q));
        q = nl ? nl + 1 : end;
    }
    const Py_ssize_t size = lines * (Py_ssize_t)sizeof(int32_t);
    codes = PyByteArray_FromStringAndSize(NULL, size);
    stamps = PyByteArray_FromStringAndSize(NULL, lines * (Py_ssize_t)sizeof(double));
    user_codes = PyByteArray_FromStringAndSize(NULL, size);
    skipped = PyByteArray_FromStringAndSize(NULL, size);
    int ok = codes && stamps && user_codes && skipped && table_init(&endpoints, seed) >= 0 &&
             table_init(&users, seed ^ 0x5851F42D4C957F2DULL) >= 0;
    for (int i = 0; ok && i < f.n; i++) {
        field_codes[i] = PyByteArray_FromStringAndSize(NULL, size);
        ok = field_codes[i] && table_init(&values[i], seed + (uint64_t)i + 1) >= 0;
        if (ok) field_out[i] = (int32_t *)PyByteArray_AS_STRING(field_codes[i]);
    }
    if (!ok) {
        PyErr_NoMemory();
        goto fail;
    }
    int32_t *code_out = (int32_t *)PyByteArray_AS_STRING(codes);
    double *ts_out = (double *)PyByteArray_AS_STRING(stamps);
    int32_t *user_out = (int32_t *)PyByteArray_AS_STRING(user_codes);
    int32_t *skip_out = (int32_t *)PyByteArray_AS_STRING(skipped);
    int any_user = 0, failed = 0;
    Py_BEGIN_ALLOW_THREADS
    const unsigned char *p = buf;
    for (Py_ssize_t i = 0; i < lines && !failed; i++) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *e = nl ? nl : end, *te = e;
        if (te > p && te[-1] == '\r') te--;
        Line line = {0};
        code_out[i] = user_out[i] = -1;
        ts_out[i] = 0;
        for (int k = 0; k < f.n; k++) field_out[k][i] = -1, f.start[k] = -1;
        int read = parse_any(format, buf, p, e, latest, exact_strtod, &cols, &line) == 0;
        if (read)
            read = (format == FORMAT_NDJSON ? ndjson_fields(buf, p, te, &f)
                                            : access_fields(buf, p, te, &f)) == 0;
        if (!read) {
            skip_out[misses++] = (int32_t)i;
        } else {
            code_out[i] = intern(&endpoints, buf, line.endpoint_start, line.endpoint_len);
            ts_out[i] = line.ts;
            if (line.user_start >= 0) {
                any_user = 1;
                if (want_users) user_out[i] = intern(&users, buf, line.user_start, line.user_len);
                if (want_users && user_out[i] < 0) failed = 1;
            }
            if (code_out[i] < 0) failed = 1;
            for (int k = 0; k < f.n; k++) {
                if (f.start[k] < 0) continue;
                field_out[k][i] = intern(&values[k], buf, f.start[k], f.len[k]);
                if (field_out[k][i] < 0) failed = 1;
            }
        }
        p = e + 1;
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto fail;
    }
    if (PyByteArray_Resize(skipped, misses * (Py_ssize_t)sizeof(int32_t)) < 0) goto fail;
    names = table_names(&endpoints, buf);
    out_fields = PyList_New(f.n);
    if (!names || !out_fields) goto fail;
    for (int k = 0; k < f.n; k++) {
        PyObject *found = table_names(&values[k], buf);
        PyObject *pair = found ? PyTuple_Pack(2, found, field_codes[k]) : NULL;
        Py_XDECREF(found);
        if (!pair) goto fail;
        PyList_SET_ITEM(out_fields, k, pair);
    }
    if (want_users && any_user) {
        user_names = table_names(&users, buf);
        if (!user_names) goto fail;
    } else {
        Py_CLEAR(user_codes);
        user_codes = Py_NewRef(Py_None);
        user_names = Py_NewRef(Py_None);
    }
    result = Py_BuildValue("(OOOOOOO)", names, codes, stamps, user_names, user_codes, skipped,
                           out_fields);
fail:
    Py_XDECREF(names);
    Py_XDECREF(user_names);
    Py_XDECREF(codes);
    Py_XDECREF(stamps);
    Py_XDECREF(user_codes);
    Py_XDECREF(skipped);
    Py_XDECREF(out_fields);
    for (int k = 0; k < f.n; k++) {
        Py_XDECREF(field_codes[k]);
        if (values[k].slots || values[k].starts || values[k].lens || values[k].hashes)
            table_free(&values[k]);
    }
    if (endpoints.slots || endpoints.starts || endpoints.lens || endpoints.hashes)
        table_free(&endpoints);
    if (users.slots || users.starts || users.lens || users.hashes) table_free(&users);
    PyBuffer_Release(&view);
    return result;
}
