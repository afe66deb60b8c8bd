/*
 * micktrace._speedups: an optional compiled encoder for the common JSON record.
 *
 * encode_record(time_ns, level, logger, message, static, context, data, reserved)
 * returns the record's JSON line (bytes, no trailing newline) exactly as the
 * pure-Python JSON formatter writes it, or None when the record is outside the
 * subset handled here; the caller then takes the pure-Python path, so None is
 * always a correct answer. The subset:
 *
 *   - every string (level, logger, message, keys, values) is an exact, ASCII str;
 *   - every value is an exact str, int (within int64), float (finite, written
 *     without an exponent), bool, None, dict, list or tuple;
 *   - containers nest at most MAX_NESTING deep below the record;
 *   - no top-level key is reserved or repeated across static/context/data
 *     (the Python path renames those);
 *   - the line is at most MAX_OUTPUT bytes;
 *   - time_ns is a non-negative int whose date is at most year 9999.
 *
 * No Python code runs while a record is written (only exact built-in types are
 * accepted and only their C-level data is read), so the borrowed references
 * taken from the containers stay valid for the whole call.
 *
 * init_records(record_type, context_var) and
 * make_record(level, logger_name, message, data, static, process_id) build the
 * LogRecord of a log call in one C call: the instance object.__new__(LogRecord)
 * makes, with the slots the logger's fast path assigns (see make_record below).
 * The type, the ContextVar and the slot offsets live in the module's state.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "structmember.h" /* PyMemberDef, T_OBJECT_EX and READONLY before 3.12 */

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#endif

#define MAX_OUTPUT 1048576      /* longest line written here (MAX_LINE_CHARS) */
#define MAX_NESTING 8           /* containers below the record */
#define SLACK 64                /* most any single reservation exceeds what it writes */
#define STACK_BUFFER 4096       /* the common record fits on the stack */
#define MAX_SECONDS 253402300799LL /* 9999-12-31T23:59:59Z */

/* return codes of the writers */
#define ENC_OK 0
#define ENC_UNSUPPORTED 1 /* outside the subset: the call returns None */
#define ENC_ERROR (-1)    /* a Python exception is set */

/* ------------------------------------------------------------------------ */
/* output buffer                                                              */

typedef struct {
    char *p;
    Py_ssize_t len;
    Py_ssize_t cap;
    int on_heap;
    char stack[STACK_BUFFER];
} Writer;

static void
writer_init(Writer *w)
{
    w->p = w->stack;
    w->len = 0;
    w->cap = STACK_BUFFER;
    w->on_heap = 0;
}

static void
writer_free(Writer *w)
{
    if (w->on_heap) {
        PyMem_Free(w->p);
    }
}

static int
writer_grow(Writer *w, Py_ssize_t need)
{
    Py_ssize_t limit = MAX_OUTPUT + SLACK;
    Py_ssize_t want, cap;
    char *np;

    if (need > limit - w->len) {
        /* every reservation is a lower bound of what is still to be written
           plus at most SLACK, so the line could not fit */
        return ENC_UNSUPPORTED;
    }
    want = w->len + need;
    cap = w->cap * 2;
    if (cap < want) {
        cap = want;
    }
    if (cap > limit) {
        cap = limit;
    }
    if (w->on_heap) {
        np = (char *)PyMem_Realloc(w->p, (size_t)cap);
    }
    else {
        np = (char *)PyMem_Malloc((size_t)cap);
        if (np != NULL) {
            memcpy(np, w->p, (size_t)w->len);
        }
    }
    if (np == NULL) {
        PyErr_NoMemory();
        return ENC_ERROR;
    }
    w->p = np;
    w->cap = cap;
    w->on_heap = 1;
    return ENC_OK;
}

/* make room for n more bytes */
static inline int
reserve(Writer *w, Py_ssize_t n)
{
    if (w->cap - w->len >= n) {
        return ENC_OK;
    }
    return writer_grow(w, n);
}

/* callers reserve first */
static inline void
put_raw(Writer *w, const char *s, Py_ssize_t n)
{
    memcpy(w->p + w->len, s, (size_t)n);
    w->len += n;
}

static inline int
write_raw(Writer *w, const char *s, Py_ssize_t n)
{
    int rc = reserve(w, n);
    if (rc != ENC_OK) {
        return rc;
    }
    put_raw(w, s, n);
    return ENC_OK;
}

/* ------------------------------------------------------------------------ */
/* tables                                                                     */

/* for each ASCII byte: 0 when written raw inside a JSON string, else the
   letter after the backslash ('u' for \u00XX) */
static unsigned char escape_table[128];
static const char hex_digits[] = "0123456789abcdef";
static char digit_pairs[200];

static void
init_tables(void)
{
    int c;
    for (c = 0; c < 128; c++) {
        escape_table[c] = (c < 0x20 || c == 0x7f) ? 'u' : 0;
    }
    escape_table['\b'] = 'b';
    escape_table['\f'] = 'f';
    escape_table['\n'] = 'n';
    escape_table['\r'] = 'r';
    escape_table['\t'] = 't';
    escape_table['"'] = '"';
    escape_table['\\'] = '\\';
    for (c = 0; c < 100; c++) {
        digit_pairs[2 * c] = (char)('0' + c / 10);
        digit_pairs[2 * c + 1] = (char)('0' + c % 10);
    }
}

/* ------------------------------------------------------------------------ */
/* strings                                                                    */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* nonzero when some byte of x is zero (exact as a whole-word test) */
#define HAS_ZERO_BYTE(x) (((x) - ONES) & ~(x) & HIGHS)

/* Copies s[i:n] to out up to the first byte that needs escaping; returns the
   number of bytes copied. The bytes are ASCII (below 0x80), which the
   word-at-a-time test relies on. */
static inline Py_ssize_t
copy_plain(char *out, const unsigned char *s, Py_ssize_t i, Py_ssize_t n)
{
    Py_ssize_t start = i;
    while (n - i >= 8) {
        uint64_t x, hits;
        memcpy(&x, s + i, 8);
        hits = ((x - 0x20 * ONES) & ~x & HIGHS)   /* a byte below 0x20 */
               | HAS_ZERO_BYTE(x ^ (0x22 * ONES)) /* '"' */
               | HAS_ZERO_BYTE(x ^ (0x5c * ONES)) /* '\\' */
               | HAS_ZERO_BYTE(x ^ (0x7f * ONES)); /* DEL */
        if (hits) {
            break;
        }
        memcpy(out + (i - start), &x, 8);
        i += 8;
    }
    while (i < n) {
        unsigned char c = s[i];
        if (escape_table[c]) {
            break;
        }
        out[i - start] = (char)c;
        i++;
    }
    return i - start;
}

/* s[0:n] (ASCII) as a JSON string, escaped as orjson escapes it */
static int
write_ascii_string(Writer *w, const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    char *out;
    int rc = reserve(w, n + 2);
    if (rc != ENC_OK) {
        return rc;
    }
    w->p[w->len++] = '"';
    for (;;) {
        unsigned char c, e;
        /* the room reserved covers the rest of s unescaped */
        Py_ssize_t copied = copy_plain(w->p + w->len, s, i, n);
        w->len += copied;
        i += copied;
        if (i == n) {
            break;
        }
        /* the escape, the rest unescaped and the closing quote */
        rc = reserve(w, 6 + (n - i - 1) + 1);
        if (rc != ENC_OK) {
            return rc;
        }
        c = s[i];
        e = escape_table[c];
        out = w->p + w->len;
        out[0] = '\\';
        if (e == 'u') {
            out[1] = 'u';
            out[2] = '0';
            out[3] = '0';
            out[4] = hex_digits[c >> 4];
            out[5] = hex_digits[c & 0xf];
            w->len += 6;
        }
        else {
            out[1] = (char)e;
            w->len += 2;
        }
        i++;
    }
    w->p[w->len++] = '"';
    return ENC_OK;
}

