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


/* The module is one translation unit made of these parts, by concern (each
   uses only what comes before it): */
#include "writer.h"         /* buffer, tables, strings */
#include "values.h"         /* numbers, values */
#include "line.h"           /* timestamp, encode_record */
#include "records.h"        /* module state, LogRecord slots, make_record */
#include "masking_checks.h" /* the masking pre-checks */
#include "batch_encoder.h"  /* encode_records */

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
