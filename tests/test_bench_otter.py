"""The offline `otter grade` of the benchmarks (scripts/otter_offline.py, bench_rivals.py):
its parsing, score checks, zip rewrite and docker shim, without Docker or otter."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import load_module

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # the scripts import each other by name
otter_offline = load_module("otter_offline", ROOT / "scripts" / "otter_offline.py")
bench_rivals = load_module("bench_rivals", ROOT / "scripts" / "bench_rivals.py")

CSV = """file,q1,total_points_earned,percent_correct,grading_status
points-per-question,3.0,3.0,1.0,--
s000.py,3.0,3.0,1.0,Completed
s004.py,2.0,2.0,0.6667,Completed
s001.py,0,0,0.0,Executing 's001.py' in docker container failed! Exit code: 1
"""


def test_grade_scores_reads_points_and_drops_the_possible_row():
    scores = otter_offline.grade_scores(CSV)
    assert scores == {"s000": 3.0, "s004": 2.0, "s001": None}


def test_a_crashed_container_is_never_a_score():
    # otter writes 0 points for a container that failed: that is no grade, not a 0
    assert otter_offline.grade_scores(CSV)["s001"] is None


def test_grade_scores_of_garbage_points_is_none():
    text = "file,total_points_earned,grading_status\ns000.py,lots,Completed\n"
    assert otter_offline.grade_scores(text) == {"s000": None}


def test_problems_flag_wrong_missing_and_failed_submissions():
    n = 5  # s004 is the wrong copy: 2 points expected; the others 3
    good = {"s000": 3.0, "s001": 3.0, "s002": 3.0, "s003": 3.0, "s004": 2.0}
    assert bench_rivals.otter_grade_problems(good, n) == []
    bad = {**good, "s001": None, "s004": 3.0}
    del bad["s002"]
    assert bench_rivals.otter_grade_problems(bad, n) == [
        "s001: score None",
        "s002: score None",
        "s004: score 3.0",
    ]


def test_deb_closure_keeps_real_packages_the_base_lacks():
    out = "curl\n  Depends: libcurl4\nlibcurl4\n  Depends: libc6\n<awk>\nlibc6\n  Depends: <x>\n"
    assert otter_offline.deb_closure(out, {"libc6"}) == ["curl", "libcurl4"]


def test_rejecting_finds_wheels_too_new_for_the_image_python():
    wheels = [("soupsieve", ">=3.11.5"), ("six", ""), ("pandas", ">=3.11"), ("x", ">=3.12")]
    assert otter_offline.rejecting(wheels, "3.11.2") == {"soupsieve": ">=3.11.5", "x": ">=3.12"}


def _zip(path: Path, members: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)


def test_offline_zip_replaces_setup_and_runner_and_keeps_the_rest(tmp_path):
    path = tmp_path / "autograder.zip"
    _zip(
        path,
        {
            "setup.sh": "wget miniforge",
            "run_autograder": "mamba activate otter-env",
            "tests/q1.py": "OK_FORMAT = True",
            "otter_config.json": "{}",
        },
    )
    otter_offline.offline_zip(path)
    with zipfile.ZipFile(path) as zf:
        got = {n: zf.read(n).decode() for n in zf.namelist()}
    assert got["setup.sh"] == otter_offline.SETUP_SH
    assert "wget" not in got["setup.sh"]
    assert otter_offline.ENV in got["run_autograder"] and "mamba" not in got["run_autograder"]
    assert got["tests/q1.py"] == "OK_FORMAT = True" and got["otter_config.json"] == "{}"
    assert "files/" in got


def test_offline_zip_refuses_a_zip_of_another_layout(tmp_path):
    path = tmp_path / "autograder.zip"
    _zip(path, {"tests/q1.py": "x"})
    with pytest.raises(RuntimeError, match="lacks setup.sh"):
        otter_offline.offline_zip(path)


@pytest.fixture
def shim(tmp_path):
    real = tmp_path / "real-docker"
    real.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    real.chmod(0o755)
    docker = otter_offline.docker_shim(tmp_path / "shim", str(real)) / "docker"

    def run(*args: str) -> list[str]:
        out = subprocess.run([str(docker), *args], capture_output=True, text=True, check=True)
        return out.stdout.splitlines()

    return run


def test_shim_runs_buildx_build_as_the_classic_build(shim):
    got = shim(
        "buildx", "build", "--build-arg", "B=x", "--load", "--iidfile", "f", "--tag", "t", "."
    )
    assert got == ["build", "--build-arg", "B=x", "--iidfile", "f", "--tag", "t", "."]


def test_shim_names_the_engines_own_builder(shim):
    assert shim("buildx", "inspect")[0].split(":")[1].strip() == "default"
    listed = json.loads(shim("buildx", "ls", "--format", "{{json . }}")[0])
    assert listed == {"Name": "default", "Driver": "docker"}


def test_shim_passes_every_other_command_through(shim):
    assert shim("container", "create", "--network", "none", "img") == [
        "container",
        "create",
        "--network",
        "none",
        "img",
    ]


def test_the_report_says_what_was_changed_from_otters_defaults():
    rows = [{"tool": "nbgrader"}, {"tool": "otter-grader (otter grade)", "changes": "X; Y"}]
    assert bench_rivals.rival_notes(rows) == [
        "- otter-grader (otter grade): changed from otter's defaults to run on this machine, "
        "offline (no registry pulls, no TLS to PyPI from containers, no buildx): X; Y."
    ]
