"""Cheat-proof and crash-proof grading: the attack corpus of tests/attacks/ against the Docker sandbox.

Every hostile submission of tests/attacks/ (see its README.md) is graded with
`grader.batch.grade_all` on the Docker backend -- one batch per exercise, 2 jobs -- next to
honest students whose exact scores must not move. For each attack: it was graded (a platform
failure would be a denial of service), it scored no more than its `max_score`, its verdicts
are the expected ones, its results.json stays small, nothing it tried to smuggle out shows up,
and its feedback page has no live markup. Afterwards: no sandbox container of this run is
left, and the host canary the attacks aim at is unchanged.

Attacks that currently succeed carry a `known_weakness` (the finding and the proposed fix);
their test is a strict xfail, so that it turns red -- asking for the line to be removed --
as soon as the grader is fixed. `scripts/attack_table.py` runs the same corpus and writes
docs/attacks.md.

Two attacks are checked on a single session instead, where a batch could not see them: the
sandbox's own clocks and CPU count patched by the student, and /tmp and /dev/shm left
for another submission or the next request of the same one.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import load_module
from grader.agent import codec
from grader.course import Limits

corpus = load_module("attack_corpus", Path(__file__).parent / "attacks" / "corpus.py")

ATTACKS = corpus.load_corpus()

# What the issue asks the corpus to cover, by attack folder.
REQUIRED = {
    "fork_bomb",
    "memory_bomb",
    "disk_fill",
    "stdout_flood",
    "infinite_loop",
    "sleep_forever",
    "sigterm_ignored",
    "daemon_orphans",
    "network_access",
    "read_hidden_tests",
    "read_reference_solution",
    "read_other_students",
    "write_outside_workdir",
    "tmp_drop_a_writer",
    "tmp_drop_b_reader",
    "forged_results_json",
    "forged_reply_stdout",
    "conftest_rewrite",
    "startup_hooks",
    "shadow_modules",
    "patch_test_framework",
    "eq_always_true",
    "sys_exit_at_import",
    "os_exit_at_import",
    "kill_parent",
    "patch_clocks",
    "ctypes_segfault",
    "recursion_bomb",
    "mpi_abort",
    "huge_exception",
    "html_injection",
    "zip_slip",
    "zip_bomb",
    "zip_symlink",
    "pickle_payload",
    "settrace_off",
    "patch_check_helpers",
    # the trust-boundary issue: one or more attacks per class an outside attacker broke
    "nested_finding",
    "result_fd_forge",
    "request_file_checks",
    "tracer_timing_tell",
    "oclgrind_log_truncate",
    "pool_busy_helpers",
    "rt_signal_self_kill",
    "nonascii_result_digit",
    "oclgrind_log_huge_number",
    "deep_folders",
    "fake_stacks_realpath",
    "surrogate_thread_name",
    "proc_cmdline_leak",
    "frame_walk_patch",
    "gc_walk_patch",
    "ctypes_frames",
    "subprocess_reader",
    "signal_frame_walk",
    "compile_spoofed_filename",
    # the warm pipeline (a supervisor server as PID 1, the agent template, the container pool)
    "oom_supervisor_huge_result",
    "oom_memfd_small_holders",
    "workitem_huge_number",
    "thread_name_bad_bytes",
    "warm_template_reach",
    "dirfd_erase_evidence",
    "pool_item_swap",
    "bytecode_memory_read",
    "pyc_memory_read",
    "untraced_library_rmw",
    "ctypes_setstate_pointer",
    # the evidence line (evidence sent to the supervisor as it happens, not left in a folder)
    "evidence_line_closed",
    "evidence_line_forged",
    "dirfd_routes_erase",
    # sealed work items: the next routes (a seal replayed, forged, values smuggled into items)
    "pool_seal_replay",
    "pool_seal_forge",
    "pool_seal_smuggle",
}


def _param(attack):
    marks = []
    if attack.known_weakness:
        marks.append(
            pytest.mark.xfail(
                strict=not attack.flaky, reason=f"known weakness: {attack.known_weakness[:300]}"
            )
        )
    return pytest.param(attack, id=attack.name, marks=marks)


@pytest.fixture(scope="module")
def corpus_run(docker_backend, tmp_path_factory):
    """The whole corpus graded once (Docker backend, one batch per exercise, 2 jobs)."""
    return corpus.run_corpus(tmp_path_factory.mktemp("attacks"), jobs=2)


# ---------------------------------------------------------------- the corpus itself (no Docker)


def test_the_corpus_covers_every_attack_of_the_issue():
    names = {a.name for a in ATTACKS}
    assert len(ATTACKS) >= 60
    assert REQUIRED <= names, sorted(REQUIRED - names)
    for attack in ATTACKS:
        assert attack.description and attack.defence, attack.name
        assert attack.exercise in corpus.HONEST, (
            f"{attack.name}: no honest students for {attack.exercise}"
        )
        assert attack.archive or (attack.folder / "solution.py").is_file(), attack.name
        for source in list(attack.rename) + [f"../_shared/{n}" for n in attack.shared]:
            assert (attack.folder / source).is_file(), f"{attack.name}: {source} is missing"


# ---------------------------------------------------------------- the batch


@pytest.mark.docker
@pytest.mark.parametrize("attack", [_param(a) for a in ATTACKS])
def test_attack_is_held(corpus_run, attack):
    seen = corpus_run.of(attack)
    problems = corpus.judge(attack, seen)
    assert not problems, (
        f"{attack.name} (scored {seen.score}, verdicts {seen.verdicts}): " + "; ".join(problems)
    )


@pytest.mark.docker
def test_honest_students_keep_their_exact_scores(corpus_run):
    for slug, student, expected, seen in corpus_run.honest():
        assert seen.status == "graded", (slug, student, seen.status, seen.problem)
        exact = corpus.honest_expectation(slug, student, expected, seen)
        assert seen.score == exact, (slug, student, seen.score, exact, seen.verdicts)
        racy = corpus.RACE_MAY_SHOW.get((slug, student), set())
        unexpected = {
            f: v for f, v in seen.verdicts.items() if f in racy and v not in ("passed", "failed")
        }
        assert not unexpected, (slug, student, unexpected)  # a shown race is a wrong value, no more
        assert seen.suspicion == {}, (slug, student, seen.suspicion)  # no false accusation


def test_a_race_the_machine_showed_costs_exactly_its_tests_points():
    def seen(*tests):
        return corpus.Observed(
            "honest_no_lock",
            "graded",
            tests=[{"function": f, "verdict": v, "max_points": p} for f, v, p in tests],
        )

    calm = seen(
        ("test_parallel_count_values", "passed", 0.5), ("test_no_races_under_lockset", "race", 2)
    )
    shown = seen(
        ("test_parallel_count_values", "failed", 0.5), ("test_no_races_under_lockset", "race", 2)
    )
    elsewhere = seen(("test_lock_released_after_exception", "failed", 1.5))
    assert corpus.honest_expectation("locked_counter", "honest_no_lock", 6.0, calm) == 6.0
    assert corpus.honest_expectation("locked_counter", "honest_no_lock", 6.0, shown) == 5.5
    assert corpus.honest_expectation("locked_counter", "honest_no_lock", 6.0, elsewhere) == 6.0
    assert corpus.honest_expectation("locked_counter", "honest_reference", 10.0, shown) == 10.0


@pytest.mark.docker
def test_no_sandbox_container_of_the_run_is_left(corpus_run):
    assert len(corpus_run.containers_seen) >= 5  # the run's containers were told apart while alive
    assert corpus_run.leaked_containers == []


@pytest.mark.docker
def test_the_host_canary_is_untouched(corpus_run):
    assert corpus_run.canary_problems() == []


@pytest.mark.docker
def test_feedback_pages_show_injected_markup_escaped(corpus_run):
    injections = [a for a in ATTACKS if a.html_payload]
    assert injections, "the corpus has no injection attack"
    for attack in injections:
        html = corpus_run.of(attack).feedback
        assert html, f"{attack.name}: no feedback.html"
        assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html, (
            attack.name
        )
        assert corpus.html_problems(html) == [], attack.name
    for attack in ATTACKS:  # and no other page either
        assert corpus.html_problems(corpus_run.of(attack).feedback) == [], attack.name


@pytest.mark.docker
def test_report_the_runtime(corpus_run, record_property):
    for slug, seconds in corpus_run.seconds.items():
        record_property(f"seconds_{slug}", round(seconds, 1))
        print(
            f"\n{slug}: {seconds:.0f} s for {sum(a.exercise == slug for a in ATTACKS)} attacks "
            f"+ {len(corpus.HONEST[slug])} honest students ({corpus_run.jobs} jobs)"
        )
    assert set(corpus_run.seconds) == {a.exercise for a in ATTACKS}


# ---------------------------------------------------------------- single sessions

CLOCKS = """
import os, time

