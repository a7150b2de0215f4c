"""The attack corpus: load it, build the hostile submissions, grade them, judge the outcome.

Used by `tests/test_attacks.py` and `scripts/attack_table.py` (which writes docs/attacks.md).
Every attack of one exercise is graded in ONE `grader.batch.grade_all` batch on the Docker
backend, together with honest students whose exact scores must not move. See README.md here
for the format of `attack.toml`.

Two things are observed from outside the grader:

* the host canary, a file the attacks try to overwrite or delete (its path replaces
  `@@CANARY@@` in their files);
* the sandbox containers: during the batches TMPDIR points at a folder of this run, so every
  container the batch starts bind-mounts its submission from under that folder and can be
  told apart from the containers of anybody else's tests running on the same engine.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ATTACKS = Path(__file__).resolve().parent
ROOT = ATTACKS.parents[1]
CANARY_TOKEN = "@@CANARY@@"
RESULTS_LIMIT = 1_000_000  # bytes: a results.json any platform can store and upload
DEFAULT_EXERCISE = "locked_counter"


def mutant_max(slug: str, mutant: str) -> float:
    """The max_score a known-wrong mutant of solutions/<slug>/mutants/ declares."""
    path = ROOT / "solutions" / slug / "mutants" / mutant / "mutant.toml"
    return float(tomllib.loads(path.read_text())["max_score"])


# Honest students graded in the same batches: (where their solution is, the exact score).
# The racy no_lock mutant scores exactly the max_score its mutant.toml declares (the
# exercise's weights decide it: 5/10 with the first 7 tests, 6/10 since
# test_parallel_count_uses_threads), less the points of a test where the machine showed its
# race (RACE_MAY_SHOW).
HONEST_DIR = ATTACKS / "honest"  # correct programs an earlier defence falsely accused
HONEST = {
    "async_fanout": {
        "honest_reference": (ROOT / "solutions/async_fanout/solution.py", 10.0),
        "honest_iscoroutinefunction": (HONEST_DIR / "inspect_iscoroutinefunction/solution.py", 10.0),
        "honest_deep_expression": (HONEST_DIR / "deep_expression/solution.py", 10.0),
    },
    "bank_transfers": {
        "honest_reference": (ROOT / "solutions/bank_transfers/solution.py", 10.0),
    },
    "bounded_buffer": {
        "honest_reference": (ROOT / "solutions/bounded_buffer/solution.py", 10.0),
    },
    "locked_counter": {
        "honest_reference": (ROOT / "solutions/locked_counter/solution.py", 10.0),
        "honest_common_idioms": (HONEST_DIR / "static_scan_common_idioms/solution.py", 10.0),
        "honest_semaphore_mutex": (HONEST_DIR / "locked_counter_semaphore_mutex/solution.py", 10.0),
        "honest_no_lock": (ROOT / "solutions/locked_counter/mutants/no_lock/solution.py",
                           mutant_max("locked_counter", "no_lock")),
    },
    "mp_queue_fibonacci": {
        "honest_reference": (ROOT / "solutions/mp_queue_fibonacci/solution.py", 10.0),
        "honest_spawn_context": (HONEST_DIR / "mp_queue_fibonacci_spawn_context/solution.py", 10.0),
    },
    "mpi_collective_stats": {
        "honest_reference": (ROOT / "solutions/mpi_collective_stats/solution.py", 10.0),
    },
    "mpi_pairwise_exchange": {
        "honest_reference": (ROOT / "solutions/mpi_pairwise_exchange/solution.py", 10.0),
    },
    "mpi_pi": {
        "honest_reference": (ROOT / "solutions/mpi_pi/solution.py", 10.0),
    },
    "mpi_ring_allreduce": {
        "honest_reference": (ROOT / "solutions/mpi_ring_allreduce/solution.py", 10.0),
    },
    "pipe_pipeline": {
        "honest_reference": (ROOT / "solutions/pipe_pipeline/solution.py", 10.0),
        "honest_spawn_context": (HONEST_DIR / "pipe_pipeline_spawn_context/solution.py", 10.0),
        "honest_connection_import": (HONEST_DIR / "pipe_pipeline_connection_import/solution.py",
                                     10.0),
    },
    "pool_speedup": {  # a thread pool for CPU-bound work fails only the parallel test: 7/10
        "honest_reference": (ROOT / "solutions/pool_speedup/solution.py", 10.0),
        "honest_threads": (ROOT / "solutions/pool_speedup/mutants/threads_for_cpu/solution.py", 7.2727),
        "honest_spawn_pool": (HONEST_DIR / "spawn_pool/solution.py", 10.0),
    },
    "pp_job_server": {
        "honest_reference": (ROOT / "solutions/pp_job_server/solution.py", 10.0),
    },
    "process_lifecycle": {
        "honest_reference": (ROOT / "solutions/process_lifecycle/solution.py", 10.0),
        "honest_spawn_context": (HONEST_DIR / "process_lifecycle_spawn_context/solution.py", 10.0),
    },
    "pyopencl_vector_ops": {
        "honest_reference": (ROOT / "solutions/pyopencl_vector_ops/solution.py", 10.0),
    },
    "queue_pipeline": {
        "honest_reference": (ROOT / "solutions/queue_pipeline/solution.py", 10.0),
    },
    "shared_state": {
        "honest_reference": (ROOT / "solutions/shared_state/solution.py", 10.0),
        "honest_spawn_context": (HONEST_DIR / "shared_state_spawn_context/solution.py", 10.0),
        "honest_lock_free_value_own_lock": (
            HONEST_DIR / "shared_state_lock_free_value_own_lock/solution.py", 10.0
        ),
    },
    "throttle_and_gate": {
        "honest_reference": (ROOT / "solutions/throttle_and_gate/solution.py", 10.0),
        "honest_lock_turnstile": (HONEST_DIR / "throttle_lock_turnstile/solution.py", 10.0),
    },
}

# Tests an honest but racy student may also fail in a run where the machine's own scheduling
# shows the race (no_lock lost 500 of 4000 updates in parallel_count(8, 500) under CI's load):
# each such failure must be a plain wrong value, and costs exactly that test's points.
RACE_MAY_SHOW = {
    ("locked_counter", "honest_no_lock"): {
        "test_parallel_count_values", "test_mixed_increment_decrement",
    },
}


def honest_expectation(slug: str, student: str, declared: float, seen: Observed) -> float:
    """The exact score an honest student must get, given which of its racy tests lost updates."""
    from grader.demo import expected_now  # the sample class's rule (expected.csv's race_may_show)

    tests = [(t["function"], t["verdict"], t["max_points"]) for t in seen.tests]
    return expected_now(declared, tests, frozenset(RACE_MAY_SHOW.get((slug, student), ())))


_RAW_SCRIPT = re.compile(r"<script", re.I)
_EVENT_IN_TAG = re.compile(r"<[^>]*\bon[a-z]+\s*=", re.I)


# ---------------------------------------------------------------- the corpus

@dataclass
class Attack:
    name: str
    folder: Path
    description: str
    defence: str
    max_score: float
    exercise: str = DEFAULT_EXERCISE
    verdicts: dict[str, list[str]] = field(default_factory=dict)
    known_weakness: str | None = None
    flaky: bool = False  # the known weakness shows only sometimes (a race with the machine's load)
    note: str | None = None
    forbidden: list[str] = field(default_factory=list)
    html_payload: bool = False
    rename: dict[str, str] = field(default_factory=dict)
    shared: list[str] = field(default_factory=list)
    archive: str | None = None
    student_name: str | None = None
    isolated: bool = False  # graded in a batch of its own, next to an honest bystander
    store: bool = False  # with isolated: graded with a store (what `grader grade-all` does by default)
    flagged: bool = False  # the submission must be flagged for review (results' suspicion block)

    @property
    def student(self) -> str:
        """The name the batch grades this attack under."""
        return self.student_name or self.name


def load_corpus() -> list[Attack]:
    attacks = []
    for folder in sorted(p for p in ATTACKS.iterdir() if (p / "attack.toml").is_file()):
        data = tomllib.loads((folder / "attack.toml").read_text())
        verdicts = {k: [v] if isinstance(v, str) else list(v) for k, v in data.get("verdicts", {}).items()}
        exercise = data.get("exercise", DEFAULT_EXERCISE)
        max_score = data["max_score"]
        if isinstance(max_score, str):  # "mutant:NAME": what that known-wrong mutant may score
            max_score = mutant_max(exercise, max_score.removeprefix("mutant:"))
        attacks.append(Attack(
            name=folder.name, folder=folder, description=data["description"],
            defence=data["defence"], max_score=float(max_score),
            exercise=exercise, verdicts=verdicts,
            known_weakness=data.get("known_weakness"), flaky=bool(data.get("flaky")),
            note=data.get("note"),
            forbidden=list(data.get("forbidden", [])), html_payload=bool(data.get("html_payload")),
            rename=dict(data.get("rename", {})), shared=list(data.get("shared", [])),
            archive=(data.get("archive") or {}).get("kind"), student_name=data.get("student_name"),
            isolated=bool(data.get("isolated")), flagged=bool(data.get("flagged")),
            store=bool(data.get("store"))))
    return attacks


# ---------------------------------------------------------------- building submissions

def _files(attack: Attack) -> dict[str, Path]:
    """Name in the submission -> source file, for everything the attack hands in."""
    files = {}
    for path in sorted(attack.folder.rglob("*")):
        rel = path.relative_to(attack.folder).as_posix()
        if path.is_file() and rel != "attack.toml" and "__pycache__" not in rel:
            files[attack.rename.get(rel, rel)] = path
    for name in attack.shared:
        files[name] = ATTACKS / "_shared" / name
    return files


def _content(path: Path, canary: Path) -> bytes:
    data = path.read_bytes()
    return data.replace(CANARY_TOKEN.encode(), str(canary).encode())


def _member(zf: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o100644) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 9, 1, 12, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = mode << 16
    zf.writestr(info, data)


def _zeros_member(zf: zipfile.ZipFile, name: str, megabytes: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 9, 1, 12, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    block = bytes(1024 * 1024)
    with zf.open(info, "w", force_zip64=True) as f:
        for _ in range(megabytes):
            f.write(block)


def _build_archive(attack: Attack, dest: Path, canary: Path) -> None:
    with zipfile.ZipFile(dest, "w") as zf:
        for name, path in _files(attack).items():
            _member(zf, name, _content(path, canary))
        if attack.archive == "slip":
            _member(zf, "../" * 16 + str(canary).lstrip("/"), b"pwned by zip slip\n")
            _member(zf, str(canary), b"pwned by an absolute path\n")
            _member(zf, "..\\..\\evil.py", b"print('pwned')\n")
        elif attack.archive == "bomb":
            inner = dest.with_suffix(".inner.zip")
            with zipfile.ZipFile(inner, "w") as izf:
                _zeros_member(izf, "more_zeros.bin", 128)
            _member(zf, "inner.zip", inner.read_bytes())
            inner.unlink()
            _zeros_member(zf, "data.bin", 128)
        elif attack.archive == "deep":
            _member(zf, "d/" * 2100 + "notes.txt", b"deep down\n")
        elif attack.archive == "symlink":
            _member(zf, "helper.py", str(canary).encode(), 0o120777)
            _member(zf, "notes.txt", b"/etc/passwd", 0o120777)
        else:
            raise ValueError(f"{attack.name}: unknown archive kind {attack.archive!r}")


def build_submission(attack: Attack, folder: Path, canary: Path) -> Path:
    """Write the attack's submission into `folder` (a .zip for archive attacks); its path."""
    if attack.archive == "deep_folder":  # a folder handed in as it was unpacked: 1,100 levels deep
        dest = folder / attack.student
        for name, path in _files(attack).items():
            target = dest.joinpath(*name.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_content(path, canary))
        deep = dest
        for _ in range(1100):
            deep = deep / "d"
            os.mkdir(deep)  # relative paths stay short: the parent is already there
        (deep / "notes.txt").write_text("deep down\n")
        return dest
    if attack.archive == "bad_name_folder":  # a folder with names that are not UTF-8 bytes
        dest = folder / attack.student
        for name, path in _files(attack).items():
            target = dest.joinpath(*name.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_content(path, canary))
        raw = os.fsencode(dest)
        with open(os.path.join(raw, b"notes-\xff\xfe.py"), "wb") as f:
            f.write(b"NOTES = 1\n")
        os.mkdir(os.path.join(raw, b"d\xff"))
        with open(os.path.join(raw, b"d\xff", b"helper.py"), "wb") as f:
            f.write(b"HELPER = 1\n")
        return dest
    if attack.archive:
        dest = folder / f"{attack.student}.zip"
        _build_archive(attack, dest, canary)
        return dest
    dest = folder / attack.student
    for name, path in _files(attack).items():
        target = dest.joinpath(*name.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_content(path, canary))
    return dest


