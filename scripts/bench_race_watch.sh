#!/bin/bash
# What tracing every request of the race-check exercises costs (grader/judge/race_watch.py):
# `grader validate --backend docker` and scripts/profile_grading.py on each exercise whose tests
# use a race check, for a checkout without it (BASE: a folder holding an older tree of this
# repository, e.g. `git archive 81f84b8 | tar -x -C /tmp/base`) and for this one, back to back
# per exercise so that both see the same load. The grader a run uses is the tree on PYTHONPATH;
# both use this checkout's virtual environment.
#
#     scripts/bench_race_watch.sh BASE [OUT_DIR] [EXERCISE ...]
#
# Prints, per exercise and tree: validate's wall seconds, its scores, the warm grading's median
# wall, the container's and the whole grading's CPU (profile_grading, 4 reps), and the load
# average at the start. Writes the full outputs under OUT_DIR (default: a temporary folder).
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
BASE="$(cd "${1:?usage: bench_race_watch.sh BASE [OUT_DIR] [EXERCISE ...]}" && pwd)"
OUT="${2:-$(mktemp -d)}"
shift $(( $# >= 2 ? 2 : 1 ))
EXERCISES=("$@")
[ ${#EXERCISES[@]} -gt 0 ] || EXERCISES=(locked_counter bank_transfers bounded_buffer reentrant_box)
PY="$HERE/.venv/bin/python"
mkdir -p "$OUT"
[ -e "$BASE/.cache" ] || ln -sfn "$HERE/.cache" "$BASE/.cache"

run() {  # run TREE NAME EXERCISE
    local tree=$1 name=$2 ex=$3 t0 t1
    cd "$tree"
    t0=$(date +%s.%N)
    PYTHONPATH="$tree" "$HERE/.venv/bin/grader" validate "$ex" --backend docker --jobs 2 \
        > "$OUT/validate-$name-$ex.txt" 2>&1 || true
    t1=$(date +%s.%N)
    PYTHONPATH="$tree" "$PY" scripts/profile_grading.py --exercise "$ex" --reps 4 \
        --backend docker > "$OUT/profile-$name-$ex.txt" 2>&1 || true
    printf '%-15s %-5s load %s | validate %5.1f s: %s | %s | container CPU %s | grading CPU %s\n' \
        "$ex" "$name" "$(cut -d' ' -f1 /proc/loadavg)" "$(echo "$t1 - $t0" | bc)" \
        "$(grep -E "^$ex +(reference|skeleton|mutant)" "$OUT/validate-$name-$ex.txt" \
            | awk '{printf "%s=%s ", $2, $3}')" \
        "$(grep -o 'warm gradings: median [0-9.]* s' "$OUT/profile-$name-$ex.txt" || echo '-')" \
        "$(grep -o "container's CPU (cgroup): median [0-9]* ms" "$OUT/profile-$name-$ex.txt" \
            | grep -o '[0-9]* ms' || echo '-')" \
        "$(grep -E '^ +total +[0-9]+ ms' "$OUT/profile-$name-$ex.txt" | grep -o '[0-9]* ms' || echo '-')"
}

for ex in "${EXERCISES[@]}"; do
    run "$BASE" base "$ex"
    run "$HERE" this "$ex"
done
echo "outputs: $OUT"
