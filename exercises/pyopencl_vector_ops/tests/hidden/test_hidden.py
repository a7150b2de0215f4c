"""Hidden tests for pyopencl_vector_ops: values on PoCL, kernel safety under Oclgrind."""

import numpy as np

from grader.testing import (
    Crashed, Failed, StudentError, expect_clean_kernels, expect_close, expect_dtype, expect_equal, raise_for,
    requirement,
)

WORK_GROUP_HINT = ("OpenCL 1.2 devices only accept a global size that is a multiple of the "
                   "work-group size: round the global size up (e.g. 1000 -> 1024 for groups of 64) "
                   "and give the kernel the length n so that the extra work-items do nothing "
                   "(`if (i < n)`).")


def _int_hint(a, got, expected) -> str:
    """Explain the classic: numpy's int64 data given to a kernel that reads 32-bit `int`s."""
    if not isinstance(got, np.ndarray) or got.shape != expected.shape:
        return ""
    half = len(expected) // 2
    int64_shape = got.dtype == np.int64 or (half and np.array_equal(got[:half], expected[:half]))
    if a.dtype == np.int64 and (got.dtype != np.int32 or int64_shape):
        return (f"The input arrays were numpy's default int64 (8 bytes per number) and the result "
                f"came back as {got.dtype}; the kernel's `int *` reads 4-byte ints, so it saw the "
                "halves of each number as separate values. Convert the inputs with "
                "a.astype(np.int32) before copying them to the device, and return an int32 array.")
    return ""


def _reply(student, name, *args, **options):
    """The reply of one call; an OpenCL launch-size error is explained in terms of the sizes."""
    reply = student.reply(name, *args, **options)
    try:
        raise_for(reply)
    except StudentError as exc:
        if "INVALID_WORK_GROUP_SIZE" in exc.message:
            raise Failed(f"{exc.message} -- {WORK_GROUP_HINT}") from None
        raise
    except Crashed as exc:
        raise Crashed(f"{exc.message} A crash inside OpenCL usually means a kernel wrote past the "
                      "end of a buffer: check that no work-item with i >= n touches memory.",
                      **exc.details) from None
    return reply


def _call(student, name, *args):
    return _reply(student, name, *args).value


def _each(mod, name, calls):
    """Several calls in one sandbox request (each request builds the OpenCL program anew)."""
    return [getattr(mod, name)(*args) for args in calls]


def _call_checked(student, name, *args):
    """Under Oclgrind: out-of-bounds accesses, races and barrier divergence are reported."""
    return _reply(student, name, *args, checks={"oclgrind": {"data_races": True}})


@requirement("int64-inputs")
def test_vector_add_numpy_default_ints(student):
    """cl_vector_add works on numpy's default (int64) integer arrays"""
    a = np.arange(1000)
    b = np.arange(1000) * 3 - 500
    got = _call(student, "cl_vector_add", a, b)
    expected = (a + b).astype(np.int32)
    expect_equal(got, expected, "cl_vector_add(a, b) with 1000 numpy int64 numbers",
                 hint=_int_hint(a, got, expected))


@requirement("int32-result", "float32-result")
def test_result_types(student):
    """cl_vector_add returns an int32 array and cl_saxpy a float32 array, whatever the inputs"""
    ints = [(np.arange(5, dtype=dtype), np.arange(5, dtype=dtype)) for dtype in (np.int32, np.int64)]
    floats = [(2.0, np.ones(5, dtype=dtype), np.ones(5, dtype=dtype))
              for dtype in (np.float32, np.float64)]
    added = _reply(student, _each, "cl_vector_add", ints,
                   what="cl_vector_add(a, b) with int32 and int64 inputs").value
    scaled = _reply(student, _each, "cl_saxpy", floats,
                    what="cl_saxpy(2.0, x, y) with float32 and float64 inputs").value
    for (a, _), got in zip(ints, added):
        expect_dtype(got, "int32", f"cl_vector_add(a, b) with {a.dtype} inputs",
                     hint="The kernel computes 32-bit ints: return its int32 array as it is.")
    for (_, x, _), got in zip(floats, scaled):
        expect_dtype(got, "float32", f"cl_saxpy(2.0, x, y) with {x.dtype} inputs",
                     hint="The kernel computes single precision: return its float32 array.")


@requirement("vector-add", "any-length")
def test_vector_add_any_length(student):
    """cl_vector_add is right for lengths that are not multiples of the work-group size"""
    rng = np.random.default_rng(3)
    sizes = (1, 63, 64, 1000, 4097)
    calls = [tuple(rng.integers(-1000, 1000, n, dtype=np.int32) for _ in "ab") for n in sizes]
    got = _reply(student, _each, "cl_vector_add", calls,
                 what=f"cl_vector_add(a, b) with lengths {sizes}").value
    for n, (a, b), value in zip(sizes, calls, got):
        expect_equal(value, a + b, f"cl_vector_add(a, b) with {n} int32")


@requirement("saxpy", "float64-inputs", "any-length")
def test_saxpy_any_length(student):
    """cl_saxpy is right for float32 and float64 inputs of any length"""
    rng = np.random.default_rng(5)
    cases = ((1, np.float32), (1000, np.float32), (2049, np.float64))
    calls = [(1.5, rng.random(n).astype(dtype), rng.random(n).astype(dtype)) for n, dtype in cases]
    got = _reply(student, _each, "cl_saxpy", calls,
                 what="cl_saxpy(1.5, x, y) with lengths 1, 1000 and 2049").value
    for (n, dtype), (alpha, x, y), value in zip(cases, calls, got):
        expected = np.float32(alpha) * x.astype(np.float32) + y.astype(np.float32)
        expect_close(value, expected, f"cl_saxpy(1.5, x, y) with {n} {np.dtype(dtype).name}",
                     tol=1e-5)


@requirement("in-bounds")
def test_vector_add_kernel_checked(student):
    """vector_add stays inside its buffers (Oclgrind, 1000 elements)"""
    a = np.arange(1000, dtype=np.int32)
    reply = _call_checked(student, "cl_vector_add", a, a)
    expect_clean_kernels(reply, "cl_vector_add(a, b) with 1000 elements")
    expect_equal(reply.value, 2 * a, "cl_vector_add(a, a) with 1000 elements under Oclgrind")


@requirement("in-bounds")
def test_saxpy_kernel_checked(student):
    """saxpy stays inside its buffers (Oclgrind, 1001 elements)"""
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    reply = _call_checked(student, "cl_saxpy", 3.0, x, x)
    expect_clean_kernels(reply, "cl_saxpy(3.0, x, y) with 1001 elements")
    expect_close(reply.value, 4 * x, "cl_saxpy(3.0, x, x) with 1001 elements under Oclgrind",
                 tol=1e-5)
