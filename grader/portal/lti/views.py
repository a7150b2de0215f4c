"""The LTI 1.3 routes (Flask blueprint `lti`, under /lti):

- `/lti/login` (GET or POST): OIDC login initiation; redirects to the platform's
  authorisation endpoint with a state cookie and a nonce kept in the store.
- `/lti/launch` (POST): the id token checked (`pylti1p3`: state, the platform's signature
  from its key set, nonce used once, deployment, message), the account tied or made, a
  portal session opened; resource links land on a page naming who was signed in and
  opening the exercise, deep-linking requests (instructors) on the exercise picker.
- `/lti/enter/<token>`: a one-time sign-in hand-off from that landing page, for LMSs that
  show the tool in a frame (the portal's session cookie is first-party only there).
- `/lti/deep-link` (POST): the picked exercise back to the platform as a signed
  LtiDeepLinkingResponse (with a line item of the exercise's points).
- `/lti/jwks.json`: the tool's public key set; `/lti/scores`: the instructor's view of the
  grade passback (waiting, refused, delivered).

Every launch failure (unknown issuer or client, bad signature, expired or replayed nonce,
unknown deployment, a missing claim) is a page saying what happened and what to do, with
status 400/403, and an audit row; never a 500.
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlsplit

import jwt
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from pylti1p3.contrib.flask import FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.lineitem import LineItem

from grader.portal import auth
from grader.portal.lti import passback
from grader.portal.lti.tool import (
    StoreLaunchStorage,
    StoreToolConf,
    get_state,
    put_state,
    registration,
    take_state,
    tool_key,
)
from grader.portal.lti.users import NoAccess, account_for

blueprint = Blueprint("lti", __name__, url_prefix="/lti")

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
HANDOFF_SECONDS = 300  # a landing page's sign-in link works this long, once
LAUNCH_SECONDS = 3600  # a deep-linking launch may pick an exercise this long
NONCE_SECONDS = 600  # an OIDC login must come back as a launch within this


class LaunchRefused(Exception):
    """A launch refused, with its title and what to do."""

    def __init__(self, title: str, message: str, code: int = 400):
        super().__init__(message)
        self.title, self.message, self.code = title, message, code


def _store():
    return g.portal.store


def _request(data: dict | None = None) -> FlaskRequest:
    return FlaskRequest(session={}, request_data=data)


def _refused(exc: LaunchRefused):
    _store().audit("lti-launch-refused", detail=f"{exc.title}: {exc.message}"[:1000])
    return render_template(
        "lti_error.html", code=exc.code, title=exc.title, message=exc.message
    ), exc.code


REGISTER_HINT = (
    "A course administrator registers it with `grader lti register` "
    "(docs/lti.md), then the launch works."
)


class _Launch(FlaskMessageLaunch):
    """pylti1p3's launch, checked in an order that spends the nonce only on a token whose
    signature holds, each failure named."""

    def validate(self):
        if self._restored:
            raise LtiException("Can't validate restored launch")
        self._validated = True
        self._jwt_verify_options = {"verify_aud": False, "require": ["exp", "iat"]}
        try:
            self._step(
                self.validate_state,
                "This launch did not start here",
                "The sign-in from your LMS lost its way (its state does not match this "
                "browser: cookies blocked, or the page reloaded). Open the activity again "
                "from your course in the LMS.",
            )
            self._step(
                self.validate_jwt_format,
                "The launch is malformed",
                "The LMS sent an id token that is not a JWT.",
            )
            iss = self._jwt.get("body", {}).get("iss", "")
            aud = self._jwt.get("body", {}).get("aud", "")
            self._step(
                self.validate_registration,
                "Unknown LMS",
                f"This portal has no LMS registered with issuer {str(iss)[:200]!r} and "
                f"client id {str(aud)[:200]!r}. " + REGISTER_HINT,
                403,
            )
            self._step(
                self.validate_jwt_signature,
                "The launch's signature is not valid",
                "The id token is not signed by a key of the registered LMS's key set, or "
                "it has expired. Nothing was signed in. If this keeps happening, ask the "
                "course administrator to check the key set URL (`grader lti list`).",
                403,
            )
            self._step(
                self.validate_nonce,
                "This launch was already used or has expired",
                "Each launch signs in once, within "
                f"{NONCE_SECONDS // 60} minutes. Open the activity again from your course "
                "in the LMS.",
                403,
            )
            dep = self._jwt.get("body", {}).get(CLAIM + "deployment_id", "")
            self._step(
                self.validate_deployment,
                "Unknown deployment",
                f"The LMS is registered, but not its deployment {str(dep)[:200]!r}. "
                "A course administrator adds it with `grader lti register ... "
                "--deployment-id` (docs/lti.md).",
                403,
            )
            self._step(
                self.validate_message,
                "The launch is incomplete",
                "The LMS's launch message lacks what LTI 1.3 requires",
            )
            self.save_launch_data()
        except Exception:
            self._validated = False
            raise
        return self

    @staticmethod
    def _step(check, title: str, message: str, code: int = 400) -> None:
        try:
            check()
        except (LtiException, jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise LaunchRefused(
                title, message if "lacks" not in message else f"{message}: {str(exc)[:200]}.", code
            ) from exc


def _launch_url() -> str:
    return url_for("lti.launch", _external=True)


@blueprint.route("/login", methods=["GET", "POST"])
@auth.csrf.exempt
def login():
    conf = StoreToolConf(_store())
    params = request.values
    iss, client_id = params.get("iss", ""), params.get("client_id") or None
    if not iss or not params.get("login_hint"):
        return _refused(
            LaunchRefused(
                "Not an LTI login",
                "This address is for LMS launches "
                "(OIDC login initiation): open the activity from your "
                "course in the LMS.",
            )
        )
    if conf.platform(iss, client_id) is None:
        return _refused(
            LaunchRefused(
                "Unknown LMS",
                f"This portal has no LMS registered with issuer {iss[:200]!r}"
                + (f" and client id {client_id[:200]!r}" if client_id else "")
                + ". "
                + REGISTER_HINT,
                403,
            )
        )
    oidc = FlaskOIDCLogin(_request(), conf)
    oidc.set_launch_data_storage(StoreLaunchStorage(_store()))
    oidc.set_launch_data_lifetime(NONCE_SECONDS)
    target = params.get("target_link_uri", "")
    if target and urlsplit(target).netloc != urlsplit(request.host_url).netloc:
        return _refused(
            LaunchRefused(
                "Wrong target",
                f"The LMS asked to launch {target[:200]!r}, "
                "which is not this portal. Check the tool's URLs in the "
                "LMS (`grader lti show-tool`).",
            )
        )
    try:
        return oidc.redirect(_launch_url())
    except (OIDCException, LtiException) as exc:
        return _refused(LaunchRefused("The LMS login could not start", str(exc)[:300]))


@blueprint.post("/launch")
@auth.csrf.exempt
def launch():
    store = _store()
    conf = StoreToolConf(store)
    storage = StoreLaunchStorage(store)
    try:
        msg = _Launch(
            _request(), conf, launch_data_storage=storage, requests_session=passback.timed_session()
        )
        msg.set_launch_data_lifetime(LAUNCH_SECONDS)
        msg.validate()
        claims = dict(msg.get_launch_data())
        platform = conf.platform(claims["iss"], msg.get_client_id())
        account, new = account_for(store, platform.issuer, claims)
    except LaunchRefused as exc:
        return _refused(exc)
    except NoAccess as exc:
        return _refused(LaunchRefused("No access", str(exc), 403))
    deep = claims.get(CLAIM + "message_type") == "LtiDeepLinkingRequest"
    ex = None
    if not deep:
        ex = _exercise_of(claims)
        endpoint = claims.get(AGS_CLAIM)
        if ex is not None and account.role == "student" and isinstance(endpoint, dict):
            passback.remember_link(
                store, platform.id, account.login, ex.slug, claims["sub"], endpoint
            )
    elif account.role != "instructor":
        return _refused(
            LaunchRefused(
                "For instructors", "Only an instructor picks the exercise of an activity.", 403
            )
        )
    handoff = secrets.token_urlsafe(32)
    target = (
        url_for("student.exercise", slug=ex.slug)
        if ex is not None
        else url_for("instructor.overview")
        if account.role == "instructor"
        else url_for("student.home")
    )
    put_state(
        store,
        "handoff-" + _digest(handoff),
        {"account": account.id, "next": target},
        HANDOFF_SECONDS,
    )
    context = (
        claims.get(CLAIM + "context") if isinstance(claims.get(CLAIM + "context"), dict) else {}
    )
    resp = current_app.make_response("")
    auth.sign_in(resp, account)  # the page below shows who is signed in
    resp.set_data(
        render_template(
            "lti_deep_link_pick.html" if deep else "lti_landing.html",
            account=account,
            new=new,
            ex=ex,
            platform=platform,
            lms=_lms_name(claims, platform),
            course=str(context.get("title") or "")[:200],
            handoff=url_for("lti.enter", token=handoff),
            launch_id=msg.get_launch_id(),
            framed=request.headers.get("Sec-Fetch-Dest") == "iframe",
            exercises=list(g.portal.course.exercises.values()),
            passback=isinstance(claims.get(AGS_CLAIM), dict),
        )
    )
    _frameable_by(resp, platform.auth_login_url)
    return resp


def _exercise_of(claims: dict):
    """The exercise a resource link names: its custom parameter `exercise` (set by deep
    linking), else `?exercise=` in its target link URI."""
    exercises = g.portal.course.exercises
    custom = claims.get(CLAIM + "custom")
    slug = custom.get("exercise") if isinstance(custom, dict) else None
    if not slug:
        from urllib.parse import parse_qs

        target = claims.get(CLAIM + "target_link_uri") or ""
        slug = next(iter(parse_qs(urlsplit(str(target)).query).get("exercise") or []), None)
    return exercises.get(slug) if isinstance(slug, str) else None


def _lms_name(claims: dict, platform) -> str:
    tp = claims.get(CLAIM + "tool_platform")
    name = tp.get("name") if isinstance(tp, dict) else None
    return str(name)[:100] if name else urlsplit(platform.issuer).netloc


def _frameable_by(resp, url: str) -> None:
    """This page may be shown in a frame of the LMS (its own CSP; the app adds no other)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"form-action 'self' {origin}; frame-ancestors 'self' {origin}; base-uri 'none'"
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@blueprint.get("/enter/<token>")
def enter(token: str):
    found = take_state(_store(), "handoff-" + _digest(token)) if len(token) < 100 else None
    if not isinstance(found, dict):
        return render_template(
            "lti_error.html",
            title="This link was used or has expired",
            message="A sign-in link from the LMS works once, for "
            f"{HANDOFF_SECONDS // 60} minutes. Open the activity again from "
            "your course in the LMS.",
        ), 403
    from grader.portal.models import Account

    with _store()._read() as s:
        account = s.get(Account, found["account"])
    resp = redirect(found["next"] if str(found.get("next", "")).startswith("/") else "/")
    auth.sign_in(resp, account)
    return resp