# ---------------------------------------------------------------- what was observed

@dataclass
class Observed:
    student: str
    status: str  # graded, not-graded, skipped, missing
    problem: str = ""
    score: float | None = None
    tests: list[dict] = field(default_factory=list)
    results_text: str = ""
    feedback: str = ""
    extra_problems: list[str] = field(default_factory=list)  # e.g. what happened to a bystander

    @property
    def verdicts(self) -> dict[str, str]:
        return {t["function"]: t["verdict"] for t in self.tests}

    @property
    def results_size(self) -> int:
        return len(self.results_text.encode())

    @property
    def suspicion(self) -> dict:
        try:
            return json.loads(self.results_text)["pgrader"].get("suspicion") or {}
        except (ValueError, KeyError, TypeError):
            return {}


@dataclass
class CorpusRun:
    attacks: list[Attack]
    observed: dict[tuple[str, str], Observed]  # (exercise, student) -> what happened
    seconds: dict[str, float]  # exercise -> wall time of its batch
    jobs: int
    canary: Path
    canary_before: tuple[bytes, int]
    leaked_containers: list[str]
    containers_seen: set[str]  # this run's containers seen while the batches ran (the filter works)

    def of(self, attack: Attack) -> Observed:
        return self.observed.get((attack.exercise, attack.student),
                                 Observed(attack.student, "missing", "not in the batch's results"))

    def honest(self) -> list[tuple[str, str, float, Observed]]:
        """(exercise, student, exact expected score, what happened) for every honest student."""
        out = []
        for slug in sorted({a.exercise for a in self.attacks}):
            for student, (_src, expected) in HONEST.get(slug, {}).items():
                seen = self.observed.get((slug, student), Observed(student, "missing"))
                out.append((slug, student, expected, seen))
        return out

    def canary_problems(self) -> list[str]:
        before_data, before_mtime = self.canary_before
        if not self.canary.is_file():
            return [f"the host canary {self.canary} is gone"]
        problems = []
        if self.canary.read_bytes() != before_data:
            problems.append(f"the host canary {self.canary} was modified")
        if self.canary.stat().st_mtime_ns != before_mtime:
            problems.append(f"the host canary {self.canary} was touched (mtime changed)")
        if any(p.name != "canary.txt" for p in self.canary.parent.iterdir()):
            problems.append(f"files appeared next to the host canary: {sorted(os.listdir(self.canary.parent))}")
        return problems


