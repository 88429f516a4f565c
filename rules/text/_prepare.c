/* A message's matched forms in one pass over its characters.
 *
 * This must mirror rules/text/normalize.py's _prepare (the reference and the
 * fallback when this module is not built): marked (str.translate with
 * MARK_LIST, then _fold_high for a code point past the list), the noise
 * dropped (pre), the runs of a repeated character in pre and pre with each
 * collapsed (folded), and folded sounded through SOUND_LIST (the same object
 * when folded is ASCII). tests/rules/text/test_prepare_native.py compares the two.
 *
 * No table lives here: load() receives MARK_LIST, SOUND_LIST, NOISE, the first
 * code point of the slow path and _fold_high from normalize.py at import. A
 * table entry is read as str.translate reads it: an int (one code point), a
 * str (any number of characters) or None (deleted); a code point past the
 * table stays as it is.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* An entry: a code point, or (EXPANDS set) LEN characters at OFFSET in the pool. */
#define EXPANDS 0x80000000u
#define LEN_BITS 8
#define MAX_LEN ((1u << LEN_BITS) - 1)
#define MAX_OFFSET ((EXPANDS >> LEN_BITS) - 1)

typedef struct {
    uint32_t *entries;
    Py_ssize_t size;
    Py_UCS4 *pool;
} Table;

static Table mark_table, sound_table;
static Py_UCS4 noise_char, high_start;
static PyObject *fold_high; /* normalize._fold_high: one character -> its fold */

static void table_free(Table *t) {
    PyMem_Free(t->entries);
    PyMem_Free(t->pool);
    memset(t, 0, sizeof *t);
}

static int table_load(Table *t, PyObject *seq) {
    PyObject *fast = PySequence_Fast(seq, "a translate table must be a sequence");
    if (fast == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast), pooled = 0, at = 0;
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t i = 0; i < n; i++)
        if (PyUnicode_Check(items[i])) pooled += PyUnicode_GET_LENGTH(items[i]);
    Table new = {PyMem_Malloc((n ? n : 1) * sizeof(uint32_t)), n,
                 PyMem_Malloc((pooled ? pooled : 1) * sizeof(Py_UCS4))};
    if (new.entries == NULL || new.pool == NULL) {
        table_free(&new);
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = items[i];
        if (item == Py_None) {
            new.entries[i] = EXPANDS; /* no characters */
        } else if (PyLong_Check(item)) {
            long code = PyLong_AsLong(item);
            if (code < 0 || code > 0x10FFFF) goto bad;
            new.entries[i] = (uint32_t)code;
        } else if (PyUnicode_Check(item)) {
            Py_ssize_t len = PyUnicode_GET_LENGTH(item);
            if ((size_t)len > MAX_LEN || (size_t)at > MAX_OFFSET) goto bad;
            if (PyUnicode_AsUCS4(item, new.pool + at, len, 0) == NULL && len) goto fail;
            new.entries[i] = EXPANDS | ((uint32_t)at << LEN_BITS) | (uint32_t)len;
            at += len;
        } else {
            goto bad;
        }
    }
    Py_DECREF(fast);
    table_free(t);
    *t = new;
    return 0;
bad:
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "unsupported translate table entry");
fail:
    table_free(&new);
    Py_DECREF(fast);
    return -1;
}

/* A growing UCS4 buffer that remembers its largest character. */
typedef struct {
    Py_UCS4 *data;
    Py_ssize_t len, cap;
    Py_UCS4 max;
    Py_UCS4 local[128];
} Buffer;

static void buffer_init(Buffer *b) {
    b->data = b->local;
    b->len = 0;
    b->cap = (Py_ssize_t)(sizeof b->local / sizeof b->local[0]);
    b->max = 0;
}

static void buffer_free(Buffer *b) {
    if (b->data != b->local) PyMem_Free(b->data);
}

