/* Text readers of hitcount.ingest._scan: UTF-8, ISO 8601, access-log lines, CSV lines.
 *
 * Each reader accepts a strict subset of what its per-line parser accepts, and gives exactly
 * its answer (endpoint, user, timestamp bit for bit); anything else returns -1 and the line
 * goes to the per-line parser. Included once, by _scan.c.
 */

/* Whether [p, p+n) is UTF-8 as Python's strict decoder reads it (no overlong forms, no
 * surrogates, nothing past U+10FFFF). */
static int valid_utf8(const unsigned char *p, Py_ssize_t n) {
    const unsigned char *e = p + n;
    while (p < e) {
        unsigned char c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        int more;
        unsigned char low = 0x80, high = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            more = 2;
            if (c == 0xE0) low = 0xA0;
            if (c == 0xED) high = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            more = 3;
            if (c == 0xF0) low = 0x90;
            if (c == 0xF4) high = 0x8F;
        } else {
            return 0;
        }
        if (e - p <= more) return 0;
        if (p[1] < low || p[1] > high) return 0;
        for (int i = 2; i <= more; i++)
            if ((p[i] & 0xC0) != 0x80) return 0;
        p += more + 1;
    }
    return 1;
}

static int has_high(const unsigned char *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i] >= 0x80) return 1;
    return 0;
}

/* `n` digits at p as a number; -1 when one is not a digit. */
static int number_at(const unsigned char *p, int n) {
    int value = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(p[i])) return -1;
        value = value * 10 + (p[i] - '0');
    }
    return value;
}

static int days_in_month(int year, int month) {
    static const int DAYS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return DAYS[month - 1] + (month == 2 && leap);
}

/* Days from 1970-01-01 to a valid proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Epoch seconds of a date and a clock into *out; -1 when the date or clock is invalid. */
static int civil_seconds(int year, int month, int day, int hours, int minutes, int seconds,
                         int max_second, int64_t *out) {
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return -1;
    if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 ||
        seconds > max_second)
        return -1;
    *out = days_from_civil(year, month, day) * 86400 + hours * 3600 + minutes * 60 + seconds;
    return 0;
}

/* The offsets places on Earth use, in seconds east of UTC: a time with any other (`+2359`)
 * is a bad timestamp (`model.hits.is_earth_offset` says so on the per-line path). */
#define UTC_WEST_MOST (12 * 3600)
#define UTC_EAST_MOST (14 * 3600)

/* The offset `+hh:mm` or `+hhmm` at [p, e) in seconds east of UTC; its length in *used. */
static int read_offset(const unsigned char *p, const unsigned char *e, int colon, int *used,
                       int64_t *east) {
    Py_ssize_t need = colon ? 6 : 5;
    if (e - p < need || (*p != '+' && *p != '-')) return -1;
    int hours = number_at(p + 1, 2);
    int minutes = colon ? (p[3] == ':' ? number_at(p + 4, 2) : -1) : number_at(p + 3, 2);
    if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) return -1;
    *east = (*p == '-' ? -1 : 1) * (int64_t)(hours * 3600 + minutes * 60);
    *used = (int)need;
    return 0;
}

/* `YYYY-MM-DD(T| )hh:mm:ss(.fff|.ffffff)?(Z|z|+hh:mm)?` as epoch seconds, exactly as
 * `epoch_from_iso` reads it (no offset: UTC) on every Python hitcount supports; -1 for
 * anything else, before 1970, past `latest`, or a fraction too far out for one exact
 * division. */