@blueprint.post("/deep-link")
@auth.csrf.exempt
def deep_link():
    """The exercise an instructor picked, signed back to the LMS. The launch id (a random
    key of the launch's data, kept an hour) is the capability: it names an instructor's
    deep-linking launch."""
    store = _store()
    launch_id = request.form.get("launch_id", "")
    claims = (
        get_state(store, launch_id)
        if launch_id.startswith("lti1p3-launch-") and len(launch_id) < 100
        else None
    )
    ex = g.portal.course.exercises.get(request.form.get("exercise", ""))
    if not isinstance(claims, dict) or ex is None:
        return render_template(
            "lti_error.html",
            title="This choice has expired",
            message="Open the tool again from the LMS to pick an exercise.",
        ), 400
    conf = StoreToolConf(store)
    platform = conf.platform(claims.get("iss", ""), _aud(claims))
    settings = claims.get(DL_CLAIM)
    try:
        if platform is None or not isinstance(settings, dict):
            raise KeyError("deep linking settings")
        if account_for(store, platform.issuer, claims)[0].role != "instructor":
            abort(403, "Only an instructor picks the exercise of an activity.")
        take_state(store, launch_id)  # one answer per launch
        resource = (
            DeepLinkResource()
            .set_url(_launch_url())
            .set_title(ex.title)
            .set_custom_params({"exercise": ex.slug})
            .set_lineitem(
                LineItem()
                .set_score_maximum(float(ex.points))
                .set_label(ex.title)
                .set_resource_id(ex.slug)
                .set_tag("pgrader")
            )
        )
        link = DeepLink(
            registration(platform, tool_key(store)), claims[CLAIM + "deployment_id"], settings
        )
        token = link.get_response_jwt([resource])
    except (KeyError, NoAccess) as exc:
        return render_template(
            "lti_error.html",
            title="This choice cannot be returned",
            message=f"The LMS's deep-linking launch is incomplete ({exc}).",
        ), 400
    store.audit("lti-deep-link", ex.slug, detail=f"to {platform.issuer}")
    resp = current_app.make_response(
        render_template(
            "lti_deep_link_return.html", ex=ex, action=settings["deep_link_return_url"], jwt=token
        )
    )
    _frameable_by(resp, settings["deep_link_return_url"])
    return resp


def _aud(claims: dict) -> str | None:
    aud = claims.get("aud")
    return aud[0] if isinstance(aud, list) and aud else aud if isinstance(aud, str) else None


@blueprint.get("/jwks.json")
def jwks():
    from grader.portal.lti.tool import jwks as key_set

    return jsonify(key_set(_store()))


@blueprint.get("/scores")
@auth.instructor_only
def scores():
    store = _store()
    return render_template(
        "lti_scores.html", waiting=passback.waiting(store), delivered=passback.recent(store)
    )
