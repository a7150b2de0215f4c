#!/bin/bash
# Hank's grading (sample_class, mpi_pairwise_exchange: an 8 MB Send/Send pair in standard mode)
# on Docker, before and after a change, alternately in one run:
#     scripts/bench_mpi_hang.sh BEFORE_CHECKOUT [RUNS]
# BEFORE_CHECKOUT: an older checkout (e.g. `git worktree add --detach /tmp/base COMMIT`), run
# with this checkout's .venv and PYTHONPATH pointing at it. Prints one line per grading: the
# host's wall clock around `grader grade`, the score, and test_large_message's duration,
# verdict and message (its start).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
before=$(cd "$1" && pwd)
runs=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 "$runs"); do
  for side in before after; do
    if [ "$side" = before ]; then dir=$before; pp=$before; else dir=$here; pp=; fi
    out=$work/$side-$i
    t0=$(date +%s.%N)
    (cd "$dir" && PYTHONPATH=$pp "$here/.venv/bin/python" -m grader grade mpi_pairwise_exchange \
      "$here/sample_class/mpi_pairwise_exchange/hank" --backend docker --out "$out" >/dev/null 2>&1)
    t1=$(date +%s.%N)
    "$here/.venv/bin/python" - "$out/results.json" "$side" "$i" "$t0" "$t1" <<'PY'
import json, sys
path, side, i, t0, t1 = sys.argv[1:]
d = json.load(open(path))
t = next(x for x in d["tests"] if x["function"] == "test_large_message")
print(f"{side} {i} wall {float(t1) - float(t0):.2f} s, score {d['score']}, test_large_message "
      f"{t['duration']:.2f} s {t['verdict']}: {t['message'][:100]}")
PY
  done
done