def html_problems(html: str) -> list[str]:
    problems = []
    if _RAW_SCRIPT.search(html):
        problems.append("feedback.html contains a raw <script")
    m = _EVENT_IN_TAG.search(html)
    if m:
        problems.append(f"feedback.html has an event handler inside a tag: {m.group(0)[-80:]!r}")
    return problems


def judge(attack: Attack, seen: Observed) -> list[str]:
    """Everything that says this attack was NOT held (empty: it was)."""
    if seen.status != "graded":
        return [f"{seen.status}: {seen.problem or 'a platform failure'}"
                + (f" (grader-error in {[f for f, v in seen.verdicts.items() if v == 'grader-error']})"
                   if seen.tests else "")] + seen.extra_problems
    problems = list(seen.extra_problems)
    if seen.score is None or seen.score > attack.max_score + 1e-9:
        problems.append(f"scored {seen.score} > max {attack.max_score:g}")
    verdicts = seen.verdicts
    for function, allowed in attack.verdicts.items():
        if verdicts.get(function) not in allowed:
            problems.append(f"{function}: verdict {verdicts.get(function)!r}, expected {' or '.join(allowed)}")
    if seen.results_size > RESULTS_LIMIT:
        problems.append(f"results.json is {seen.results_size / 1e6:.1f} MB (limit {RESULTS_LIMIT / 1e6:g} MB)")
    for text in attack.forbidden:
        if text in seen.results_text or text in seen.feedback:
            problems.append(f"{text!r} appears in the results (the attack got something out)")
    problems += html_problems(seen.feedback)
    if attack.flagged and not seen.suspicion.get("flagged"):
        problems.append("not flagged for review (no suspicion block in results.json)")
    if attack.html_payload and "&lt;script" not in seen.feedback.lower():
        problems.append("the injected markup does not appear (escaped) in feedback.html: nothing was checked")
    return problems