_real = time.perf_counter


def spin(seconds):
    '''Freeze every clock and claim 1024 CPUs, then burn `seconds` of real time.'''
    for name in ("time", "perf_counter", "monotonic", "process_time", "thread_time"):
        setattr(time, name, lambda: 0.0)
        setattr(time, name + "_ns", lambda: 0)
    os.cpu_count = lambda: 1024
    os.times = lambda: os.times_result((0.0, 0.0, 0.0, 0.0, 0.0))
    t0, n = _real(), 0
    while _real() - t0 < seconds:
        n += 1
    return [time.perf_counter(), os.cpu_count()]
"""


@pytest.mark.docker
def test_patched_clocks_do_not_change_the_measured_wall_and_cpu(docker_backend, tmp_path):
    (tmp_path / "solution.py").write_text(textwrap.dedent(CLOCKS))
    with docker_backend.open(tmp_path, Limits()) as session:
        reply = session.call(
            {
                "kind": "call",
                "module": "solution",
                "function": "spin",
                "args": codec.encode([1.5]),
                "kwargs": codec.encode({}),
                "timeout": 15,
            }
        )
    assert reply["status"] == "ok", reply
    assert codec.decode(reply["value"]) == [0.0, 1024]  # the student's own clocks did lie...
    assert reply.get("agent_wall", 0.0) < 1.0  # ...and so does the agent's own timing, with them
    assert reply["wall"] >= 1.5  # but the supervisor measures from outside
    assert reply["cpu"] >= 0.3  # the kernel's accounting of a busy loop (0.3: a loaded machine)
    if "span" in reply:
        assert reply["span"] >= 0.3


TMP = """
import os, socket


