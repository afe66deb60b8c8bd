/* JSON numbers and values (dicts, lists, members of the record). */
/* Part of micktrace's compiled speedup, included once by module.c (one
   translation unit, so the static helpers stay static and inline). */
#ifndef MICKTRACE_SPEEDUPS_VALUES_H
#define MICKTRACE_SPEEDUPS_VALUES_H

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

#endif /* MICKTRACE_SPEEDUPS_VALUES_H */