# ---------------------------------------------------------------- running the corpus

def _observe(out: Path, rows) -> dict[str, Observed]:
    seen = {}
    for row in rows:
        folder = out / row.student
        results = folder / "results.json"
        text = results.read_text(errors="replace") if results.is_file() else ""
        data = json.loads(text) if text else {}
        html = folder / "feedback.html"
        seen[row.student] = Observed(
            student=row.student, status=row.status, problem=row.problem,
            score=data.get("score") if data else (row.result.score if row.result else None),
            tests=data.get("tests", []), results_text=text,
            feedback=html.read_text(errors="replace") if html.is_file() else "")
    return seen


def _containers_from(folder: Path) -> list[str]:
    """Sandbox containers still present whose submission is mounted from under `folder`."""
    import docker

    client = docker.from_env()
    left = []
    for container in client.containers.list(all=True, ignore_removed=True, filters={"label": "pgrader=1"}):
        mounts = container.attrs.get("Mounts") or []
        if any(str(m.get("Source", "")).startswith(str(folder)) for m in mounts):
            left.append(f"{container.name} ({container.status})")
    return left


class _Watcher(threading.Thread):
    """Notes this run's containers every second while the batches run (proof that the mount
    filter of `_containers_from` really finds them)."""

    def __init__(self, folder: Path):
        super().__init__(daemon=True, name="attack-container-watcher")
        self.folder, self.seen, self.stop = folder, set(), threading.Event()

    def run(self):
        while not self.stop.wait(1.0):
            try:
                self.seen.update(name.split(" ")[0] for name in _containers_from(self.folder))
            except Exception:  # noqa: BLE001 - a busy engine: try again next second
                pass


