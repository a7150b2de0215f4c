"""Handing in and its results (Flask blueprint `handin`): the upload (rate-limited per
student and exercise, instructors exempt), an attempt's page and the status its script polls,
and the links of older portals. A student names only their own attempts, by number."""

from __future__ import annotations

import datetime as dt
import io

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for
from flask_login import login_required

from grader.course import format_time
from grader.portal import auth, pages
from grader.portal.pages import exercise_or_404, now, upload_limit
from grader.portal.uploads import UploadRefused, save_upload
from grader.recorded import raw_hash
from grader.results import late_days

blueprint = Blueprint("handin", __name__)


@blueprint.post("/exercises/<slug>/submit")
@login_required
def submit(slug: str):
    ex = exercise_or_404(slug)
    portal, login = g.portal, auth.user().login
    try:
        _check_rate(login, slug)
        upload = request.files.get("submission")
        path = save_upload(
            portal.uploads,
            slug,
            login,
            (upload.filename or "") if upload else "",
            upload.stream if upload else io.BytesIO(),
            upload_limit(),
        )
    except UploadRefused as exc:
        return render_template(
            "error.html",
            code=exc.code,
            title="Not accepted",
            message=str(exc),
            back=url_for("student.exercise", slug=slug),
        ), exc.code
    received = now()
    ext = portal.store.extension(slug, login)
    sub = portal.store.record_submission(
        login,
        slug,
        raw_hash(path),
        received,
        late_days(received, ext.due if ext else ex.due),
        str(path),
    )
    job = portal.jobs.create("upload", slug, [(login, sub)])[0]
    portal.grader.hand_over(job.id)
    return redirect(url_for("handin.attempt", slug=slug, number=sub.attempt), 303)


def _check_rate(login: str, slug: str) -> None:
    """At most `submissions_per_hour` uploads per student and exercise (counted from the
    jobs, so the refusal can say when the next try is possible)."""
    if auth.is_instructor():
        return
    portal = g.portal
    per_hour = portal.settings.submissions_per_hour
    recent = portal.jobs.uploads_since(login, slug, now() - dt.timedelta(hours=1))
    if len(recent) >= per_hour:
        again = recent[-per_hour] + dt.timedelta(hours=1)
        raise UploadRefused(
            f"You can hand in {per_hour} times per hour for this exercise; "
            f"try again after {format_time(again, portal.course.timezone)}.",
            429,
        )


@blueprint.get("/exercises/<slug>/attempts/<int:number>")
@login_required
def attempt(slug: str, number: int):
    return pages.attempt_page(
        exercise_or_404(slug),
        auth.user().login,
        number,
        url_for("handin.api_attempt", slug=slug, number=number),
    )


@blueprint.get("/api/exercises/<slug>/attempts/<int:number>")
@login_required
def api_attempt(slug: str, number: int):
    return jsonify(pages.attempt_status(exercise_or_404(slug), auth.user().login, number))


@blueprint.get("/submissions/<int:job_id>")
@login_required
def old_link(job_id: int):
    """Links of portals before attempts were numbered per student: to the attempt's page."""
    jobs, instructor = g.portal.jobs, auth.is_instructor()
    job = jobs.get(job_id)
    if job is None or (not instructor and job.student != auth.user().login):
        abort(404)
    number = jobs.submission(job).attempt
    if instructor:
        return redirect(
            url_for("instructor.attempt", slug=job.exercise, login=job.student, number=number),
            301,
        )
    return redirect(url_for("handin.attempt", slug=job.exercise, number=number), 301)
