"""The `grader` command: list, validate, release, check, grade, grade-all, worker, regrade, export, similarity, serve, accounts, lti, demo, image."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader import __version__
from grader.errors import GraderError
from grader.protocol import Outcome

if TYPE_CHECKING:
    from grader import recorded

VERDICT_MARK = {Outcome.PASSED: "PASS", Outcome.NOT_RUN: "SKIP"}
REMOTE_WAITERS = 16  # grader serve --distributed: jobs in flight (threads that each wait for one)


# ---------------------------------------------------------------- helpers
# Each command imports what it needs when it runs (function-level imports on purpose): `grader
# --help` and light commands do not pay for Docker, Celery, SQLAlchemy or Flask.


def _course(args):
    from grader.course import find_course_root, load_course

    root = Path(args.course) if args.course else find_course_root()
    return load_course(root)


def _backend(args, course=None) -> tuple[str, dict]:
    """The backend name to use, and the facts about it recorded in results."""
    from grader.sandbox import get_backend, resolve_backend_name

    name = resolve_backend_name(args.backend or (course.backend if course else "auto"))
    backend = get_backend(name)
    try:
        if name == "docker":
            from grader.sandbox.docker import DockerBackend, remove_stale_containers

            assert isinstance(backend, DockerBackend)  # what get_backend("docker") returns
            if removed := remove_stale_containers(backend.client):
                print(
                    f"Removed {removed} container(s) left by an interrupted grader.",
                    file=sys.stderr,
                )
        return name, backend.describe()
    finally:
        backend.close()


def _existing(path: str, what: str) -> Path:
    """`path` as given on the command line, or a GraderError when nothing is there: a mistyped
    path is the caller's mistake, never a student's empty hand-in."""
    found = Path(path)
    if not found.exists():
        raise GraderError(f"{what} {path!r} does not exist (check the path)")
    return found


def _print_result(result) -> None:
    for t in result.tests:
        mark = VERDICT_MARK.get(t.verdict, t.verdict.upper())
        print(f"  [{mark:>8}] {t.points:5.2f}/{t.max_points:<5.2f} {t.name}")
        if t.message and t.verdict != Outcome.PASSED:
            for line in t.message.splitlines()[:6]:
                print(f"             {line}")
    print(result.summary())


# ---------------------------------------------------------------- subcommands


def cmd_list(args) -> int:
    from grader.course import format_time

    course = _course(args)
    print(f"{course.name} ({course.term})")
    for ex in course.exercises.values():
        needs = ", ".join(ex.runtime.needs()) or "-"
        due = format_time(ex.due, course.timezone)
        print(f"  {ex.slug:<24} {ex.topic:<11} {ex.points:>5g} pts  due {due:<22}  needs: {needs}")
    return 0


def cmd_course(args) -> int:
    from grader import dates

    course = _course(args)
    days = (
        args.shift
        if args.shift is not None
        else dates.days_to_start(course, args.start)
        if args.start
        else None
    )
    if days:
        changed = dates.shift(course.root / "course.toml", days)
        print(f"Moved {len(changed)} date(s) of {course.root / 'course.toml'} by {days:+d} day(s).")
        course = _course(args)
    elif days == 0:
        print("The dates already start there: nothing changed.")
    print("\n".join(dates.schedule(course)))
    return 0


def cmd_validate(args) -> int:
    from grader.validate import coverage, format_coverage, format_table, validate

    course = _course(args)
    exercises = [course.exercise(s) for s in args.slugs] or list(course.exercises.values())
    backend, info = _backend(args, course)
    print(f"Validating {len(exercises)} exercise(s) on the {backend} backend...", file=sys.stderr)
    only = tuple(v.strip() for v in (args.only or "").split(",") if v.strip())
    checks = validate(
        course, exercises, backend, seed=args.seed, jobs=args.jobs, sandbox_info=info, only=only
    )
    print(format_table(checks))
    failed: list[object] = [c for c in checks if not c.ok]  # checks, proofs and problems
    print(f"\n{len(checks) - len(failed)} of {len(checks)} variants as expected.")
    proofs, problems = coverage(course, exercises, checks)
    if not only or "mutants" in only:  # every mutant graded: the table judges the requirements
        print("\nRequirements (requirement -> tests -> mutants that proved it):")
        print(format_coverage(proofs, problems))
        failed += [p for p in proofs if not p.ok]
        failed += problems
    elif problems:
        print("\n" + "\n".join(problems))
        failed += problems
    return 1 if failed else 0


def cmd_release(args) -> int:
    from grader.release import release

    course = _course(args)
    target = release(course.exercise(args.slug), Path(args.out), wheels=not args.no_wheels)
    print(f"Student bundle written to {target}")
    print(f"How students install the checker and replay a seed: {target / 'CHECKING.md'}")
    return 0


def cmd_check(args) -> int:
    from grader.course import ConfigError, Limits, load_exercise
    from grader.grade import grade_submission

    try:
        course = _course(args)
        exercise = course.exercise(args.slug)
    except ConfigError:
        bundle = next(
            (d for d in (Path.cwd(), Path.cwd() / args.slug) if (d / "exercise.toml").is_file()),
            None,
        )
        if bundle is None:
            raise
        from grader.course import Course, LatePolicy

        exercise = load_exercise(bundle, Limits())
        course = Course(
            bundle, "bundle", "", "local", Limits(), LatePolicy(), {args.slug: exercise}
        )
    path = _existing(args.path, "the path to check") if args.path else Path.cwd()
    with tempfile.TemporaryDirectory(prefix="pgrader-check-") as tmp:
        if (path / "exercise.toml").is_file():  # the bundle folder: only what the student wrote
            from grader.release import BUNDLE_ONLY

            path = Path(
                shutil.copytree(
                    path,
                    Path(tmp) / "submission",
                    symlinks=True,
                    ignore=lambda d, names: [
                        n for n in names if Path(d) == path and n in BUNDLE_ONLY
                    ],
                )
            )
        result = grade_submission(
            course,
            exercise,
            path,
            student="you",
            backend="local",
            suites=("public",),
            seed=args.seed,
        )
    _print_result(result)
    print(f"Seed {result.seed}: `grader check {args.slug} --seed {result.seed}` replays this run.")
    return 0 if all(t.passed for t in result.tests) else 1


def cmd_grade(args) -> int:
    from grader.grade import GradingFailed, grade_submission, write_outputs

    course = _course(args)
    exercise = course.exercise(args.slug)
    submission = _existing(args.submission, "the submission")
    backend, info = _backend(args, course)
    received = None
    if args.received:
        import datetime as dt

        try:
            received = dt.datetime.fromisoformat(args.received.replace("Z", "+00:00"))
        except ValueError:
            raise GraderError(
                f"--received: expected an ISO 8601 time such as "
                f"2026-09-22T10:00:00Z, got {args.received!r}"
            ) from None
        if received.tzinfo is None:  # as in received.csv: in the course's time zone
            received = received.replace(tzinfo=course.zone)
    try:
        result = grade_submission(
            course,
            exercise,
            submission,
            student=args.student,
            backend=backend,
            seed=args.seed,
            received=received,
            sandbox_info=info,
        )
    except GradingFailed as exc:
        raise GraderError(f"not graded yet, nothing written: {exc}") from None
    out = Path(args.out) if args.out else Path("graded") / exercise.slug / result.student
    write_outputs(result, exercise, out)
    if args.json:
        print(json.dumps(result.to_json(exercise.hidden_visibility), indent=1))
    else:
        print(f"{exercise.title}: {result.student} (seed {result.seed}, {backend} backend)")
        _print_result(result)
        print(f"Wrote {out / 'results.json'} and {out / 'feedback.html'}")
    return 0


def cmd_replay(args) -> int:
    """Run again, with the recorded seed, the tests of an earlier results.json."""
    from grader.grade import grade_submission
    from grader.results import SubmissionResult

    course = _course(args)
    exercise = course.exercise(args.slug)
    submission = _existing(args.submission, "the submission")
    earlier = SubmissionResult.read(_existing(args.results, "the results file"))
    names = args.test or [t.function for t in earlier.tests if not t.passed]
    if not names:
        print("Every test passed in that run: nothing to replay (name one with --test).")
        return 0
    backend, info = _backend(args, course)
    print(f"Replaying {', '.join(names)} with seed {earlier.seed} on the {backend} backend...")
    again = grade_submission(
        course,
        exercise,
        submission,
        student=earlier.student,
        backend=backend,
        seed=earlier.seed,
        sandbox_info=info,
        only=names,
    )
    before = {t.function: t for t in earlier.tests}
    same = True
    for t in again.tests:
        was = before.get(t.function)
        match = was is not None and was.verdict == t.verdict
        same &= match
        print(
            f"  {t.function}: then {was.verdict if was else '?'}, now {t.verdict}"
            f"{'' if match else '  (DIFFERENT)'}"
        )
        if t.message:
            print(f"    {t.message.splitlines()[0][:300]}")
    return 0 if same else 1


def _open_store(args, course):
    """The course's store, unless --no-store."""
    if getattr(args, "no_store", False):
        return None
    from grader.store import open_store

    return open_store(course, args.store)