static inline int
write_str(Writer *w, PyObject *s)
{
    if (!PyUnicode_CheckExact(s)) {
        return ENC_UNSUPPORTED;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (!PyUnicode_IS_READY(s)) {
        return ENC_UNSUPPORTED;
    }
#endif
    if (!PyUnicode_IS_ASCII(s)) {
        return ENC_UNSUPPORTED;
    }
    return write_ascii_string(w, PyUnicode_1BYTE_DATA(s), PyUnicode_GET_LENGTH(s));
}

/* ------------------------------------------------------------------------ */
/* numbers                                                                    */

/* the decimal digits of u, written to end backwards; returns the first digit */
static inline char *
format_unsigned(char *end, unsigned long long u)
{
    char *q = end;
    while (u >= 100) {
        unsigned idx = (unsigned)(u % 100) * 2;
        u /= 100;
        q -= 2;
        q[0] = digit_pairs[idx];
        q[1] = digit_pairs[idx + 1];
    }
    if (u >= 10) {
        q -= 2;
        q[0] = digit_pairs[u * 2];
        q[1] = digit_pairs[u * 2 + 1];
    }
    else {
        *--q = (char)('0' + u);
    }
    return q;
}

static int
write_long(Writer *w, PyObject *v)
{
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    unsigned long long u;
    char tmp[24];
    char *end = tmp + sizeof(tmp), *q;

    if (overflow != 0) {
        return ENC_UNSUPPORTED;
    }
    if (x == -1 && PyErr_Occurred()) {
        return ENC_ERROR;
    }
    u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
    q = format_unsigned(end, u);
    if (x < 0) {
        *--q = '-';
    }
    return write_raw(w, q, end - q);
}

static const double powers_of_five[] = {
    1.0, 5.0, 25.0, 125.0, 625.0, 3125.0, 15625.0, 78125.0, 390625.0,
    1953125.0, 9765625.0, 48828125.0, 244140625.0, 1220703125.0,
    6103515625.0, 30517578125.0, 152587890625.0, 762939453125.0,
    3814697265625.0, 19073486328125.0, 95367431640625.0,
    476837158203125.0, 2384185791015625.0,
};

#define TWO_POW_53 9007199254740992ULL

/* trailing zero bits of m (m != 0) */
static inline int
count_trailing_zeros(unsigned long long m)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(m);
#else
    int n = 0;
    while ((m & 1ULL) == 0) {
        m >>= 1;
        n++;
    }
    return n;
#endif
}

/*
 * Fast path for floats whose value is a short exact decimal: 12.5, 100.0,
 * 0.25, -0.0. Such a value is M * 2**-b (M odd) = (M * 5**b) / 10**b exactly;
 * when that numerator is below 2**53 no decimal with fewer digits is within
 * half an ulp, so the exact digits are also the shortest round-trip digits,
 * which is what repr() (and orjson) write. Returns 0 when it does not apply.
 */
static Py_ssize_t
format_exact_decimal(double v, char *buf)
{
    double a = fabs(v);
    int e2, b, i;
    unsigned long long m;
    char tmp[48];
    char *end = tmp + sizeof(tmp), *q;
    Py_ssize_t n = 0;

    if (a == 0.0) {
        m = 0;
        b = 0;
    }
    else {
        /* fixed notation only between 1e-4 and 1e16 (and below 2**53 here) */
        if (!(a >= 1e-4 && a < 9007199254740992.0)) {
            return 0;
        }
        {
            uint64_t bits;
            int tz;
            memcpy(&bits, &a, sizeof(bits));
            /* a is normal here: a = m * 2**e2 with the implicit leading bit */
            m = (bits & 0xFFFFFFFFFFFFFULL) | (1ULL << 52);
            e2 = (int)((bits >> 52) & 0x7ff) - 1075;
            if (e2 < 0) {
                /* the fewest fractional bits: m odd, or no fraction left */
                tz = count_trailing_zeros(m);
                if (tz > -e2) {
                    tz = -e2;
                }
                m >>= tz;
                e2 += tz;
            }
        }
        if (e2 >= 0) {
            m <<= e2; /* an integer below 2**53 */
            b = 0;
        }
        else {
            double numerator;
            b = -e2;
            if (b >= (int)(sizeof(powers_of_five) / sizeof(powers_of_five[0]))) {
                return 0;
            }
            numerator = (double)m * powers_of_five[b];
            if (!(numerator < (double)TWO_POW_53)) {
                return 0;
            }
            /* the rounded product is below 2**53, so the exact one is too:
               the integer product is exact */
            m = m * (unsigned long long)powers_of_five[b];
        }
    }
    q = format_unsigned(end, m);
    if (signbit(v)) {
        buf[n++] = '-';
    }
    if (b == 0) {
        memcpy(buf + n, q, (size_t)(end - q));
        n += end - q;
        buf[n++] = '.';
        buf[n++] = '0';
        return n;
    }
    {
        Py_ssize_t digits = end - q;
        if (digits <= b) {
            /* 0.000ddd */
            buf[n++] = '0';
            buf[n++] = '.';
            for (i = 0; i < b - digits; i++) {
                buf[n++] = '0';
            }
            memcpy(buf + n, q, (size_t)digits);
            n += digits;
        }
        else {
            Py_ssize_t whole = digits - b;
            memcpy(buf + n, q, (size_t)whole);
            n += whole;
            buf[n++] = '.';
            memcpy(buf + n, q + whole, (size_t)b);
            n += b;
        }
    }
    return n;
}

static int
write_float(Writer *w, PyObject *v)
{
    double x = PyFloat_AS_DOUBLE(v);
    char buf[64];
    Py_ssize_t n;
    char *text;
    int rc;

    if (!isfinite(x)) {
        return ENC_UNSUPPORTED;
    }
    n = format_exact_decimal(x, buf);
    if (n > 0) {
        return write_raw(w, buf, n);
    }
    text = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL) {
        return ENC_ERROR;
    }
    if (strchr(text, 'e') != NULL) {
        rc = ENC_UNSUPPORTED; /* orjson spells exponents differently */
    }
    else {
        rc = write_raw(w, text, (Py_ssize_t)strlen(text));
    }
    PyMem_Free(text);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* values                                                                     */

static int write_value(Writer *w, PyObject *v, int depth);

static int
write_dict(Writer *w, PyObject *d, int depth)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    int rc, first = 1;

    rc = reserve(w, 2);
    if (rc != ENC_OK) {
        return rc;
    }
    w->p[w->len++] = '{';
    while (PyDict_Next(d, &pos, &key, &value)) {
        if (!first) {
            rc = write_raw(w, ",", 1);
            if (rc != ENC_OK) {
                return rc;
            }
        }
        first = 0;
        rc = write_str(w, key); /* non-str keys are unsupported */
        if (rc != ENC_OK) {
            return rc;
        }
        rc = write_raw(w, ":", 1);
        if (rc != ENC_OK) {
            return rc;
        }
        rc = write_value(w, value, depth);
        if (rc != ENC_OK) {
            return rc;
        }
    }
    return write_raw(w, "}", 1);
}

