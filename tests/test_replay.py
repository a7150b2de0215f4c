"""`grader replay` reruns the failed tests of a results.json with its recorded seed."""

from __future__ import annotations

import json
import subprocess

from conftest import ROOT

GRADER = ROOT / ".venv" / "bin" / "grader"
RACY = ROOT / "solutions" / "locked_counter" / "mutants" / "no_lock"


def test_replay_reproduces_the_race_verdicts(tmp_path):
    subprocess.run(
        [
            str(GRADER),
            "grade",
            "locked_counter",
            str(RACY),
            "--backend",
            "local",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    failed = {t["function"] for t in results["tests"] if t["verdict"] != "passed"}
    assert failed == {"test_no_races_under_lockset", "test_no_lost_updates_under_forced_switches"}
    proc = subprocess.run(
        [
            str(GRADER),
            "replay",
            "locked_counter",
            str(RACY),
            str(tmp_path / "results.json"),
            "--backend",
            "local",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"seed {results['pgrader']['seed']}" in proc.stdout
    assert proc.stdout.count("then race, now race") == 2