def _print_rows(rows) -> None:
    from grader.states import REFUSED, retry_note

    for row in rows:
        r = row.result
        score = f"{r.score:g}/{r.max_score:g}" if r and r.graded else "-"
        if r is None or row.status == "not-graded":
            status = retry_note(row.problem)
        else:
            status = f"{REFUSED}: {r.error.splitlines()[0]}" if r.error else row.status
        print(f"  {row.student:<20} {score:>10}  {status}")


def cmd_grade_all(args) -> int:
    from grader.batch import grade_all
    from grader.entries import entries_in

    course = _course(args)
    exercise = course.exercise(args.slug)
    submissions = _existing(args.submissions, "the class's folder")
    if not submissions.is_dir():
        raise GraderError(
            f"{args.submissions!r} is not a folder: grade-all grades a folder of "
            "submissions (one folder, .py, .ipynb or .zip per student)"
        )
    store = _open_store(args, course)
    out = Path(args.out)
    grade: Callable[..., recorded.Outcome]
    if args.distributed:  # the workers run the sandbox; this process records and writes
        from functools import partial

        from grader.distributed.app import load_settings
        from grader.distributed.submit import grade_distributed

        if store is None:
            raise GraderError("--distributed records every grading in the store: drop --no-store")
        grade = partial(
            grade_distributed,
            settings=load_settings(course, args.broker),
            regrade=args.regrade,
            seed=args.seed,
        )
    else:
        backend, info = _backend(args, course)
        options = dict(backend=backend, jobs=args.jobs, seed=args.seed, sandbox_info=info)
        kind = "regrade" if args.regrade else "grade-all"
        if store is not None:  # lazy: the store's SQLAlchemy, not imported for --no-store
            from grader.recorded import grade_recorded

            grade = lambda course, exercise, entries, out, store: grade_recorded(  # noqa: E731
                course, exercise, entries, out, store, kind=kind, **options
            )
    if store is None:
        rows = grade_all(course, exercise, submissions, out, regrade=args.regrade, **options)
        _print_rows(rows)
    else:
        with store:
            outcome = grade(course, exercise, entries_in(submissions, course.zone), out, store)
        rows = outcome.rows
        _print_rows(rows)
        from grader.recorded import format_changes

        print("\n".join(format_changes(outcome, exercise.slug)))
        print(f"Recorded in {store.url}")
    print(f"Gradebook: {out / 'gradebook.csv'}; feedback: {out}/<student>/feedback.html")
    return 0 if all(r.status != "not-graded" for r in rows) else 1


