/* The module state, the LogRecord slot layout (init_records) and make_record. */
/* Part of micktrace's compiled speedup, included once by module.c (one
   translation unit, so the static helpers stay static and inline). */
#ifndef MICKTRACE_SPEEDUPS_RECORDS_H
#define MICKTRACE_SPEEDUPS_RECORDS_H

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

#endif /* MICKTRACE_SPEEDUPS_RECORDS_H */
