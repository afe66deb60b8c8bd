/* The record's timestamp, and encode_record: one record's JSON line. */
/* Part of micktrace's compiled speedup, included once by module.c (one
   translation unit, so the static helpers stay static and inline). */
#ifndef MICKTRACE_SPEEDUPS_LINE_H
#define MICKTRACE_SPEEDUPS_LINE_H

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

#endif /* MICKTRACE_SPEEDUPS_LINE_H */
