/* The masking processor's pre-checks: fields_clean, clean_records, unknown_keys, scan_fields. */
/* Part of micktrace's compiled speedup, included once by module.c (one
   translation unit, so the static helpers stay static and inline). */
#ifndef MICKTRACE_SPEEDUPS_MASKING_CHECKS_H
#define MICKTRACE_SPEEDUPS_MASKING_CHECKS_H

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

/* 1 if the str *text* is shorter than min_text or in the set of strings
   found clean; 0 otherwise (no error is left set) */
static inline int
text_known_clean(PyObject *text, PyObject *clean_strings, Py_ssize_t min_text)
{
    int found;

    if (PyUnicode_GET_LENGTH(text) < min_text) {
        return 1;
    }
    found = PySet_Contains(clean_strings, text);
    if (found < 0) {
        PyErr_Clear();
        return 0;
    }
    return found;
}

static PyObject *
clean_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    SpeedupsState *st = get_state(module);
    PyObject *records, *clean_values, *clean_strings, *ctx_known, *static_known, *dirty, *record, *index;
    PyObject *data, *ctx, *stat, *message, *name, *exc_info, *stack_info;
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
            name = SLOT(SLOT_LOGGER_NAME);
            exc_info = SLOT(SLOT_EXC_INFO);
            stack_info = SLOT(SLOT_STACK_INFO);
#undef SLOT
            /* every slot is set on a record built by the logger; an unset one
               (NULL) sends the record to the Python check */
            if (data != NULL && ctx != NULL && stat != NULL && message != NULL && name != NULL &&
                exc_info == Py_None && stack_info == Py_None && PyUnicode_CheckExact(message) &&
                PyUnicode_CheckExact(name) && PyDict_Check(data) && shared_dict_clean(ctx, ctx_known, ctx_size) &&
                shared_dict_clean(stat, static_known, static_size)) {
                ok = text_known_clean(message, clean_strings, min_text) &&
                     text_known_clean(name, clean_strings, min_text);
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
"path (fields all known clean, message and logger name known clean or shorter\n"
"than min_text, "
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
        else if ((c == '\'' || c == '"') && i + 1 < n && s[i + 1] == ',') {
            return 1; /* a pair written as a tuple: ('password', 'x') */
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

#endif /* MICKTRACE_SPEEDUPS_MASKING_CHECKS_H */