static int
write_array(Writer *w, PyObject *const *items, Py_ssize_t n, int depth)
{
    Py_ssize_t i;
    int rc = reserve(w, 2);
    if (rc != ENC_OK) {
        return rc;
    }
    w->p[w->len++] = '[';
    for (i = 0; i < n; i++) {
        if (i > 0) {
            rc = write_raw(w, ",", 1);
            if (rc != ENC_OK) {
                return rc;
            }
        }
        rc = write_value(w, items[i], depth);
        if (rc != ENC_OK) {
            return rc;
        }
    }
    return write_raw(w, "]", 1);
}

/* v at `depth` containers below the record */
static int
write_value(Writer *w, PyObject *v, int depth)
{
    PyTypeObject *t = Py_TYPE(v);

    if (t == &PyUnicode_Type) {
        return write_str(w, v);
    }
    if (v == Py_True) {
        return write_raw(w, "true", 4);
    }
    if (v == Py_False) {
        return write_raw(w, "false", 5);
    }
    if (v == Py_None) {
        return write_raw(w, "null", 4);
    }
    if (t == &PyLong_Type) {
        return write_long(w, v);
    }
    if (t == &PyFloat_Type) {
        return write_float(w, v);
    }
    if (t == &PyDict_Type) {
        if (depth >= MAX_NESTING) {
            return ENC_UNSUPPORTED;
        }
        return write_dict(w, v, depth + 1);
    }
    if (t == &PyList_Type) {
        if (depth >= MAX_NESTING) {
            return ENC_UNSUPPORTED;
        }
        return write_array(w, ((PyListObject *)v)->ob_item, PyList_GET_SIZE(v), depth + 1);
    }
    if (t == &PyTuple_Type) {
        if (depth >= MAX_NESTING) {
            return ENC_UNSUPPORTED;
        }
        return write_array(w, ((PyTupleObject *)v)->ob_item, PyTuple_GET_SIZE(v), depth + 1);
    }
    return ENC_UNSUPPORTED;
}

/* the pairs of one of the record's dicts; a key that is reserved or already
   in an earlier dict (prev1, prev2: NULL when empty) is unsupported */
static int
write_members(Writer *w, PyObject *d, PyObject *reserved, PyObject *prev1, PyObject *prev2)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    int rc;

    while (PyDict_Next(d, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key)) {
            return ENC_UNSUPPORTED;
        }
        /* The membership tests compare exact str keys, which runs no Python
           code unless `reserved` holds odd objects; hold the pair meanwhile. */
        Py_INCREF(key);
        Py_INCREF(value);
        rc = PySet_Contains(reserved, key);
        if (rc == 0 && prev1 != NULL) {
            rc = PyDict_Contains(prev1, key);
        }
        if (rc == 0 && prev2 != NULL) {
            rc = PyDict_Contains(prev2, key);
        }
        if (rc > 0) {
            rc = ENC_UNSUPPORTED;
        }
        else if (rc < 0) {
            rc = ENC_ERROR;
        }
        else {
            rc = write_raw(w, ",", 1);
            if (rc == ENC_OK) {
                rc = write_str(w, key);
            }
            if (rc == ENC_OK) {
                rc = write_raw(w, ":", 1);
            }
            if (rc == ENC_OK) {
                rc = write_value(w, value, 0);
            }
        }
        Py_DECREF(key);
        Py_DECREF(value);
        if (rc != ENC_OK) {
            return rc;
        }
    }
    return ENC_OK;
}

/* ------------------------------------------------------------------------ */
/* the timestamp                                                              */

/* "YYYY-MM-DDTHH:MM:SS." of the last second formatted (the GIL guards it) */
static long long cached_second = -1;
static char cached_prefix[20];

/* days since 1970-01-01 (>= 0) to a civil date, proleptic Gregorian */
static void
civil_from_days(long long days, long long *year, unsigned *month, unsigned *day)
{
    long long z = days + 719468; /* days since 0000-03-01 */
    long long era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                                    /* [0, 11], March first */
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (long long)yoe + era * 400 + (*month <= 2);
}

static inline void
put2(char *out, unsigned v)
{
    out[0] = digit_pairs[2 * v];
    out[1] = digit_pairs[2 * v + 1];
}

static void
format_prefix(long long sec, char *out)
{
    long long year;
    unsigned month, day;
    unsigned rem = (unsigned)(sec % 86400);
    civil_from_days(sec / 86400, &year, &month, &day);
    put2(out, (unsigned)(year / 100));
    put2(out + 2, (unsigned)(year % 100));
    out[4] = '-';
    put2(out + 5, month);
    out[7] = '-';
    put2(out + 8, day);
    out[10] = 'T';
    put2(out + 11, rem / 3600);
    out[13] = ':';
    put2(out + 14, rem / 60 % 60);
    out[16] = ':';
    put2(out + 17, rem % 60);
    out[19] = '.';
}

/* seconds and microseconds of a time_ns beyond int64 (far-future dates) */
static int
split_big_ns(PyObject *ns, long long *sec, long *micros)
{
    PyObject *billion, *pair;
    int overflow = 0, rc = ENC_OK;
    long long rem;

    billion = PyLong_FromLong(1000000000L);
    if (billion == NULL) {
        return ENC_ERROR;
    }
    pair = PyNumber_Divmod(ns, billion);
    Py_DECREF(billion);
    if (pair == NULL) {
        return ENC_ERROR;
    }
    *sec = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(pair, 0), &overflow);
    if (overflow != 0) {
        rc = ENC_UNSUPPORTED;
    }
    else if (*sec == -1 && PyErr_Occurred()) {
        rc = ENC_ERROR;
    }
    else {
        rem = PyLong_AsLongLong(PyTuple_GET_ITEM(pair, 1));
        if (rem == -1 && PyErr_Occurred()) {
            rc = ENC_ERROR;
        }
        else {
            *micros = (long)(rem / 1000);
        }
    }
    Py_DECREF(pair);
    return rc;
}

static int
write_timestamp(Writer *w, PyObject *ns_obj)
{
    static const char head[] = "{\"timestamp\":\"";
    int overflow = 0, rc;
    long long ns, sec;
    long micros;
    char *out;

    if (!PyLong_CheckExact(ns_obj)) {
        return ENC_UNSUPPORTED;
    }
    ns = PyLong_AsLongLongAndOverflow(ns_obj, &overflow);
    if (overflow < 0) {
        return ENC_UNSUPPORTED;
    }
    if (overflow > 0) {
        rc = split_big_ns(ns_obj, &sec, &micros);
        if (rc != ENC_OK) {
            return rc;
        }
    }
    else {
        if (ns == -1 && PyErr_Occurred()) {
            return ENC_ERROR;
        }
        if (ns < 0) {
            return ENC_UNSUPPORTED;
        }
        sec = ns / 1000000000LL;
        micros = (long)(ns % 1000000000LL / 1000);
    }
    if (sec > MAX_SECONDS) {
        return ENC_UNSUPPORTED;
    }
    if (sec != cached_second) {
        format_prefix(sec, cached_prefix);
        cached_second = sec;
    }
    rc = reserve(w, (Py_ssize_t)(sizeof(head) - 1) + 20 + 6 + 2);
    if (rc != ENC_OK) {
        return rc;
    }
    put_raw(w, head, (Py_ssize_t)(sizeof(head) - 1));
    put_raw(w, cached_prefix, 20);
    out = w->p + w->len;
    put2(out, (unsigned)(micros / 10000));
    put2(out + 2, (unsigned)(micros / 100 % 100));
    put2(out + 4, (unsigned)(micros % 100));
    out[6] = 'Z';
    out[7] = '"';
    w->len += 8;
    return ENC_OK;
}

/* ------------------------------------------------------------------------ */
/* encode_record                                                              */