static int read_iso(const unsigned char *p, const unsigned char *e, double latest,
                    double *out) {
    if (e - p < 19 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != ' ') ||
        p[13] != ':' || p[16] != ':')
        return -1;
    int64_t secs;
    if (civil_seconds(number_at(p, 4), number_at(p + 5, 2), number_at(p + 8, 2),
                      number_at(p + 11, 2), number_at(p + 14, 2), number_at(p + 17, 2), 59,
                      &secs) < 0)
        return -1;
    const unsigned char *q = p + 19;
    int64_t micros = 0;
    if (q < e && *q == '.') {
        int k = 0;
        for (q++; q < e && is_digit(*q); q++, k++)
            if (k < 6) micros = micros * 10 + (*q - '0');
        if (k != 3 && k != 6) return -1; /* what datetime.fromisoformat reads on 3.10 too */
        for (; k < 6; k++) micros *= 10;
    }
    int64_t east = 0;
    if (q < e && (*q == 'Z' || *q == 'z')) {
        q++;
    } else if (q < e) {
        int used = 0; /* +hh:mm only: Python 3.10 reads no other offset */
        if (read_offset(q, e, 1, &used, &east) < 0) return -1;
        if (east < -UTC_WEST_MOST || east > UTC_EAST_MOST) return -1; /* the parser refuses */
        q += used;
    }
    if (q != e) return -1;
    secs -= east;
    if (secs < 0) return -1;
    double ts;
    if (micros == 0) {
        ts = (double)secs;
    } else {
        int64_t total = secs * 1000000 + micros;
        if (total > (int64_t)MAX_EXACT_MANTISSA) return -1;
        ts = (double)total / 1e6; /* both exact: one correctly rounded division */
    }
    if (!(ts <= latest)) return -1;
    *out = ts;
    return 0;
}

/* A timestamp written as text (a JSON string, a CSV field) as `epoch_from_value` reads it:
 * a plain number, else ISO 8601. */
static int read_text_ts(const unsigned char *p, const unsigned char *e, double latest,
                        int exact_strtod, double *out) {
    if (p < e && is_digit(*p)) {
        const unsigned char *end = read_ts(p, e, latest, exact_strtod, out);
        if (end == e) return 0;
    }
    return read_iso(p, e, latest, out);
}

/* ---- access logs: host ident user [dd/Mon/yyyy:hh:mm:ss +hhmm] "request" status size ---- */

static int month_of(const unsigned char *m) {
    static const char *NAMES[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++) {
        const char *n = NAMES[i];
        if ((m[0] == n[0] && m[1] == n[1] && m[2] == n[2]) ||
            (m[0] == n[0] && m[1] == n[1] - 32 && m[2] == n[2] - 32) ||
            (m[0] == n[0] + 32 && m[1] == n[1] && m[2] == n[2]))
            return i + 1;
    }
    return -1;
}

/* Whether `" NNN SIZE` (SIZE digits or -, then a space or the end) follows the quote at q. */
static int status_follows(const unsigned char *q, const unsigned char *e) {
    if (e - q < 7 || q[1] != ' ' || !is_digit(q[2]) || !is_digit(q[3]) || !is_digit(q[4]) ||
        q[5] != ' ')
        return 0;
    const unsigned char *t = q + 6;
    if (*t == '-') {
        t++;
    } else if (is_digit(*t)) {
        while (t < e && is_digit(*t)) t++;
    } else {
        return 0;
    }
    return t == e || *t == ' ';
}

/* The endpoint of a request `METHOD /path[?query] [HTTP/x]`: the path up to `?` or `#`. */
static int request_path(const unsigned char *p, const unsigned char *e, Line *line,
                        const unsigned char *buf) {
    while (p < e && *p == ' ') p++;
    while (e > p && e[-1] == ' ') e--;
    const unsigned char *space = memchr(p, ' ', (size_t)(e - p));
    if (!space) return -1;
    if (space - p == 7) {
        unsigned char m[7];
        for (int i = 0; i < 7; i++) m[i] = (unsigned char)(p[i] & ~0x20);
        if (memcmp(m, "CONNECT", 7) == 0) return -1;
    }
    const unsigned char *t = space + 1, *te = e;
    const unsigned char *last = te;
    while (last > t && last[-1] != ' ') last--;
    if (te - last >= 5 && (last[0] & ~0x20) == 'H' && (last[1] & ~0x20) == 'T' &&
        (last[2] & ~0x20) == 'T' && (last[3] & ~0x20) == 'P' && last[4] == '/') {
        if (last == t) return -1; /* the protocol alone: no target */
        te = last - 1;
    }
    while (t < te && *t == ' ') t++;
    while (te > t && te[-1] == ' ') te--;
    if (t >= te || *t != '/') return -1; /* none, `*`, absolute or relative: the parser */
    const unsigned char *end = t;
    while (end < te && *end != '?' && *end != '#') end++;
    Py_ssize_t n = end - t;
    if (n > MAX_ENDPOINT_BYTES || (has_high(t, n) && !valid_utf8(t, n))) return -1;
    line->endpoint_start = t - buf;
    line->endpoint_len = n;
    return 0;
}