def cmd_worker(args) -> int:
    from grader.distributed.app import load_settings
    from grader.distributed.routing import parse_queues
    from grader.distributed.worker import run_worker
    from grader.errors import SandboxUnavailable

    course = _course(args)
    queues = parse_queues(args.queues)
    if "gpu" in queues:
        from grader.sandbox.gpu import host_has_gpu

        if not host_has_gpu():
            raise GraderError(
                "--queues gpu: this machine has no usable NVIDIA GPU (nvidia-smi "
                "lists none), so it cannot grade GPU exercises; their jobs wait "
                "in the gpu queue for a worker that has one"
            )
    settings = load_settings(course, args.broker)
    if args.concurrency is not None and args.concurrency < 1:
        raise GraderError("--concurrency: expected a number of at least 1")
    try:
        backend, info = _backend(args, course)
    except SandboxUnavailable as exc:  # the engine may come back: jobs retry, never score 0
        from grader.sandbox import resolve_backend_name

        backend = resolve_backend_name(args.backend or course.backend)
        info = {"backend": backend}
        print(
            f"grader worker: WARNING: {exc}; jobs will be retried and reported not graded yet "
            "while it lasts",
            file=sys.stderr,
        )
    run_worker(
        course,
        settings,
        queues,
        backend=backend,
        sandbox_info=info,
        concurrency=args.concurrency,
        name=args.name,
        loglevel=args.loglevel,
    )
    return 0


