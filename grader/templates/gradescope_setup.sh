#!/usr/bin/env bash
# Gradescope autograder of "@SLUG@", made by `grader export @SLUG@ --format gradescope-autograder`
# (pgrader @VERSION@). Gradescope runs this once, as root, while it builds the autograder's
# image. Every Python package comes from wheels/ in this zip: PyPI is never contacted. Only
# what the base image lacks is installed with apt-get (Python 3.11@APT_WHY@).
set -uo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV=/autograder/pgrader-venv
APT_PACKAGES="@APT_PACKAGES@"
say() { echo "pgrader setup.sh: $*"; }
fail() { echo "pgrader setup.sh: ERROR: $*" >&2; exit 1; }

missing=()
if ! command -v python3.11 >/dev/null; then
    missing+=(python3.11 python3.11-venv)
elif ! python3.11 -c 'import ensurepip, venv' 2>/dev/null; then
    missing+=(python3.11-venv)
fi
for p in $APT_PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || fail "this image lacks ${missing[*]} and has no apt-get: pick Gradescope's Ubuntu 22.04 base image"
    say "installing ${missing[*]} with apt-get (the only step that needs the network)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
        || fail "apt-get could not install ${missing[*]}. It needs the network at build time (Gradescope's image build has it); on Ubuntu, python3.11 is in the universe component of 22.04 (24.04 has none: pick the 22.04 base image)."
fi

rm -rf "$VENV"
python3.11 -m venv "$VENV" || fail "python3.11 -m venv $VENV failed"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-index --no-deps "$SRC"/wheels/pgrader-*.whl \
    || fail "installing the grader's wheel (wheels/pgrader-*.whl) failed"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-index --find-links "$SRC/wheels" -r "$SRC/requirements.txt" \
    || fail "installing the exercise's runtime from wheels/ failed (the wheels are for Python 3.11 on Linux $(uname -m))"
if [ -f "$SRC/native/mpi_strict.so" ]; then  # MPI's synchronous sends (as in the sandbox image)
    shim="$("$VENV/bin/python" -I -c 'from grader.checks import mpi_setup; print(mpi_setup.SHIM_BUILT)')" \
        && install -m 0755 "$SRC/native/mpi_strict.so" "$shim" || fail "installing the MPI library failed"
fi
if [ -n "$APT_PACKAGES" ]; then  # the system's PoCL is the only OpenCL platform (as in the sandbox image)
    rm -f "$VENV"/lib/python3.11/site-packages/pyopencl/.libs/pocl.icd
fi
# The student's code runs as a user of its own (run_autograder): it cannot read the hidden tests
# (this folder becomes root's alone), signal the grader or write the results.
if ! id pgrader-student >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pgrader-student \
        || fail "could not create the user pgrader-student (useradd)"
fi
chmod -R go-rwx "$SRC" || fail "could not make $SRC private"
"$VENV/bin/python" -I -c 'import grader.autograder, grader.judge.runner, grader.sandbox.local' \
    || fail "the grader does not import in $VENV"
say "ready: $("$VENV/bin/python" -I -c 'import grader; print("pgrader", grader.__version__)') for @SLUG@"
