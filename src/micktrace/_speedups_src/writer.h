/* The output buffer (Writer), the escape and digit tables, and JSON strings. */
/* Part of micktrace's compiled speedup, included once by module.c (one
   translation unit, so the static helpers stay static and inline). */
#ifndef MICKTRACE_SPEEDUPS_WRITER_H
#define MICKTRACE_SPEEDUPS_WRITER_H

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

#endif /* MICKTRACE_SPEEDUPS_WRITER_H */
