"""The instructor's similarity pages (a Blueprint): the pairs of an exercise's newest
similarity run at or above a threshold, each pair side by side, and a button that runs the
comparison again over the current submissions. Instructors only: a student gets 403 on every
URL here, and nothing of it appears on a student's pages.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from grader.errors import GraderError
from grader.portal import auth
from grader.portal.instructor import _exercise
from grader.similarity.compare import THRESHOLD
from grader.similarity.report import pair_view
from grader.similarity.run import flagged_pairs, run_similarity

blueprint = Blueprint("similarity", __name__, url_prefix="/instructor/exercises/<slug>/similarity")


def _threshold(value: str | None, default: float) -> float:
    """A share from a form or query: "0.4", "40" or "40%" (default when absent or not one)."""
    try:
        x = float((value or "").strip().rstrip("%"))
    except ValueError:
        return default
    x = x / 100 if x > 1 else x
    return x if 0 < x <= 1 else default


@blueprint.get("")
@auth.instructor_only
def pairs(slug: str):
    ex = _exercise(slug)
    store = g.portal.store
    run = store.similarity_run(slug)
    threshold = _threshold(request.args.get("threshold"), run.threshold if run else THRESHOLD)
    return render_template(
        "similarity.html",
        ex=ex,
        run=run,
        threshold=threshold,
        pairs=flagged_pairs(store, run, threshold) if run else [],
        error=request.args.get("error"),
        link=lambda p: url_for(
            "similarity.pair", slug=slug, pair_id=p.id, threshold=f"{100 * threshold:g}"
        ),
    )


@blueprint.post("")
@auth.instructor_only
def run(slug: str):
    """Compare the current submissions again (a new run; the older ones stay in the store)."""
    ex = _exercise(slug)
    threshold = _threshold(request.form.get("threshold"), THRESHOLD)
    try:
        run_similarity(
            g.portal.course, ex, g.portal.store, threshold, actor=f"{auth.user().login} (portal)"
        )
    except GraderError as exc:
        return redirect(url_for("similarity.pairs", slug=slug, error=str(exc)), 303)
    return redirect(url_for("similarity.pairs", slug=slug), 303)


@blueprint.get("/pairs/<int:pair_id>")
@auth.instructor_only
def pair(slug: str, pair_id: int):
    ex = _exercise(slug)
    store = g.portal.store
    found = store.similarity_pair(slug, pair_id)
    if found is None:
        abort(404)
    run = store.similarity_run(slug, found.run_id)
    a, b = pair_view(run, found)
    return render_template(
        "similarity_pair.html",
        ex=ex,
        run=run,
        pair=found,
        a=a,
        b=b,
        threshold=request.args.get("threshold", ""),
    )