static int parse_access(const unsigned char *buf, const unsigned char *p, const unsigned char *e,
                        double latest, Line *line) {
    const unsigned char *host = p;
    while (p < e && *p != ' ') {
        if (*p >= 0x80) return -1; /* decoded with backslashreplace: the parser */
        p++;
    }
    if (p == host || p >= e || p - host > MAX_USER_BYTES) return -1;
    line->user_start = host - buf;
    line->user_len = p - host;
    const unsigned char *ident = ++p;
    while (p < e && *p != ' ') p++;
    if (p == ident || p >= e) return -1;
    p = memchr(p, '[', (size_t)(e - p));
    if (!p || e - p < 30) return -1;
    p++; /* dd/Mon/yyyy:hh:mm:ss +hhmm] " */
    if (p[2] != '/' || p[6] != '/' || p[11] != ':' || p[14] != ':' || p[17] != ':' ||
        p[20] != ' ' || p[26] != ']' || p[27] != ' ' || p[28] != '"')
        return -1;
    int month = month_of(p + 3);
    if (month < 0) return -1;
    int64_t secs, east = 0;
    int used = 0;
    if (civil_seconds(number_at(p + 7, 4), month, number_at(p, 2), number_at(p + 12, 2),
                      number_at(p + 15, 2), number_at(p + 18, 2), 60, &secs) < 0 ||
        read_offset(p + 21, e, 0, &used, &east) < 0 || east < -UTC_WEST_MOST ||
        east > UTC_EAST_MOST)
        return -1;
    secs -= east;
    if (secs < 0 || !((double)secs <= latest)) return -1;
    line->ts = (double)secs;
    const unsigned char *request = p + 29, *q = request;
    for (;;) {
        q = memchr(q, '"', (size_t)(e - q));
        if (!q) return -1;
        if (status_follows(q, e)) break;
        q++;
    }
    return request_path(request, q, line, buf);
}

/* ---- CSV: endpoint,timestamp[,user] in the columns a header named ---- */

typedef struct {
    int endpoint, ts, user; /* user -1: none */
} CsvColumns;

static int parse_csv(const unsigned char *buf, const unsigned char *p, const unsigned char *e,
                     double latest, int exact_strtod, const CsvColumns *cols, Line *line) {
    int high = 0, blank = 1;
    for (const unsigned char *q = p; q < e; q++) {
        if (*q < 0x20 || *q == '"') return -1; /* quoting, control bytes: the parser */
        high |= *q >= 0x80;
        blank &= *q == ' ';
    }
    if (blank || (high && !valid_utf8(p, e - p))) return -1;
    const unsigned char *field = p;
    int index = 0, found = 0;
    const unsigned char *ts_start = NULL, *ts_end = NULL;
    for (const unsigned char *q = p;; q++) {
        if (q < e && *q != ',') continue;
        Py_ssize_t n = q - field;
        if (index == cols->endpoint) {
            if (n < 1 || n > MAX_ENDPOINT_BYTES) return -1;
            line->endpoint_start = field - buf;
            line->endpoint_len = n;
            found++;
        } else if (index == cols->ts) {
            ts_start = field;
            ts_end = q;
            found++;
        } else if (index == cols->user && n > 0) {
            if (n > MAX_USER_BYTES) return -1;
            line->user_start = field - buf;
            line->user_len = n;
        }
        index++;
        field = q + 1;
        if (q >= e) break;
    }
    if (found < 2) return -1;
    while (ts_start < ts_end && *ts_start == ' ') ts_start++;
    while (ts_end > ts_start && ts_end[-1] == ' ') ts_end--;
    if (has_high(ts_start, ts_end - ts_start)) return -1;
    return read_text_ts(ts_start, ts_end, latest, exact_strtod, &line->ts);
}