BYSTANDER = "honest_bystander"


def _batch(course, slug: str, entries: list[Attack], workdir: Path, canary: Path, jobs: int,
           progress: bool, honest: dict[str, tuple[Path, float]], store=None) -> dict[str, Observed]:
    """Grade `entries` and `honest` students in one grade_all batch; what was observed per student."""
    from grader.batch import grade_all

    subs, out = workdir / "submissions", workdir / "graded"
    subs.mkdir(parents=True)
    for attack in entries:
        build_submission(attack, subs, canary)
    for student, (src, _score) in honest.items():
        (subs / student).mkdir()
        shutil.copyfile(src, subs / student / "solution.py")
    exercise = course.exercise(slug)
    if store is not None and exercise.due is not None:  # the store dates what it sees: on time
        names = [a.student for a in entries] + list(honest)
        on_time = exercise.due.isoformat()
        (subs / "received.csv").write_text("student,received\n"
                                           + "".join(f"{n},{on_time}\n" for n in names))
    rows = grade_all(course, exercise, subs, out, backend="docker", jobs=jobs,
                     progress=progress, store=store)
    return _observe(out, rows)


def _isolated(course, attack: Attack, workdir: Path, canary: Path, jobs: int) -> Observed:
    """Grade one attack in a batch of its own next to an honest bystander (the reference), so
    that an attack on the batch itself cannot take the rest of the corpus down with it."""
    src, expected = HONEST[attack.exercise]["honest_reference"]
    store = None
    try:
        if attack.store:
            from grader.store import Store

            workdir.mkdir(parents=True, exist_ok=True)
            store = Store(f"sqlite:///{workdir / 'grader.db'}")
        seen = _batch(course, attack.exercise, [attack], workdir, canary, jobs, False,
                      {BYSTANDER: (src, expected)}, store=store)
    except Exception as exc:  # noqa: BLE001 - exactly what this is here to observe
        why = f"grade_all raised {type(exc).__name__}: {str(exc)[:160]}"
        return Observed(attack.student, "batch-crashed", why,
                        extra_problems=[f"the honest bystander of its batch was not graded ({why})"])
    finally:
        if store is not None:
            store.close()
    mine = seen.get(attack.student, Observed(attack.student, "missing"))
    other = seen.get(BYSTANDER, Observed(BYSTANDER, "missing"))
    if other.status != "graded" or other.score != expected:
        mine.extra_problems.append(f"the honest bystander of its batch got {other.status}, {other.score}")
    return mine