def cmd_regrade(args) -> int:
    from grader.recorded import format_changes, regrade

    course = _course(args)
    exercise = course.exercise(args.slug)
    backend, info = _backend(args, course)
    from grader.store import open_store

    with open_store(course, args.store) as store:
        outcome = regrade(
            course,
            exercise,
            store,
            Path(args.out) if args.out else None,
            students=args.students or None,
            backend=backend,
            jobs=args.jobs,
            seed=args.seed,
            sandbox_info=info,
        )
    print(f"Score changes for {exercise.slug} (request {outcome.request_id}):")
    print("\n".join(format_changes(outcome, exercise.slug)))
    return 0 if all(r.status != "not-graded" for r in outcome.rows) else 1


def cmd_export(args) -> int:
    from grader.export import export
    from grader.store import open_store

    course = _course(args)
    exercise = course.exercise(args.slug)
    if args.format == "gradescope-autograder":  # the exercise itself: no store needed
        from grader.export.autograder import autograder_zip

        print(f"Wrote {autograder_zip(course, exercise, Path(args.out))}")
        return 0
    with open_store(course, args.store) as store:
        written = export(args.format, course, exercise, store, Path(args.out))
    print(f"Wrote {written}")
    return 0


def cmd_similarity(args) -> int:
    from grader.similarity.cli import similarity

    course = _course(args)
    exercise = course.exercise(args.slug)
    from grader.store import open_store

    with open_store(course, args.store) as store:
        return similarity(
            course,
            exercise,
            store,
            args.threshold,
            Path(args.out or f"similarity-{exercise.slug}.html"),
        )


def cmd_demo(args) -> int:
    from grader.demo import run_demo

    course = _course(args)
    backend, info = _backend(args, course)
    store = _open_store(args, course)
    try:
        return run_demo(course, backend, info, Path(args.out), jobs=args.jobs, store=store)
    finally:
        if store is not None:
            store.close()


def cmd_serve(args) -> int:
    from grader.portal.accounts import any_account
    from grader.portal.lti.tool import any_platform
    from grader.portal.server import no_accounts_message, serve
    from grader.store import open_store

    course = _course(args)
    distributed = args.distributed or bool(args.broker)
    jobs = (
        args.jobs
        if args.jobs is not None
        else REMOTE_WAITERS
        if distributed
        else os.cpu_count() or 1
    )
    if jobs < 0:
        raise GraderError("--jobs: expected 0 (queue only) or more grading workers")
    with open_store(course, args.store) as store:
        if not any_account(store) and not any_platform(store):  # nobody could sign in
            raise GraderError(no_accounts_message(store, course))
        remote = None
        if distributed:  # the workers run the sandbox: no engine needed here
            from grader.distributed.app import load_settings
            from grader.distributed.remote import RemoteGrader

            backend, info = "distributed", {"backend": "distributed"}
            remote = RemoteGrader(course, store.url, load_settings(course, args.broker))
        else:
            backend, info = _backend(args, course)
        log = (
            None
            if args.access_log == "none"
            else Path(args.access_log)
            if args.access_log
            else course.root / "portal-logs" / "access.log"
        )
        return serve(
            course,
            store,
            host=args.host,
            port=args.port,
            backend=backend,
            sandbox_info=info,
            workers=jobs,
            uploads=Path(args.uploads) if args.uploads else None,
            trusted_proxy=args.trusted_proxy,
            remote=remote,
            access_log=log,
        )


def cmd_accounts(args) -> int:
    from grader.portal import accounts
    from grader.store import open_store

    course = _course(args)
    with open_store(course, args.store) as store:
        if args.action == "import":
            rows = accounts.read_roster(Path(args.roster))
            if args.passwords_out:
                accounts.check_not_committed(Path(args.passwords_out))
            done = accounts.import_roster(store, rows, generate=bool(args.passwords_out))
            if done.generated:
                accounts.write_passwords(Path(args.passwords_out), done.generated)
            print(
                f"{done.created} account(s) created, {done.updated} updated"
                + (
                    f"; {len(done.generated)} generated password(s) in {args.passwords_out}"
                    if done.generated
                    else ""
                )
            )
        else:
            import getpass

            password = args.password or getpass.getpass(f"New password for {args.login}: ")
            accounts.set_password(store, args.login, password)
            print(f"Password of {args.login} changed; its sessions are signed out.")
    return 0