static int buffer_grow(Buffer *b, Py_ssize_t need) {
    Py_ssize_t cap = b->cap;
    while (cap < need) cap *= 2;
    Py_UCS4 *data = b->data == b->local ? PyMem_Malloc(cap * sizeof(Py_UCS4))
                                        : PyMem_Realloc(b->data, cap * sizeof(Py_UCS4));
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (b->data == b->local) memcpy(data, b->local, b->len * sizeof(Py_UCS4));
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline int buffer_push(Buffer *b, Py_UCS4 ch) {
    if (b->len == b->cap && buffer_grow(b, b->len + 1) < 0) return -1;
    b->data[b->len++] = ch;
    if (ch > b->max) b->max = ch;
    return 0;
}

static PyObject *buffer_str(const Buffer *b) {
    PyObject *out = PyUnicode_New(b->len, b->max);
    if (out == NULL) return NULL;
    void *data = PyUnicode_DATA(out);
    switch (PyUnicode_KIND(out)) {
    case PyUnicode_1BYTE_KIND:
        for (Py_ssize_t i = 0; i < b->len; i++) ((Py_UCS1 *)data)[i] = (Py_UCS1)b->data[i];
        break;
    case PyUnicode_2BYTE_KIND:
        for (Py_ssize_t i = 0; i < b->len; i++) ((Py_UCS2 *)data)[i] = (Py_UCS2)b->data[i];
        break;
    default:
        memcpy(data, b->data, b->len * sizeof(Py_UCS4));
    }
    return out;
}

/* Append what TABLE makes of CH to OUT (str.translate's reading of one character). */
static inline int translate_into(const Table *table, Py_UCS4 ch, Buffer *out) {
    if ((Py_ssize_t)ch >= table->size) return buffer_push(out, ch);
    uint32_t entry = table->entries[ch];
    if (!(entry & EXPANDS)) return buffer_push(out, entry);
    const Py_UCS4 *chars = table->pool + ((entry & ~EXPANDS) >> LEN_BITS);
    for (uint32_t k = 0, len = entry & MAX_LEN; k < len; k++)
        if (buffer_push(out, chars[k]) < 0) return -1;
    return 0;
}

/* marked(): each character through MARK_LIST, then any result past high_start
 * through _fold_high (normalize.marked's second pass, over the translated text). */
static int mark_into(PyObject *text, Buffer *mark) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    for (Py_ssize_t i = 0; i < n; i++)
        if (translate_into(&mark_table, PyUnicode_READ(kind, data, i), mark) < 0) return -1;
    if (mark->max < high_start) return 0;
    Buffer done;
    buffer_init(&done);
    for (Py_ssize_t i = 0; i < mark->len; i++) {
        Py_UCS4 ch = mark->data[i];
        if (ch < high_start) {
            if (buffer_push(&done, ch) < 0) goto fail;
            continue;
        }
        PyObject *folded = PyObject_CallFunction(fold_high, "N", PyUnicode_FromOrdinal(ch));
        if (folded == NULL) goto fail;
        if (!PyUnicode_Check(folded)) {
            Py_DECREF(folded);
            PyErr_SetString(PyExc_TypeError, "_fold_high must return a str");
            goto fail;
        }
        int fkind = PyUnicode_KIND(folded);
        const void *fdata = PyUnicode_DATA(folded);
        for (Py_ssize_t k = 0; k < PyUnicode_GET_LENGTH(folded); k++) {
            if (buffer_push(&done, PyUnicode_READ(fkind, fdata, k)) < 0) {
                Py_DECREF(folded);
                goto fail;
            }
        }
        Py_DECREF(folded);
    }
    buffer_free(mark);
    *mark = done;
    if (done.data == done.local) mark->data = mark->local; /* the struct moved */
    return 0;
fail:
    buffer_free(&done);
    return -1;
}

static PyObject *runs_list(const Py_ssize_t *spans, Py_ssize_t count) {
    PyObject *list = PyList_New(count);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *start = PyLong_FromSsize_t(spans[2 * i]);
        PyObject *end = PyLong_FromSsize_t(spans[2 * i + 1]);
        PyObject *span = start && end ? PyTuple_Pack(2, start, end) : NULL;
        Py_XDECREF(start);
        Py_XDECREF(end);
        if (span == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, span);
    }
    return list;
}

