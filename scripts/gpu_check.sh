#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, build what the GPU exercises need, validate
# the PyCUDA exercises (reference full marks, mutants caught, every requirement proven) and run
# compute-sanitizer on real kernels through the sandbox; print one table. Run it from the
# repository's root whenever a GPU machine is lent, and keep its table (--record writes
# docs/gpu-check.md).
#
#   scripts/gpu_check.sh [--backend docker|local] [--wheels DIR] [--budget SECONDS] [--record]
#   scripts/gpu_check.sh --dry-run      # everything that runs without a GPU (CI runs this)
#
# --backend docker (the default when `docker info` answers and lists the nvidia runtime) builds
#   the sandbox image and its GPU variant (sandbox/gpu/Dockerfile: CUDA toolkit, compute-
#   sanitizer and PyCUDA; that build downloads them once). --backend local (the default
#   elsewhere) needs nvcc, compute-sanitizer and PyCUDA on this machine: PyCUDA is installed into
#   .venv from --wheels DIR (offline; put a pycuda wheel or sdist there) or from PyPI.
# --budget: seconds for the whole check (default 480, i.e. 8 minutes); each step gets what is
#   left, and a step cut short is reported as such.
# --dry-run: forces the no-GPU path (PGRADER_NO_GPU=1, local backend): the steps run, the
#   validation must report the GPU-only requirements "unproven: no GPU here" and the
#   sanitizer tests must be skipped, never passed. It checks this script, not a GPU.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
export PATH="$PATH:/usr/local/cuda/bin:/opt/cuda/bin"  # where CUDA installs nvcc, compute-sanitizer
BACKEND=""
WHEELS=""
BUDGET=480
RECORD=0
DRY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --backend) BACKEND="${2:-}"; shift 2 ;;
        --wheels) WHEELS="${2:-}"; shift 2 ;;
        --budget) BUDGET="${2:-}"; shift 2 ;;
        --record) RECORD=1; shift ;;
        --dry-run) DRY=1; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$BACKEND" in ""|docker|local) ;; *) echo "gpu_check: --backend docker or local" >&2; exit 2 ;; esac
case "$BUDGET" in ''|*[!0-9]*) echo "gpu_check: --budget takes whole seconds" >&2; exit 2 ;; esac
if [ -n "$WHEELS" ] && [ ! -d "$WHEELS" ]; then
    echo "gpu_check: --wheels $WHEELS is not a folder" >&2; exit 2
fi

START=$(date +%s)
LOG=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
ROWS=()
FAILED=0
PY=".venv/bin/python"

left() { echo $(( BUDGET - ($(date +%s) - START) )); }

# row STEP STATUS SECONDS DETAIL: one line of the final table; STATUS other than ok/skip fails it
row() {
    ROWS+=("$(printf '%-44s %-10s %7s  %s' "$1" "$2" "$3" "$4")")
    case "$2" in ok|skip|"not run") ;; *) FAILED=1 ;; esac
}

# step NAME COMMAND...: run COMMAND (output to the log) within the budget left; sets $RC, $SECS
step() {
    local name="$1"; shift
    local budget; budget=$(left)
    local t0; t0=$(date +%s)
    if [ "$budget" -le 5 ]; then
        RC=124; SECS=0
        echo "== $name: not started, the budget is spent" >>"$LOG/all.log"
        return
    fi
    echo "== $name: $*" >>"$LOG/all.log"
    timeout --kill-after=10 "$budget" "$@" >"$LOG/$name.log" 2>&1
    RC=$?
    SECS=$(( $(date +%s) - t0 ))
    cat "$LOG/$name.log" >>"$LOG/all.log"
}

fact() { "$@" 2>/dev/null | head -n 1 | tr -s ' ' | cut -c1-70; }

# ---------------------------------------------------------------- the machine
if [ "$DRY" = 1 ]; then
    export PGRADER_NO_GPU=1
    BACKEND=local
    row "dry run (no GPU used: PGRADER_NO_GPU=1)" ok 0 "local backend"
else
    GPU=$(fact nvidia-smi -L)
    if [ -z "$GPU" ]; then
        row "nvidia-smi -L" missing 0 "no NVIDIA GPU or driver: nothing to check here"
    else
        row "nvidia-smi -L" ok 0 "$GPU"
    fi
    NVCC=$(fact bash -c 'nvcc --version | grep release')
    row "nvcc" "$([ -n "$NVCC" ] && echo ok || echo missing)" 0 "${NVCC:-not on PATH}"
    SAN=$(fact bash -c 'compute-sanitizer --version | grep -i version')
    row "compute-sanitizer" "$([ -n "$SAN" ] && echo ok || echo missing)" 0 "${SAN:-not on PATH}"
    if [ -z "$BACKEND" ]; then
        if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q nvidia; then
            BACKEND=docker
        else
            BACKEND=local
        fi
    fi
fi
row "backend" ok 0 "$BACKEND"

# ---------------------------------------------------------------- the grader and PyCUDA
if [ ! -x "$PY" ]; then
    if [ -n "$WHEELS" ]; then
        step venv bash -c "python3 -m venv .venv && .venv/bin/pip install -q --no-index \
            --find-links '$WHEELS' -e ."
    else
        step venv bash -c "python3 -m venv .venv && .venv/bin/pip install -q -e ."
    fi
    row "grader installed in .venv" "$([ "$RC" = 0 ] && echo ok || echo FAILED)" "$SECS" \
        "$(tail -n 1 "$LOG/venv.log" | cut -c1-70)"