static int
encode(Writer *w, PyObject *const *args)
{
    PyObject *time_ns = args[0], *level = args[1], *logger = args[2], *message = args[3];
    PyObject *stat = args[4], *context = args[5], *data = args[6], *reserved = args[7];
    int rc;

    if (!PyAnySet_Check(reserved)) {
        PyErr_SetString(PyExc_TypeError, "encode_record: reserved must be a set or frozenset");
        return ENC_ERROR;
    }
    if (!PyDict_CheckExact(stat) || !PyDict_CheckExact(context) || !PyDict_CheckExact(data)) {
        return ENC_UNSUPPORTED;
    }
    if ((rc = write_timestamp(w, time_ns)) != ENC_OK) {
        return rc;
    }
    if ((rc = write_raw(w, ",\"level\":", 9)) != ENC_OK || (rc = write_str(w, level)) != ENC_OK) {
        return rc;
    }
    if ((rc = write_raw(w, ",\"logger\":", 10)) != ENC_OK || (rc = write_str(w, logger)) != ENC_OK) {
        return rc;
    }
    if ((rc = write_raw(w, ",\"message\":", 11)) != ENC_OK || (rc = write_str(w, message)) != ENC_OK) {
        return rc;
    }
    if (PyDict_GET_SIZE(stat) > 0) {
        if ((rc = write_members(w, stat, reserved, NULL, NULL)) != ENC_OK) {
            return rc;
        }
    }
    if (PyDict_GET_SIZE(context) > 0) {
        rc = write_members(w, context, reserved, PyDict_GET_SIZE(stat) > 0 ? stat : NULL, NULL);
        if (rc != ENC_OK) {
            return rc;
        }
    }
    if (PyDict_GET_SIZE(data) > 0) {
        rc = write_members(w, data, reserved, PyDict_GET_SIZE(stat) > 0 ? stat : NULL,
                           PyDict_GET_SIZE(context) > 0 ? context : NULL);
        if (rc != ENC_OK) {
            return rc;
        }
    }
    if ((rc = write_raw(w, "}", 1)) != ENC_OK) {
        return rc;
    }
    if (w->len > MAX_OUTPUT) {
        return ENC_UNSUPPORTED;
    }
    return ENC_OK;
}

static PyObject *
encode_record(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Writer w;
    PyObject *result;
    int rc;

    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "encode_record() takes exactly 8 arguments (%zd given)", nargs);
        return NULL;
    }
    writer_init(&w);
    rc = encode(&w, args);
    if (rc == ENC_OK) {
        result = PyBytes_FromStringAndSize(w.p, w.len);
    }
    else if (rc == ENC_UNSUPPORTED) {
        result = Py_None;
        Py_INCREF(result);
    }
    else {
        result = NULL;
    }
    writer_free(&w);
    return result;
}

PyDoc_STRVAR(encode_record_doc,
"encode_record(time_ns, level, logger, message, static, context, data, reserved, /)\n"
"--\n"
"\n"
"The record's JSON line as bytes (no newline), exactly as the pure-Python\n"
"JSON formatter writes it, or None when the record is outside the subset\n"
"handled here (non-ASCII text, other value types, reserved or repeated keys,\n"
"deep nesting, a line over 1 MiB).");

/* ------------------------------------------------------------------------ */
/* records                                                                    */

/* the slots make_record fills, in its order (LogRecord.__slots__ minus _exception) */
enum {
    SLOT_TIME_NS,
    SLOT_LEVEL,
    SLOT_LOGGER_NAME,
    SLOT_MESSAGE,
    SLOT_DATA,
    SLOT_CONTEXT,
    SLOT_STATIC,
    SLOT_EXC_INFO,
    SLOT_STACK_INFO,
    SLOT_FILENAME,
    SLOT_LINENO,
    SLOT_FUNC_NAME,
    SLOT_THREAD_ID,
    SLOT_PROCESS_ID,
    N_SLOTS
};

static const char *const slot_names[N_SLOTS] = {
    "time_ns", "level", "logger_name", "message", "data", "context", "static",
    "exc_info", "stack_info", "filename", "lineno", "func_name", "thread_id", "process_id",
};

/* Per module object (so each interpreter has its own): what init_records set.
   record_type is NULL until then. */
typedef struct {
    PyTypeObject *record_type;
    PyObject *context_var;
    Py_ssize_t offsets[N_SLOTS]; /* of each slot's PyObject * in an instance */
    /* the int of the last thread ident make_record saw (NULL at first): the
       logging thread is usually the same from call to call */
    unsigned long thread_ident;
    PyObject *thread_obj;
    /* the stdlib keywords a log call's fields must not contain for make_record
       to build the record (exc_info, extra, stack_info, stacklevel) */
    PyObject *stdlib_keys[4];
} SpeedupsState;

static inline SpeedupsState *
get_state(PyObject *module)
{
    return (SpeedupsState *)PyModule_GetState(module);
}

static int
speedups_traverse(PyObject *module, visitproc visit, void *arg)
{
    SpeedupsState *st = get_state(module);
    if (st != NULL) {
        Py_VISIT(st->record_type);
        Py_VISIT(st->context_var);
    }
    return 0;
}

static int
speedups_clear(PyObject *module)
{
    SpeedupsState *st = get_state(module);
    if (st != NULL) {
        Py_CLEAR(st->record_type);
        Py_CLEAR(st->context_var);
        Py_CLEAR(st->thread_obj);
        for (int k = 0; k < 4; k++) {
            Py_CLEAR(st->stdlib_keys[k]);
        }
    }
    return 0;
}

static void
speedups_free(void *module)
{
    (void)speedups_clear((PyObject *)module);
}

/* the type's own or an ancestor's entry `name` (borrowed; NULL with no error
   when absent). Only the classes above `object` are searched: a slot is never
   defined on a built-in type, and on 3.12+ their tp_dict may be NULL. */
static PyObject *
lookup_in_classes(PyTypeObject *type, PyObject *name)
{
    PyObject *mro = type->tp_mro;
    Py_ssize_t i, n;

    if (mro == NULL || !PyTuple_Check(mro)) {
        return NULL;
    }
    n = PyTuple_GET_SIZE(mro);
    for (i = 0; i < n; i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        PyObject *found;
        if (!PyType_HasFeature(base, Py_TPFLAGS_HEAPTYPE) || base->tp_dict == NULL) {
            continue;
        }
        found = PyDict_GetItemWithError(base->tp_dict, name);
        if (found != NULL || PyErr_Occurred()) {
            return found;
        }
    }
    return NULL;
}

/* the offset of the object slot `name` of instances of `type`, or -1 with
   TypeError set when `name` is not such a slot */
