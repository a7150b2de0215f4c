#!/usr/bin/env bash
# The planted-bug benchmark at full counts, a few pairs at a time, across sessions (issue 14):
#
#   scripts/bench_checks_batches.sh BATCHES OUTDIR
#
# BATCHES: a file (scripts/bench_checks_batches.txt: the pairs not yet measured at full counts),
# one batch a line (pair names separated by spaces); lines may be appended
# while it runs. OUTDIR holds bench-checks.json (copy docs/bench-checks.json there to start)
# and gets bench-checks.md; each batch merges into what the one before wrote, and each pair's
# record keeps its own date, commit, backend and load. Between batches (never during one: a
# frozen grader keeps holding the host's core locks) the loop waits while OUTDIR/pause exists,
# and ends once OUTDIR/stop exists. Copy OUTDIR's two files to docs/ and commit them.
# PYTHON: the interpreter (default .venv/bin/python; a worktree may use the main checkout's).
set -uo pipefail
batches=$1
out=$(cd "$2" && pwd)
cd "$(dirname "$0")/.."
while read -r batch; do
  [ -z "$batch" ] && continue
  [ -e "$out/stop" ] && break
  while [ -e "$out/pause" ]; do sleep 10; done
  echo "=== $(date -u +%T) batch at $(git rev-parse --short HEAD): $batch (load $(cut -d' ' -f1-3 /proc/loadavg))"
  cp "$out/bench-checks.json" "$out/prev.json"
  # shellcheck disable=SC2086  # the batch is a list of names
  nice -n 19 "${PYTHON:-.venv/bin/python}" scripts/bench_checks.py --backend docker --runs 100 \
    --twin-runs 1000 --slow-twin-runs 100 --frontrun-twin-runs 10 --only $batch \
    --merge "$out/prev.json" --out "$out/bench-checks.md"
  echo "=== $(date -u +%T) rc=$?"
done < "$batches"