fi
if [ "$BACKEND" = local ] && [ "$DRY" = 0 ]; then
    if ! "$PY" -c "import pycuda" 2>/dev/null; then
        if [ -n "$WHEELS" ]; then
            step pycuda "$PY" -m pip install -q --no-index --find-links "$WHEELS" pycuda
        else
            step pycuda "$PY" -m pip install -q pycuda
        fi
        row "PyCUDA installed" "$([ "$RC" = 0 ] && echo ok || echo FAILED)" "$SECS" \
            "$(tail -n 1 "$LOG/pycuda.log" | cut -c1-70)"
    fi
    PYCUDA=$("$PY" -c "import pycuda; print(pycuda.VERSION_TEXT)" 2>/dev/null)
    row "import pycuda" "$([ -n "$PYCUDA" ] && echo ok || echo FAILED)" 0 "${PYCUDA:-fails}"
fi
if [ "$BACKEND" = docker ]; then
    step image "$PY" -m grader image build
    row "sandbox image" "$([ "$RC" = 0 ] && echo ok || echo FAILED)" "$SECS" \
        "$(tail -n 1 "$LOG/image.log" | cut -c1-70)"
    step gpu-image "$PY" -c "
from grader.sandbox.docker import DockerBackend
from grader.sandbox.gpu import ensure_gpu_image
backend = DockerBackend()
print(ensure_gpu_image(backend.client, backend.tag))"
    row "GPU sandbox image (sandbox/gpu/Dockerfile)" \
        "$([ "$RC" = 0 ] && echo ok || echo FAILED)" "$SECS" \
        "$(tail -n 1 "$LOG/gpu-image.log" | cut -c1-70)"
fi

# ---------------------------------------------------------------- validation and sanitizer
for slug in pycuda_reduction pycuda_vector_ops; do
    step "validate-$slug" "$PY" -m grader validate "$slug" --backend "$BACKEND" --jobs 4
    summary=$(grep -E "variants as expected" "$LOG/validate-$slug.log" | tail -n 1)
    coverage=$(grep -E "^[0-9]+ requirements in" "$LOG/validate-$slug.log" | tail -n 1 \
               | sed -E 's/ in 1 exercise\(s\)//; s/; .*//')
    status=ok
    [ "$RC" = 0 ] || status=FAILED
    [ "$RC" = 124 ] && status=TIMEOUT
    if [ "$DRY" = 1 ] && ! grep -q "unproven" "$LOG/validate-$slug.log"; then
        status=FAILED  # without a GPU the kernel requirements must be unproven, never proven
    fi
    if [ "$DRY" = 0 ] && grep -qE "unproven|not run: no GPU" "$LOG/validate-$slug.log"; then
        status=FAILED  # with a GPU every requirement must be proven, every test run
    fi
    row "grader validate $slug" "$status" "$SECS" "${summary:-no table} ${coverage}"
done

step sanitizer env PGRADER_GPU_BACKEND="$BACKEND" "$PY" -m pytest -q -p no:cacheprovider \
    -rs tests/test_gpu_host.py tests/test_gpu_checks.py
counts=$(grep -E "passed|failed|skipped|error" "$LOG/sanitizer.log" | tail -n 1)
status=ok
[ "$RC" = 0 ] || status=FAILED
[ "$RC" = 124 ] && status=TIMEOUT
host_skips=$(grep -E "^SKIPPED \[[0-9]+\] tests/test_gpu_host.py" "$LOG/sanitizer.log" \
             | sed -E 's/^SKIPPED \[([0-9]+)\].*/\1/' | awk '{n += $1} END {print n + 0}')
if [ "$DRY" = 1 ] && [ "$host_skips" != 4 ]; then
    status=FAILED  # the four sanitizer tests on real kernels must be skipped without a GPU
fi
if [ "$DRY" = 0 ] && [ "$host_skips" != 0 ]; then
    status=FAILED  # on a GPU host the sanitizer tests on real kernels must all run
fi
row "compute-sanitizer on real kernels (pytest)" "$status" "$SECS" "$counts"

# ---------------------------------------------------------------- the table
TOTAL=$(( $(date +%s) - START ))
VERDICT=$([ "$FAILED" = 0 ] && echo "ALL OK" || echo "PROBLEMS (logs: $LOG)")
TABLE=$(
    echo "GPU check $(date -u +%Y-%m-%dT%H:%M:%SZ), $(hostname), $TOTAL s of a $BUDGET s budget: $VERDICT"
    printf '%-44s %-10s %7s  %s\n' "step" "result" "seconds" "detail"
    for line in "${ROWS[@]}"; do echo "$line"; done
)
echo "$TABLE"
if [ "$RECORD" = 1 ] && [ "$DRY" = 0 ]; then
    {
        echo "# GPU check"
        echo
        echo "Output of \`scripts/gpu_check.sh --record\` (the last run on a machine with a GPU)."
        echo
        echo '```'
        echo "$TABLE"
        echo '```'
    } >docs/gpu-check.md
    echo "Recorded in docs/gpu-check.md"
fi
[ "$FAILED" = 0 ] && [ "$TOTAL" -le "$BUDGET" ]