static Py_ssize_t
slot_offset(PyTypeObject *type, const char *name)
{
    PyObject *key, *descr;
    const PyMemberDef *member;

    key = PyUnicode_FromString(name);
    if (key == NULL) {
        return -1;
    }
    descr = lookup_in_classes(type, key);
    Py_DECREF(key);
    if (descr == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError, "init_records: %.200s has no slot %s", type->tp_name, name);
        }
        return -1;
    }
    if (Py_TYPE(descr) != &PyMemberDescr_Type) {
        PyErr_Format(PyExc_TypeError, "init_records: %.200s.%s is a %.200s, not a slot", type->tp_name, name,
                     Py_TYPE(descr)->tp_name);
        return -1;
    }
    member = ((PyMemberDescrObject *)descr)->d_member;
    /* the descriptor must be this slot of a class the instances are laid out
       from (a descriptor copied from another class has another layout's offset) */
    if (member == NULL || member->name == NULL || strcmp(member->name, name) != 0 ||
        !PyType_IsSubtype(type, PyDescr_TYPE(descr))) {
        PyErr_Format(PyExc_TypeError, "init_records: %.200s.%s is not the class's own slot", type->tp_name, name);
        return -1;
    }
    if (member->type != T_OBJECT_EX || (member->flags & READONLY)
#ifdef Py_RELATIVE_OFFSET
        || (member->flags & Py_RELATIVE_OFFSET)
#endif
    ) {
        PyErr_Format(PyExc_TypeError, "init_records: %.200s.%s is not a writable object slot", type->tp_name, name);
        return -1;
    }
    if (member->offset < (Py_ssize_t)sizeof(PyObject) ||
        member->offset > type->tp_basicsize - (Py_ssize_t)sizeof(PyObject *) ||
        member->offset % (Py_ssize_t)sizeof(PyObject *) != 0) {
        PyErr_Format(PyExc_TypeError, "init_records: %.200s.%s has an offset outside the instance", type->tp_name,
                     name);
        return -1;
    }
    return member->offset;
}

static PyObject *
init_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    SpeedupsState *st = get_state(module);
    Py_ssize_t offsets[N_SLOTS];
    PyTypeObject *type, *base, *old_type;
    PyObject *var, *old_var;
    int i, j;

    if (st == NULL) {
        return NULL;
    }
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "init_records() takes exactly 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (!PyType_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "init_records: record_type must be a class, not %.200s",
                     Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    type = (PyTypeObject *)args[0];
    var = args[1];
    if (!PyContextVar_CheckExact(var)) {
        PyErr_Format(PyExc_TypeError, "init_records: context_var must be a ContextVar, not %.200s",
                     Py_TYPE(var)->tp_name);
        return NULL;
    }
    /* object.__new__(type) must be valid: a Python class whose instances are
       laid out by object alone, not abstract, with plain attribute setting */
    base = type;
    while (base != NULL && PyType_HasFeature(base, Py_TPFLAGS_HEAPTYPE)) {
        base = base->tp_base;
    }
    if (!PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE) || base != &PyBaseObject_Type) {
        PyErr_Format(PyExc_TypeError, "init_records: %.200s is not a class with __slots__ defined in Python",
                     type->tp_name);
        return NULL;
    }
    if (PyType_HasFeature(type, Py_TPFLAGS_IS_ABSTRACT) || type->tp_alloc == NULL || type->tp_itemsize != 0 ||
        type->tp_setattro != PyObject_GenericSetAttr) {
        PyErr_Format(PyExc_TypeError, "init_records: instances of %.200s cannot be built like object.__new__()",
                     type->tp_name);
        return NULL;
    }
    for (i = 0; i < N_SLOTS; i++) {
        offsets[i] = slot_offset(type, slot_names[i]);
        if (offsets[i] < 0) {
            return NULL;
        }
        for (j = 0; j < i; j++) {
            if (offsets[j] == offsets[i]) {
                PyErr_Format(PyExc_TypeError, "init_records: %.200s.%s and %s are the same slot", type->tp_name,
                             slot_names[j], slot_names[i]);
                return NULL;
            }
        }
    }
    if (st->stdlib_keys[0] == NULL) {
        static const char *const names[4] = {"exc_info", "extra", "stack_info", "stacklevel"};
        for (j = 0; j < 4; j++) {
            PyObject *key = PyUnicode_InternFromString(names[j]);
            if (key == NULL) {
                return NULL;
            }
            Py_XSETREF(st->stdlib_keys[j], key);
        }
    }
    old_type = st->record_type;
    old_var = st->context_var;
    Py_INCREF(type);
    Py_INCREF(var);
    st->record_type = type;
    st->context_var = var;
    memcpy(st->offsets, offsets, sizeof(offsets));
    Py_XDECREF(old_type);
    Py_XDECREF(old_var);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(init_records_doc,
"init_records(record_type, context_var, /)\n"
"--\n"
"\n"
"Sets the class make_record() instantiates (a Python class with the object\n"
"slots time_ns, level, logger_name, message, data, context, static, exc_info,\n"
"stack_info, filename, lineno, func_name, thread_id and process_id) and the\n"
"ContextVar whose value becomes each record's context. TypeError when the\n"
"class does not have those slots.");

/* the wall clock as integer nanoseconds since the epoch, as time.time_ns() */
static int
wall_clock_ns(long long *ns)
{
#ifdef _WIN32
    FILETIME ft;
    ULARGE_INTEGER t;
    GetSystemTimePreciseAsFileTime(&ft);
    t.LowPart = ft.dwLowDateTime;
    t.HighPart = ft.dwHighDateTime;
    /* 100 ns units since 1601-01-01 */
    *ns = ((long long)t.QuadPart - 116444736000000000LL) * 100;
    return 0;
#else
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    *ns = (long long)ts.tv_sec * 1000000000LL + (long long)ts.tv_nsec;
    return 0;
#endif
}

#define MAKE_RECORD_ARGS 7

/*
 * The record of a log call, as the logger's Python fast path builds it:
 *
 *     record = object.__new__(LogRecord)
 *     record.time_ns = time.time_ns()
 *     record.level, .logger_name, .message, .data, .static, .process_id = the arguments
 *     record.context = context_var.get()
 *     record.exc_info = .stack_info = .filename = .lineno = .func_name = None
 *     record.thread_id = threading.get_ident()
 *
 * (_exception, like any other slot not named, stays unset.)
 */
static PyObject *
make_record(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    SpeedupsState *st = get_state(module);
    Py_ssize_t off[N_SLOTS];
    PyTypeObject *type;
    PyObject *time_obj, *context, *thread_obj, *record, *fields, *bound, *data;
    unsigned long ident;
    long long ns;
    char *slots;
    int i;

    if (st == NULL) {
        return NULL;
    }
    if (nargs != MAKE_RECORD_ARGS) {
        PyErr_Format(PyExc_TypeError, "make_record() takes exactly %d arguments (%zd given)", MAKE_RECORD_ARGS,
                     nargs);
        return NULL;
    }
    type = st->record_type;
    if (type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "make_record() called before init_records()");
        return NULL;
    }
    fields = args[3];
    bound = args[4];
    if (!PyDict_Check(fields) || !PyDict_Check(bound)) {
        PyErr_SetString(PyExc_TypeError, "make_record(): fields and bound must be dicts");
        return NULL;
    }
    if (PyDict_GET_SIZE(fields) > 0) {
        for (i = 0; i < 4; i++) {
            int has = PyDict_Contains(fields, st->stdlib_keys[i]);
            if (has < 0) {
                return NULL;
            }
            if (has) {
                Py_RETURN_NONE; /* exc_info= and friends: the caller's general path */
            }
        }
    }
    if (PyDict_GET_SIZE(bound) > 0) {
        /* {**bound, **fields}: a new dict, the logger's own is never shared */
        data = PyDict_Copy(bound);
        if (data == NULL) {
            return NULL;
        }
        if (PyDict_Update(data, fields) < 0) {
            Py_DECREF(data);
            return NULL;
        }
    }
    else {
        data = fields;
        Py_INCREF(data);
    }
    if (wall_clock_ns(&ns) < 0) {
        Py_DECREF(data);
        return NULL;
    }
    if (PyContextVar_Get(st->context_var, NULL, &context) < 0) {
        Py_DECREF(data);
        return NULL;
    }
    if (context == NULL) {
        Py_DECREF(data);
        PyErr_SetObject(PyExc_LookupError, st->context_var); /* what .get() raises */
        return NULL;
    }
    /* On 3.9-3.11 the allocation can run a garbage collection, and so Python
       code (finalizers) that may call init_records() again: keep this call's
       type alive and its layout at hand. */
    Py_INCREF(type);
    memcpy(off, st->offsets, sizeof(off));
    time_obj = PyLong_FromLongLong(ns);
    ident = PyThread_get_thread_ident();
    if (st->thread_obj != NULL && st->thread_ident == ident) {
        thread_obj = st->thread_obj; /* the same value threading.get_ident() returns */
        Py_INCREF(thread_obj);
    }
    else {
        thread_obj = PyLong_FromUnsignedLong(ident);
        if (thread_obj != NULL) {
            Py_XSETREF(st->thread_obj, thread_obj);
            st->thread_ident = ident;
            Py_INCREF(thread_obj);
        }
    }
    record = (time_obj != NULL && thread_obj != NULL) ? type->tp_alloc(type, 0) : NULL;
    Py_DECREF(type); /* the record holds the type from here on */
    if (record == NULL) {
        Py_XDECREF(time_obj);
        Py_XDECREF(thread_obj);
        Py_DECREF(context);
        Py_DECREF(data);
        return NULL;
    }
    slots = (char *)record;