def cmd_lti(args) -> int:
    from grader.portal.lti.commands import run
    from grader.store import open_store

    with open_store(_course(args), args.store) as store:
        return run(args, store)


def cmd_image(args) -> int:
    from grader.sandbox.image import ensure_image

    image_id = ensure_image(force=args.force)
    print(image_id)
    return 0


# ---------------------------------------------------------------- parser
# The commands, one entry each: name, help, arguments (in --help order), handler. To add a
# command, write its `cmd_*` handler above and add a `Command` to COMMANDS (shared options:
# BACKEND, JOBS, store(), broker(); a group of options of which one may be given: `Exclusive`;
# sub-commands of their own: `actions`, as `accounts` has).


@dataclass(frozen=True)
class Arg:
    """One argument: `parser.add_argument(*flags, **options)`."""

    flags: tuple[str, ...]
    options: dict


def arg(*flags: str, **options) -> Arg:
    return Arg(flags, options)


@dataclass(frozen=True)
class Exclusive:
    """Arguments of which at most one may be given."""

    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    handler: Callable[[argparse.Namespace], int] | None
    args: tuple[Arg | Exclusive, ...] = ()
    actions: tuple[Command, ...] = ()  # sub-commands, chosen by `args.action`


BACKEND = (
    arg(
        "--backend",
        choices=["auto", "docker", "local"],
        help="sandbox backend (default: course.toml's, else auto)",
    ),
)
JOBS = (
    arg(
        "--jobs",
        "-j",
        type=int,
        default=os.cpu_count() or 1,
        help="submissions graded at once (default: the number of cores)",
    ),
)
NO_COURSE = arg("--course", default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # the global one


def store(optional: bool = True) -> tuple[Arg, ...]:
    found: tuple[Arg, ...] = (
        arg(
            "--store",
            metavar="URL",
            help="the store: a SQLAlchemy URL or a SQLite file "
            "(default: course.toml's [store] url, else grader.db beside it)",
        ),
    )
    if optional:
        found += (
            arg(
                "--no-store",
                action="store_true",
                help="grade into the folder only, recording nothing",
            ),
        )
    return found


def broker(what: str) -> tuple[Arg, ...]:
    return (
        arg(
            "--broker",
            metavar="URL",
            help=f"{what}redis:// or amqp:// (default: "
            "$PGRADER_BROKER, else course.toml's [distributed] broker, else "
            "redis://127.0.0.1:6379/0)",
        ),
    )


COMMANDS: tuple[Command, ...] = (
    Command("list", "the exercises, their topic, points and runtime needs", cmd_list),
    Command(
        "validate",
        "prove exercises' tests with their reference and mutants",
        cmd_validate,
        (
            arg("slugs", nargs="*"),
            arg("--seed", type=int),
            arg(
                "--only",
                metavar="VARIANTS",
                help="comma-separated: reference, skeleton, mutants, mutant:NAME (default: all)",
            ),
            *BACKEND,
            *JOBS,
        ),
    ),
    Command(
        "release",
        "write the student bundle of an exercise",
        cmd_release,
        (
            arg("slug"),
            arg("--out", required=True),
            arg(
                "--no-wheels",
                action="store_true",
                help="leave out wheels/, the offline "
                "installation of the checker (no PyPI needed to release)",
            ),
        ),
    ),
    Command(
        "check",
        "run the public tests on your own solution (local)",
        cmd_check,
        (
            arg("slug"),
            arg("path", nargs="?"),
            arg(
                "--seed",
                type=int,
                help="replay a run: the seed the portal or an earlier check showed",
            ),
        ),
    ),
    Command(
        "grade",
        "grade one submission (folder, .py or .zip)",
        cmd_grade,
        (
            arg("slug"),
            arg("submission"),
            arg("--student", help="name recorded in the results (default: the file name)"),
            arg("--out", help="where results.json and feedback.html go"),
            arg("--seed", type=int, help="replay the randomised checks of an earlier run"),
            arg("--received", help="when the submission was received (ISO 8601)"),
            arg("--json", action="store_true", help="print results.json"),
            *BACKEND,
        ),
    ),
    Command(
        "replay",
        "rerun the tests of a results.json with its seed",
        cmd_replay,
        (
            arg("slug"),
            arg("submission"),
            arg("results", help="the results.json of the run to replay"),
            arg(
                "--test",
                action="append",
                help="a test function to replay (repeatable; default: "
                "every test that did not pass)",
            ),
            *BACKEND,
        ),
    ),
    Command(
        "grade-all",
        "grade every submission of a class",
        cmd_grade_all,
        (
            arg("slug"),
            arg("submissions"),
            arg("--out", required=True),
            arg("--regrade", action="store_true", help="grade again what is already graded"),
            arg("--seed", type=int),
            arg(
                "--distributed",
                action="store_true",
                help="send one job per submission to `grader worker`s (see docs/distributed.md)",
            ),
            *broker("with --distributed: the broker, "),
            *BACKEND,
            *JOBS,
            *store(),
        ),
    ),
    Command(
        "worker",
        "grade jobs sent by grade-all --distributed (a Celery worker)",
        cmd_worker,
        (
            arg(
                "--queues",
                default="cpu,mpi",
                help="comma-separated queues this machine serves: cpu, mpi, gpu (default cpu,mpi)",
            ),
            *broker(""),
            arg("--concurrency", "-c", type=int, help="jobs at once (default: the cores)"),
            arg("--name", help="worker name, e.g. w1@%%h (default: celery@host)"),
            arg("--loglevel", default="INFO"),
            *BACKEND,
        ),
    ),
    Command(
        "regrade",
        "grade again every recorded submission of an exercise and print the score changes",
        cmd_regrade,
        (
            arg("slug"),
            arg("--students", nargs="+", metavar="NAME", help="only these students"),
            arg("--out", help="where results go (default: the last grade-all's --out)"),
            arg("--seed", type=int),
            *BACKEND,
            *JOBS,
            *store(optional=False),
        ),
    ),
    Command(
        "export",
        "export the current grades of an exercise from the store, or the "
        "exercise as a Gradescope autograder (docs/gradescope.md)",
        cmd_export,
        (
            arg("slug"),
            arg(
                "--format",
                required=True,
                choices=[
                    "gradebook",
                    "canvas",
                    "nbgrader",
                    "gradescope",
                    "report",
                    "gradescope-autograder",
                ],
            ),
            arg(
                "--out",
                required=True,
                help="a file (gradebook, canvas, report), a folder "
                "(gradescope), an nbgrader database file or URL (nbgrader), or the "
                "autograder zip (gradescope-autograder: needs no store)",
            ),
            *store(optional=False),
        ),
    ),
    Command(
        "similarity",
        "compare every current submission of an exercise with every other "
        "(skeleton and reference excluded); report similar pairs",
        cmd_similarity,
        (
            arg("slug"),
            arg(
                "--threshold",
                type=float,
                help="the share of a submission found in another "
                "at which the pair is reported (default: 0.5)",
            ),
            arg(
                "--out",
                help="the HTML report with the pairs side by side (default: similarity-SLUG.html)",
            ),
            *store(optional=False),
        ),
    ),
    Command(
        "demo",
        "grade the bundled sample class and check the known answers",
        cmd_demo,
        (arg("--out", default="demo-results"), *BACKEND, *JOBS, *store()),
    ),
    Command(
        "serve",
        "the course portal: students upload, instructors watch (docs/portal.md)",
        cmd_serve,
        (
            NO_COURSE,
            arg("--host", default="127.0.0.1"),
            arg("--port", type=int, default=8080, help="0: any free port"),
            arg(
                "--jobs",
                "-j",
                type=int,
                default=None,
                help="grading workers (default: the number of cores; with --distributed, "
                f"jobs in flight at once, default {REMOTE_WAITERS}; 0: queue only)",
            ),
            arg(
                "--distributed",
                action="store_true",
                help="jobs go to `grader worker`s through the broker (docs/distributed.md)",
            ),
            *broker("the broker (implies --distributed), "),
            arg(
                "--uploads",
                help="where uploads are kept (default: portal-uploads/ beside course.toml)",
            ),
            arg(
                "--trusted-proxy",
                metavar="IP",
                help="the reverse proxy terminating TLS: "
                "its X-Forwarded-Proto/-For are believed (Secure cookies over https)",
            ),
            arg(
                "--access-log",
                metavar="FILE",
                help="one line per request (default: "
                "portal-logs/access.log beside course.toml; none: no access log)",
            ),
            *BACKEND,
            *store(optional=False),
        ),
    ),
    Command(
        "accounts",
        "portal accounts: import a roster, set a password",
        cmd_accounts,
        (NO_COURSE,),
        actions=(
            Command(
                "import",
                "create or update accounts from a roster CSV (student, name, "
                "email[, role][, password])",
                None,
                (
                    arg("roster"),
                    arg(
                        "--passwords-out",
                        metavar="FILE",
                        help="where generated passwords go (needed when a new row has none)",
                    ),
                    *store(optional=False),
                ),
            ),
            Command(
                "set-password",
                "set an account's password (asked for if not given)",
                None,
                (arg("login"), arg("--password"), *store(optional=False)),
            ),
        ),
    ),
    Command(
        "lti",
        "LMS launches and grade passback over LTI 1.3 (docs/lti.md)",
        cmd_lti,
        (NO_COURSE,),
        actions=(
            Command(
                "register",
                "register an LMS (a platform): issuer, client id, "
                "deployment and its URLs (again: add a deployment, update the URLs)",
                None,
                (
                    arg(
                        "--issuer",
                        required=True,
                        help="the platform's issuer (iss), e.g. https://canvas.instructure.com",
                    ),
                    arg("--client-id", required=True, help="the client id the LMS gave the tool"),
                    arg(
                        "--deployment-id",
                        required=True,
                        help="the deployment id the LMS gave the tool",
                    ),
                    arg(
                        "--auth-login-url",
                        required=True,
                        help="the platform's OIDC authorisation endpoint",
                    ),
                    arg(
                        "--auth-token-url",
                        required=True,
                        help="the platform's OAuth2 token endpoint",
                    ),
                    arg(
                        "--keyset-url",
                        required=True,
                        help="the platform's public key set (JWKS) URL",
                    ),
                    arg(
                        "--auth-audience",
                        help="the token endpoint's audience, when the "
                        "LMS wants another than the token URL (e.g. Brightspace)",
                    ),
                    *store(optional=False),
                ),
            ),
            Command("list", "the registered LMSs", None, store(optional=False)),
            Command(
                "show-tool",
                "the URLs and public key set to enter in the LMS",
                None,
                (
                    arg(
                        "--url",
                        default="http://127.0.0.1:8080",
                        help="the portal's public address (default: %(default)s)",
                    ),
                    *store(optional=False),
                ),
            ),
        ),
    ),
    Command(
        "course",
        "the course's schedule: show it, or move its dates",
        cmd_course,
        (
            NO_COURSE,
            arg("what", choices=["dates"]),
            Exclusive(
                (
                    arg(
                        "--shift",
                        type=int,
                        metavar="DAYS",
                        help="move every opens and due date of course.toml by DAYS (may be negative)",
                    ),
                    arg(
                        "--start",
                        metavar="DATE",
                        help="move the dates so the first exercise opens on "
                        "DATE: YYYY-MM-DD, today, or today-N / today+N",
                    ),
                )
            ),
        ),
    ),
    Command(
        "image",
        "the sandbox image",
        cmd_image,
        (arg("action", choices=["build"]), arg("--force", action="store_true")),
    ),
)


def _add_command(sub, command: Command) -> None:
    sp = sub.add_parser(command.name, help=command.help)
    for item in command.args:
        if isinstance(item, Exclusive):
            group = sp.add_mutually_exclusive_group()
            for a in item.args:
                group.add_argument(*a.flags, **a.options)
        else:
            sp.add_argument(*item.flags, **item.options)
    if command.actions:
        actions = sp.add_subparsers(dest="action", required=True)
        for action in command.actions:
            _add_command(actions, action)
    if command.handler is not None:
        sp.set_defaults(func=command.handler)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader", description=__doc__)
    p.add_argument("--version", action="version", version=f"grader {__version__}")
    p.add_argument("--course", help="folder holding course.toml (default: this folder or a parent)")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        _add_command(sub, command)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a reader that left shows here, not in the interpreter's exit
        return code
    except GraderError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ngrader: interrupted; nothing half-written is kept, rerun to resume.", file=sys.stderr
        )
        return 130
    except BrokenPipeError:  # `grader list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # exit's flush too
        return 141
