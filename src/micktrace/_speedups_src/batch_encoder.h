/* encode_records: a batch of records as JSON lines, for the file handler. */
/* Part of micktrace's compiled speedup, included once by module.c (one
   translation unit, so the static helpers stay static and inline). */
#ifndef MICKTRACE_SPEEDUPS_BATCH_ENCODER_H
#define MICKTRACE_SPEEDUPS_BATCH_ENCODER_H

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

#endif /* MICKTRACE_SPEEDUPS_BATCH_ENCODER_H */