#define SLOT(i) (*(PyObject **)(slots + off[i]))
    /* new references: */
    SLOT(SLOT_TIME_NS) = time_obj;
    SLOT(SLOT_CONTEXT) = context;
    SLOT(SLOT_THREAD_ID) = thread_obj;
    /* borrowed ones: */
    Py_INCREF(args[0]);
    SLOT(SLOT_LEVEL) = args[0];
    Py_INCREF(args[1]);
    SLOT(SLOT_LOGGER_NAME) = args[1];
    Py_INCREF(args[2]);
    SLOT(SLOT_MESSAGE) = args[2];
    SLOT(SLOT_DATA) = data; /* new reference */
    Py_INCREF(args[5]);
    SLOT(SLOT_STATIC) = args[5];
    Py_INCREF(args[6]);
    SLOT(SLOT_PROCESS_ID) = args[6];
    for (i = SLOT_EXC_INFO; i <= SLOT_FUNC_NAME; i++) {
        Py_INCREF(Py_None);
        SLOT(i) = Py_None;
    }
#undef SLOT
    /* Not tracked by the cycle collector when it cannot be in a reference
       cycle: the dicts it holds (fields, context, static) are untracked
       themselves, which CPython does for a dict of atomic values only (str,
       int, float, bool, None), so nothing the record holds can lead back to
       it. That is the usual record, and a queue of thousands of them waiting
       for the background worker then costs every collection nothing. A record
       holding a container (a list, an object, a nested dict) stays tracked. */
    if (!PyObject_GC_IsTracked(data) && !PyObject_GC_IsTracked(context) && !PyObject_GC_IsTracked(args[5])) {
        PyObject_GC_UnTrack(record);
    }
    return record;
}

PyDoc_STRVAR(make_record_doc,
"make_record(level, logger_name, message, fields, bound, static, process_id, /)\n"
"--\n"
"\n"
"A new instance of the class given to init_records(), built without\n"
"__init__ as object.__new__() builds it, with time_ns = time.time_ns(),\n"
"context = the ContextVar's value, thread_id = threading.get_ident(),\n"
"exc_info, stack_info, filename, lineno and func_name None, and the other\n"
"slots set to the arguments. RuntimeError before init_records().");


/* ------------------------------------------------------------------------ */
/* the masking processor's cache of clean (key, value) pairs                  */

/* 1 if the pair (key, value) is known clean: *clean* maps a key to the set of
   its values found clean. 0 otherwise, unhashable keys or values included
   (no error is left set). Takes its own references, so a key's or value's
   __hash__/__eq__ cannot free them under it. */
static int
pair_known_clean(PyObject *clean, PyObject *key, PyObject *value)
{
    PyObject *values;
    int found = 0;

    Py_INCREF(key);
    Py_INCREF(value);
    values = PyDict_GetItemWithError(clean, key);
    if (values != NULL && PyAnySet_Check(values)) {
        Py_INCREF(values);
        found = PySet_Contains(values, value);
        Py_DECREF(values);
    }
    Py_DECREF(key);
    Py_DECREF(value);
    if (found != 1) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* 1 if every pair of the dict *data* is known clean */
static int
fields_known_clean(PyObject *data, PyObject *clean)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;

    while (PyDict_Next(data, &pos, &key, &value)) {
        if (!pair_known_clean(clean, key, value)) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* fields_clean: the masking processor's "every pair seen clean" check        */

static PyObject *
fields_clean(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "fields_clean() takes exactly 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (!PyDict_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "fields_clean() takes two dicts");
        return NULL;
    }
    return PyBool_FromLong(fields_known_clean(args[0], args[1]));
}

PyDoc_STRVAR(fields_clean_doc,
"fields_clean(data, clean, /)\n"
"--\n"
"\n"
"True if every (key, value) pair of the dict *data* is known clean: *clean*\n"
"maps a key to the set of its values found clean. The same answer as\n"
"data.items() <= {(k, v) for k, vs in clean.items() for v in vs}, without\n"
"building a tuple per pair. Unhashable keys or values give False.");

/* ------------------------------------------------------------------------ */
/* clean_records: which records of a batch the masking processor must see     */

/* 1 if *d* (a record's context or static dict) is empty or the masker's
   cached clean dict of the same size; 0 otherwise */
static inline int
shared_dict_clean(PyObject *d, PyObject *known, Py_ssize_t known_size)
{
    if (!PyDict_Check(d)) {
        return 0;
    }
    if (PyDict_GET_SIZE(d) == 0) {
        return 1;
    }
    return d == known && PyDict_GET_SIZE(d) == known_size;
}

static PyObject *
clean_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    SpeedupsState *st = get_state(module);
    PyObject *records, *clean_values, *clean_strings, *ctx_known, *static_known, *dirty, *record, *index;
    PyObject *data, *ctx, *stat, *message, *exc_info, *stack_info;
    Py_ssize_t min_text, ctx_size, static_size, n, i;
    char *slots;
    int ok;

    if (st == NULL) {
        return NULL;
    }
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "clean_records() takes exactly 8 arguments (%zd given)", nargs);
        return NULL;
    }
    records = args[0];
    clean_values = args[1];
    clean_strings = args[2];
    min_text = PyLong_AsSsize_t(args[3]);
    ctx_known = args[4];
    ctx_size = PyLong_AsSsize_t(args[5]);
    static_known = args[6];
    static_size = PyLong_AsSsize_t(args[7]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (!PyList_Check(records) || !PyDict_Check(clean_values) || !PyAnySet_Check(clean_strings)) {
        PyErr_SetString(PyExc_TypeError, "clean_records(): a list, a dict and a set expected");
        return NULL;
    }
    if (st->record_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "clean_records() called before init_records()");
        return NULL;
    }
    dirty = PyList_New(0);
    if (dirty == NULL) {
        return NULL;
    }
    n = PyList_GET_SIZE(records);
    for (i = 0; i < n && i < PyList_GET_SIZE(records); i++) {
        record = PyList_GET_ITEM(records, i);
        ok = 0;
        if (Py_TYPE(record) == st->record_type) {
            Py_INCREF(record);
            slots = (char *)record;
#define SLOT(k) (*(PyObject **)(slots + st->offsets[k]))
            data = SLOT(SLOT_DATA);
            ctx = SLOT(SLOT_CONTEXT);
            stat = SLOT(SLOT_STATIC);
            message = SLOT(SLOT_MESSAGE);
            exc_info = SLOT(SLOT_EXC_INFO);
            stack_info = SLOT(SLOT_STACK_INFO);
#undef SLOT
            /* every slot is set on a record built by the logger; an unset one
               (NULL) sends the record to the Python check */
            if (data != NULL && ctx != NULL && stat != NULL && message != NULL && exc_info == Py_None &&
                stack_info == Py_None && PyUnicode_CheckExact(message) && PyDict_Check(data) &&
                shared_dict_clean(ctx, ctx_known, ctx_size) && shared_dict_clean(stat, static_known, static_size)) {
                if (PyUnicode_GET_LENGTH(message) < min_text) {
                    ok = 1;
                }
                else {
                    ok = PySet_Contains(clean_strings, message);
                    if (ok < 0) {
                        PyErr_Clear();
                        ok = 0;
                    }
                }
                if (ok && PyDict_GET_SIZE(data) > 0) {
                    Py_INCREF(data);
                    ok = fields_known_clean(data, clean_values);
                    Py_DECREF(data);
                }
            }
            Py_DECREF(record);
        }
        if (!ok) {
            index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(dirty, index) < 0) {
                Py_XDECREF(index);
                Py_DECREF(dirty);
                return NULL;
            }
            Py_DECREF(index);
        }
    }
    return dirty;
}