def drop(marker):
    for folder in ("/tmp", "/dev/shm"):
        with open(os.path.join(folder, "pgrader-shared-" + marker), "w") as f:
            f.write(socket.gethostname())
    return socket.gethostname()


def look(marker):
    return {folder: os.path.exists(os.path.join(folder, "pgrader-shared-" + marker))
            for folder in ("/tmp", "/dev/shm")}


def drop_many(marker):
    folder = os.path.join("/tmp", "pgrader-shared-" + marker)
    os.mkdir(folder)
    for i in range(20_000):  # more than the supervisor removes the quick way
        open(os.path.join(folder, str(i)), "w").close()
    os.symlink(folder, os.path.join("/dev/shm", "pgrader-shared-" + marker))
    return 20_000
"""


@pytest.mark.docker
def test_tmp_and_shm_last_for_no_other_request(docker_backend, tmp_path):
    """Nothing left in /tmp or /dev/shm reaches another submission, nor the next request of the
    same one (a file there would count the requests: tests/attacks/tmp_request_counter); what
    the quick removal cannot take gets the container recycled."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for sub in ("a", "b"):
        (tmp_path / sub / "solution.py").write_text(textwrap.dedent(TMP))

    def call(session, function, marker):
        reply = session.call(
            {
                "kind": "call",
                "module": "solution",
                "function": function,
                "args": codec.encode([marker]),
                "kwargs": codec.encode({}),
                "timeout": 10,
            }
        )
        assert reply["status"] == "ok", reply
        return codec.decode(reply["value"])

    marker = tmp_path.name
    with (
        docker_backend.open(tmp_path / "a", Limits()) as a,
        docker_backend.open(tmp_path / "b", Limits()) as b,
    ):
        host_a = call(a, "drop", marker)
        assert call(b, "look", marker) == {"/tmp": False, "/dev/shm": False}, host_a  # never B
        assert call(a, "look", marker) == {"/tmp": False, "/dev/shm": False}  # nor A's next
        assert call(a, "drop_many", marker) == 20_000
        assert call(a, "look", marker) == {"/tmp": False, "/dev/shm": False}  # a fresh container
