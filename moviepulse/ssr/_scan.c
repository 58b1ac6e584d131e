/* moviepulse.ssr._scan: the HTML audit's tokenizer in C (optional speed-up).
 *
 * scan(body: bytes) -> (images: int, metas: list[bytes], scripts: list[bytes])
 *
 * Exactly the semantics of moviepulse.ssr.audit._SCAN (the pure-Python reference, which stays
 * the specification and the fallback; a differential test keeps the two equal): walk the bytes
 * once; at each '<' try, in order,
 *   - a comment "<!--" ... (ends at "<!-->", "<!--->", the first "-->" or the end of input);
 *   - a raw-text element (script, style, textarea, title, iframe, xmp, noembed, noframes; name
 *     case-insensitive, followed by whitespace, '/' or '>'), its attributes up to the '>' that is
 *     outside quotes, then its content up to "</name" + whitespace|'/'|'>' (or the end);
 *   - a meta tag (same name rule) with its attributes;
 *   - an img tag (same name rule): counted, nothing consumed past the name;
 * and when none matches move on by one byte. Attribute text is returned (without the final '>')
 * for metas and for raw-text elements named "script"; Python classifies them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static int is_space(unsigned char c) {
    /* Python's bytes \s: space, \t, \n, \v, \f, \r */
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int is_name_end(unsigned char c) { return is_space(c) || c == '/' || c == '>'; }

static unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

/* Does p[0..n) equal the lower-case ASCII word w (case-insensitively), followed by a name end? */
static int name_at(const unsigned char *p, const unsigned char *end, const char *w, Py_ssize_t n) {
    if (end - p <= n) return 0; /* the look-ahead needs one more byte */
    for (Py_ssize_t i = 0; i < n; i++)
        if (lower(p[i]) != (unsigned char)w[i]) return 0;
    return is_name_end(p[n]);
}

/* Attributes from p up to the '>' outside quotes; returns a pointer to that '>' or NULL (no match). */
static const unsigned char *attrs_end(const unsigned char *p, const unsigned char *end) {
    while (p < end) {
        unsigned char c = *p;
        if (c == '>') return p;
        if (c == '"' || c == '\'') {
            const unsigned char *q = memchr(p + 1, c, (size_t)(end - p - 1));
            if (q == NULL) return NULL;
            p = q + 1;
            continue;
        }
        p++;
    }
    return NULL;
}

static const char *const RAW_TEXT[] = {"script", "style", "textarea", "title", "iframe", "xmp", "noembed",
                                       "noframes"};
#define N_RAW_TEXT 8

static int append_slice(PyObject *list, const unsigned char *a, const unsigned char *b) {
    PyObject *s = PyBytes_FromStringAndSize((const char *)a, b - a);
    if (s == NULL) return -1;
    int rc = PyList_Append(list, s);
    Py_DECREF(s);
    return rc;
}

static PyObject *scan(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *start = (const unsigned char *)view.buf;
    const unsigned char *end = start + view.len;
    const unsigned char *p = start;
    Py_ssize_t images = 0;
    PyObject *metas = PyList_New(0), *scripts = PyList_New(0);
    if (metas == NULL || scripts == NULL) goto fail;

    while (p < end) {
        const unsigned char *lt = memchr(p, '<', (size_t)(end - p));
        if (lt == NULL) break;
        const unsigned char *n = lt + 1; /* the name */
        p = lt + 1;                      /* default: no match here, move on by one byte */
        if (n >= end) break;
        unsigned char c = lower(*n);
        if (c == '!') {
            if (end - n >= 3 && n[1] == '-' && n[2] == '-') {
                const unsigned char *q = n + 3;
                if (q < end && *q == '>') { p = q + 1; continue; }
                if (end - q >= 2 && q[0] == '-' && q[1] == '>') { p = q + 2; continue; }
                const unsigned char *close = NULL;
                while (q + 3 <= end) {
                    const unsigned char *d = memchr(q, '-', (size_t)(end - q));
                    if (d == NULL || end - d < 3) break;
                    if (d[1] == '-' && d[2] == '>') { close = d; break; }
                    q = d + 1;
                }
                p = close ? close + 3 : end;
            }
            continue;
        }
        if (c == 'i' && name_at(n, end, "img", 3)) {
            images++;
            p = n + 3;
            continue;
        }
        if (c == 'm' && name_at(n, end, "meta", 4)) {
            const unsigned char *gt = attrs_end(n + 4, end);
            if (gt != NULL) {
                if (append_slice(metas, n + 4, gt) < 0) goto fail;
                p = gt + 1;
            }
            continue;
        }
        if (c != 's' && c != 't' && c != 'i' && c != 'x' && c != 'n') continue;
        for (int k = 0; k < N_RAW_TEXT; k++) {
            const char *w = RAW_TEXT[k];
            Py_ssize_t len = (Py_ssize_t)strlen(w);
            if ((unsigned char)w[0] != c || !name_at(n, end, w, len)) continue;
            const unsigned char *gt = attrs_end(n + len, end);
            if (gt == NULL) break; /* the regex fails this alternative and the later ones */
            if (k == 0 && append_slice(scripts, n + len, gt) < 0) goto fail;
            /* content: up to "</" + name (case-insensitive) + name end, or the end of input */
            const unsigned char *q = gt + 1;
            p = end;
            while (q < end) {
                const unsigned char *o = memchr(q, '<', (size_t)(end - q));
                if (o == NULL) break;
                if (o + 1 < end && o[1] == '/' && name_at(o + 2, end, w, len)) { p = o; break; }
                q = o + 1;
            }
            break;
        }
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(nNN)", images, metas, scripts);

fail:
    PyBuffer_Release(&view);
    Py_XDECREF(metas);
    Py_XDECREF(scripts);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_O, "scan(body) -> (images, meta attribute texts, script attribute texts)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", "The HTML audit's tokenizer in C.", -1,
                                   methods};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