PyDoc_STRVAR(clean_records_doc,
"clean_records(records, clean_values, clean_strings, min_text, ctx_known, ctx_size, static_known, static_size, /)\n"
"--\n"
"\n"
"The indexes of the records in the list *records* that the masking processor\n"
"must look at: every record but those it would pass unchanged on its fast\n"
"path (fields all known clean, message known clean or shorter than min_text,\n"
"context and static empty or the cached clean dict of that size, no\n"
"exception, no stack). A record of another class than the one given to\n"
"init_records() is always listed.");

/* ------------------------------------------------------------------------ */
/* unknown_keys: the fields of a record the masking processor must look at   */

static PyObject *
unknown_keys(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *data, *clean, *key, *value, *out;
    Py_ssize_t pos = 0;

    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "unknown_keys() takes exactly 2 arguments (%zd given)", nargs);
        return NULL;
    }
    data = args[0];
    clean = args[1];
    if (!PyDict_Check(data) || !PyDict_Check(clean)) {
        PyErr_SetString(PyExc_TypeError, "unknown_keys() takes two dicts");
        return NULL;
    }
    out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    while (PyDict_Next(data, &pos, &key, &value)) {
        if (!pair_known_clean(clean, key, value) && PyList_Append(out, key) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

PyDoc_STRVAR(unknown_keys_doc,
"unknown_keys(data, clean, /)\n"
"--\n"
"\n"
"The keys of the dict *data*, in order, whose (key, value) pair is not known\n"
"clean: *clean* maps a key to the set of its values found clean. Empty when\n"
"every pair is known clean.");

/* ------------------------------------------------------------------------ */
/* scan_fields: the masking processor's per-field checks for plain values    */

static int
contains(const char *s, Py_ssize_t n, const char *needle)
{
    size_t m = strlen(needle);
    Py_ssize_t i, last;

    if ((Py_ssize_t)m > n) {
        return 0;
    }
    last = n - (Py_ssize_t)m;
    for (i = 0; i <= last; i++) {
        if (s[i] == needle[0] && memcmp(s + i, needle, m) == 0) {
            return 1;
        }
    }
    return 0;
}

/* 1 if a built-in masking rule could match the ASCII text s[0:n]: a superset
   of masking.py's _triggers(s) != 0 (it may say 1 where _triggers says 0,
   never the reverse), so a 0 here means the text is clean for the built-in
   rules and the Python scan can be skipped. */
static int
maybe_secret(const char *s, Py_ssize_t n)
{
    Py_ssize_t i, digits = 0;
    int plus = 0;

    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            digits++;
        }
        else if (c == '@' || c == '=' || c == ':' || c == '_') {
            return 1;
        }
        else if (c == '+') {
            plus = 1;
        }
    }
    if (n < 10) {
        return 0;
    }
    if (n >= 40) {
        return 1;
    }
    /* the number categories need 9 digits in a run, or a "+" and a digit */
    if (digits >= 9 || (plus && digits > 0)) {
        return 1;
    }
    if (contains(s, n, "earer") || contains(s, n, "EARER") || contains(s, n, "asic") || contains(s, n, "ASIC")) {
        return 1;
    }
    if (n >= 15 && (contains(s, n, "eyJ") || contains(s, n, "xox") || contains(s, n, "hooks.slack"))) {
        return 1;
    }
    if (n >= 20 && (contains(s, n, "-----") || contains(s, n, "glpat") || contains(s, n, "AIza") ||
                    contains(s, n, "ya29.") || contains(s, n, "AKIA") || contains(s, n, "ASIA"))) {
        return 1;
    }
    return 0;
}

#define CARD_INT_MIN 1000000000000LL /* masking._CARD_INT_MIN: 10**12 */

/* 0: nothing to mask in this value under a plain key (clean strings are
   remembered in *clean_strings*); 1: the Python path must look at it;
   -1: an error */
static int
plain_value_needs_python(PyObject *value, PyObject *clean_strings, Py_ssize_t min_text, Py_ssize_t cache_limit,
                         Py_ssize_t cache_max_len)
{
    if (value == Py_None || value == Py_True || value == Py_False || PyFloat_CheckExact(value)) {
        return 0;
    }
    if (PyLong_CheckExact(value)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 1;
        }
        return overflow != 0 || v <= -CARD_INT_MIN || v >= CARD_INT_MIN;
    }
    if (PyUnicode_CheckExact(value)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(value);
        int known;
        if (n < min_text) {
            return 0;
        }
        known = PySet_Contains(clean_strings, value);
        if (known < 0) {
            return -1;
        }
        if (known) {
            return 0;
        }
        if (!PyUnicode_IS_ASCII(value) || maybe_secret((const char *)PyUnicode_DATA(value), n)) {
            return 1;
        }
        if (n <= cache_max_len) {
            if (PySet_GET_SIZE(clean_strings) >= cache_limit && PySet_Clear(clean_strings) < 0) {
                return -1;
            }
            if (PySet_Add(clean_strings, value) < 0) {
                return -1;
            }
        }
        return 0;
    }
    return 1;
}