static PyObject *prepare(PyObject *Py_UNUSED(module), PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "prepare() takes a str");
        return NULL;
    }
    if (mark_table.entries == NULL || sound_table.entries == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "prepare() before load()");
        return NULL;
    }
    Buffer mark, pre, folded, sound;
    buffer_init(&mark);
    buffer_init(&pre);
    buffer_init(&folded);
    buffer_init(&sound);
    Py_ssize_t *spans = NULL, nspans = 0, spans_cap = 0;
    PyObject *forms = NULL, *s_mark = NULL, *s_pre = NULL, *s_folded = NULL, *s_sound = NULL,
             *runs = NULL;

    if (mark_into(text, &mark) < 0) goto done;
    for (Py_ssize_t i = 0; i < mark.len; i++)
        if (mark.data[i] != noise_char && buffer_push(&pre, mark.data[i]) < 0) goto done;
    /* the runs of pre (normalize.runs), and pre with each collapsed to one character */
    for (Py_ssize_t i = 0, j; i < pre.len; i = j) {
        for (j = i + 1; j < pre.len && pre.data[j] == pre.data[i]; j++) {
        }
        if (j - i > 1) {
            if (nspans == spans_cap) {
                spans_cap = spans_cap ? 2 * spans_cap : 8;
                Py_ssize_t *grown = PyMem_Realloc(spans, 2 * spans_cap * sizeof(Py_ssize_t));
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                spans = grown;
            }
            spans[2 * nspans] = i;
            spans[2 * nspans + 1] = j;
            nspans++;
        }
        if (buffer_push(&folded, pre.data[i]) < 0) goto done;
    }
    if (folded.max >= 0x80)
        for (Py_ssize_t i = 0; i < folded.len; i++)
            if (translate_into(&sound_table, folded.data[i], &sound) < 0) goto done;

    if ((s_mark = buffer_str(&mark)) == NULL) goto done;
    if (pre.len == mark.len) {
        s_pre = Py_NewRef(s_mark);
    } else if ((s_pre = buffer_str(&pre)) == NULL) {
        goto done;
    }
    if (nspans == 0) {
        s_folded = Py_NewRef(s_pre);
    } else if ((s_folded = buffer_str(&folded)) == NULL) {
        goto done;
    }
    if (folded.max < 0x80) {
        s_sound = Py_NewRef(s_folded);
    } else if ((s_sound = buffer_str(&sound)) == NULL) {
        goto done;
    }
    if ((runs = runs_list(spans, nspans)) == NULL) goto done;
    forms = PyTuple_Pack(6, text, s_mark, s_pre, s_folded, s_sound, runs);
done:
    Py_XDECREF(s_mark);
    Py_XDECREF(s_pre);
    Py_XDECREF(s_folded);
    Py_XDECREF(s_sound);
    Py_XDECREF(runs);
    PyMem_Free(spans);
    buffer_free(&mark);
    buffer_free(&pre);
    buffer_free(&folded);
    buffer_free(&sound);
    return forms;
}

static PyObject *load(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *marks, *sounds, *noise, *high;
    unsigned long start;
    if (!PyArg_ParseTuple(args, "OOUkO:load", &marks, &sounds, &noise, &start, &high))
        return NULL;
    if (PyUnicode_GET_LENGTH(noise) != 1 || start > 0x110000 || !PyCallable_Check(high)) {
        PyErr_SetString(PyExc_ValueError, "load(mark_list, sound_list, noise, high_start, fold_high)");
        return NULL;
    }
    if (table_load(&mark_table, marks) < 0 || table_load(&sound_table, sounds) < 0) return NULL;
    noise_char = PyUnicode_READ_CHAR(noise, 0);
    high_start = (Py_UCS4)start;
    Py_XSETREF(fold_high, Py_NewRef(high));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"load", load, METH_VARARGS,
     "load(mark_list, sound_list, noise, high_start, fold_high): the tables, from normalize.py."},
    {"prepare", prepare, METH_O,
     "prepare(text) -> (text, mark, pre, folded, sound, runs), as normalize._prepare."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_prepare", "normalize._prepare in C (see the source's header).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__prepare(void) { return PyModule_Create(&module_def); }