def run_corpus(workdir: Path, attacks: list[Attack] | None = None, jobs: int = 2,
               progress: bool = False) -> CorpusRun:
    """Grade the corpus (one batch per exercise, Docker backend) under `workdir`."""
    from grader.course import load_course

    attacks = load_corpus() if attacks is None else attacks
    course = load_course(ROOT)
    workdir.mkdir(parents=True, exist_ok=True)
    canary = workdir / "canary" / "canary.txt"
    canary.parent.mkdir()
    canary.write_text(f"host canary {secrets.token_hex(16)}: no submission may change me\n")
    canary_before = (canary.read_bytes(), canary.stat().st_mtime_ns)
    sandbox_tmp = workdir / "sandbox-tmp"  # TMPDIR of the batch: the containers' mounts live here
    sandbox_tmp.mkdir()
    observed: dict[tuple[str, str], Observed] = {}
    seconds: dict[str, float] = {}
    previous_tmpdir, previous_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = str(sandbox_tmp)  # the warm pool's boxes too
    watcher = _Watcher(sandbox_tmp)
    watcher.start()
    try:
        for slug in sorted({a.exercise for a in attacks}):
            group = [a for a in attacks if a.exercise == slug and not a.isolated]
            t0 = time.monotonic()
            seen = _batch(course, slug, group, workdir / slug, canary, jobs, progress, HONEST.get(slug, {}))
            for attack in (a for a in attacks if a.exercise == slug and a.isolated):
                seen[attack.student] = _isolated(course, attack, workdir / slug / attack.name, canary, jobs)
            seconds[slug] = time.monotonic() - t0
            for student, observation in seen.items():
                observed[(slug, student)] = observation
    finally:
        from grader.sandbox.pool import close_shared

        close_shared()  # the boxes still waiting: what is left after this is a leak
        watcher.stop.set()
        watcher.join()
        tempfile.tempdir = previous_tempdir
        if previous_tmpdir is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous_tmpdir
    return CorpusRun(attacks=attacks, observed=observed, seconds=seconds, jobs=jobs, canary=canary,
                     canary_before=canary_before, leaked_containers=_containers_from(sandbox_tmp),
                     containers_seen=watcher.seen)