static PyObject *
scan_fields(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *data, *clean_values, *kinds, *clean_strings, *key, *value, *kind, *out = NULL;
    Py_ssize_t pos = 0, min_text, cache_limit, cache_max_len;
    int needs, all_known = 1;

    if (nargs != 7) {
        PyErr_Format(PyExc_TypeError, "scan_fields() takes exactly 7 arguments (%zd given)", nargs);
        return NULL;
    }
    data = args[0];
    clean_values = args[1];
    kinds = args[2];
    clean_strings = args[3];
    min_text = PyLong_AsSsize_t(args[4]);
    cache_limit = PyLong_AsSsize_t(args[5]);
    cache_max_len = PyLong_AsSsize_t(args[6]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (!PyDict_Check(data) || !PyDict_Check(clean_values) || !PyDict_Check(kinds) || !PySet_Check(clean_strings)) {
        PyErr_SetString(PyExc_TypeError, "scan_fields(): three dicts and a set expected");
        return NULL;
    }
    out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    while (PyDict_Next(data, &pos, &key, &value)) {
        if (!pair_known_clean(clean_values, key, value)) {
            all_known = 0;
            Py_INCREF(key);
            Py_INCREF(value);
            needs = 1;
            kind = PyDict_GetItemWithError(kinds, key); /* borrowed; ints are cached */
            if (kind == NULL) {
                PyErr_Clear(); /* not classified yet: Python does it */
            }
            else if (PyLong_CheckExact(kind)) {
                long k = PyLong_AsLong(kind);
                if (k == 2) { /* _ALLOWED */
                    needs = 0;
                }
                else if (k == 0) { /* _PLAIN */
                    needs = plain_value_needs_python(value, clean_strings, min_text, cache_limit, cache_max_len);
                }
                if (needs < 0 || (k == -1 && PyErr_Occurred())) {
                    Py_DECREF(key);
                    Py_DECREF(value);
                    Py_DECREF(out);
                    return NULL;
                }
            }
            if (needs && PyList_Append(out, key) < 0) {
                Py_DECREF(key);
                Py_DECREF(value);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(key);
            Py_DECREF(value);
        }
    }
    if (all_known) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

PyDoc_STRVAR(scan_fields_doc,
"scan_fields(data, clean_values, kinds, clean_strings, min_text, cache_limit, cache_max_len, /)\n"
"--\n"
"\n"
"None when every (key, value) pair of the dict *data* is known clean.\n"
"Otherwise the keys the masking processor must look at in Python: those not\n"
"known clean except the ones this function settles itself, values under a\n"
"plain key (kinds[key] == 0) that cannot hold a secret (None, bools, floats,\n"
"ints below 10**12, ASCII strings shorter than min_text, known clean, or in\n"
"which no built-in rule could match; those are added to clean_strings) and\n"
"values under an allow-listed key (kinds[key] == 2).");

/* ------------------------------------------------------------------------ */
/* encode_records: a batch of records as JSON lines, for the file handler     */

typedef struct {
    char *p;
    size_t len;
    size_t cap;
} Batch;

static int
batch_append(Batch *b, const char *s, size_t n)
{
    if (n + 1 > b->cap - b->len) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        char *np;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        np = (char *)PyMem_Realloc(b->p, cap);
        if (np == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len++] = '\n';
    return 0;
}

static PyObject *
encode_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    SpeedupsState *st = get_state(module);
    PyObject *records, *reserved, *level_names, *fallback, *record, *line, *result;
    PyObject *argv[8];
    Batch b = {NULL, 0, 0};
    Py_ssize_t i;
    char *slots;
    int rc;

    if (st == NULL) {
        return NULL;
    }
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "encode_records() takes exactly 4 arguments (%zd given)", nargs);
        return NULL;
    }
    records = args[0];
    reserved = args[1];
    level_names = args[2];
    fallback = args[3];
    if (!PyList_Check(records) || !PyAnySet_Check(reserved) || !PyDict_Check(level_names)) {
        PyErr_SetString(PyExc_TypeError, "encode_records(): a list, a set and a dict expected");
        return NULL;
    }
    for (i = 0; i < PyList_GET_SIZE(records); i++) {
        record = PyList_GET_ITEM(records, i);
        Py_INCREF(record);
        rc = ENC_UNSUPPORTED;
        if (st->record_type != NULL && Py_TYPE(record) == st->record_type) {
            PyObject *level;
            slots = (char *)record;
#define SLOT(k) (*(PyObject **)(slots + st->offsets[k]))
            level = SLOT(SLOT_LEVEL);
            argv[0] = SLOT(SLOT_TIME_NS);
            argv[2] = SLOT(SLOT_LOGGER_NAME);
            argv[3] = SLOT(SLOT_MESSAGE);
            argv[4] = SLOT(SLOT_STATIC);
            argv[5] = SLOT(SLOT_CONTEXT);
            argv[6] = SLOT(SLOT_DATA);
            argv[7] = reserved;
            argv[1] = level != NULL ? PyDict_GetItemWithError(level_names, level) : NULL;
            if (argv[1] == NULL && PyErr_Occurred()) {
                PyErr_Clear();
            }
            /* exception, caller and stack go through Python, as do records
               with a slot never set */
            if (argv[1] != NULL && argv[0] != NULL && argv[2] != NULL && argv[3] != NULL && argv[4] != NULL &&
                argv[5] != NULL && argv[6] != NULL && SLOT(SLOT_EXC_INFO) == Py_None &&
                SLOT(SLOT_FILENAME) == Py_None && SLOT(SLOT_STACK_INFO) == Py_None) {
                Writer w;
                writer_init(&w);
                rc = encode(&w, argv);
                if (rc == ENC_OK && batch_append(&b, w.p, (size_t)w.len) < 0) {
                    rc = ENC_ERROR;
                }
                writer_free(&w);
            }
#undef SLOT
        }
        if (rc == ENC_UNSUPPORTED) {
            line = PyObject_CallOneArg(fallback, record);
            if (line == NULL) {
                rc = ENC_ERROR;
            }
            else if (!PyBytes_Check(line)) {
                PyErr_SetString(PyExc_TypeError, "encode_records(): the fallback must return bytes");
                Py_DECREF(line);
                rc = ENC_ERROR;
            }
            else {
                rc = batch_append(&b, PyBytes_AS_STRING(line), (size_t)PyBytes_GET_SIZE(line)) < 0 ? ENC_ERROR
                                                                                                 : ENC_OK;
                Py_DECREF(line);
            }
        }
        Py_DECREF(record);
        if (rc == ENC_ERROR) {
            PyMem_Free(b.p);
            return NULL;
        }
    }
    result = PyBytes_FromStringAndSize(b.p != NULL ? b.p : "", (Py_ssize_t)b.len);
    PyMem_Free(b.p);
    return result;
}

PyDoc_STRVAR(encode_records_doc,
"encode_records(records, reserved, level_names, fallback, /)\n"
"--\n"
"\n"
"The JSON lines of the records in the list *records*, each followed by a\n"
"newline, as one bytes object. A record encode_record() covers is written\n"
"here (its level name from the dict *level_names*); any other record is\n"
"written as fallback(record), which must return its line as bytes.");

static PyMethodDef speedups_methods[] = {
    {"encode_record", (PyCFunction)(void (*)(void))encode_record, METH_FASTCALL, encode_record_doc},
    {"init_records", (PyCFunction)(void (*)(void))init_records, METH_FASTCALL, init_records_doc},
    {"make_record", (PyCFunction)(void (*)(void))make_record, METH_FASTCALL, make_record_doc},
    {"fields_clean", (PyCFunction)(void (*)(void))fields_clean, METH_FASTCALL, fields_clean_doc},
    {"clean_records", (PyCFunction)(void (*)(void))clean_records, METH_FASTCALL, clean_records_doc},
    {"unknown_keys", (PyCFunction)(void (*)(void))unknown_keys, METH_FASTCALL, unknown_keys_doc},
    {"scan_fields", (PyCFunction)(void (*)(void))scan_fields, METH_FASTCALL, scan_fields_doc},
    {"encode_records", (PyCFunction)(void (*)(void))encode_records, METH_FASTCALL, encode_records_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot speedups_slots[] = {
#ifdef Py_mod_multiple_interpreters
    /* the timestamp cache is process-wide C data: one GIL for all interpreters;
       the records' type and ContextVar are per module object (SpeedupsState) */
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "micktrace._speedups",
    "Optional compiled speedups for micktrace (see micktrace._native).",
    sizeof(SpeedupsState),
    speedups_methods,
    speedups_slots,
    speedups_traverse,
    speedups_clear,
    speedups_free,
};

PyMODINIT_FUNC PyInit__speedups(void);

PyMODINIT_FUNC
PyInit__speedups(void)
{
    init_tables();
    return PyModuleDef_Init(&speedups_module);
}
