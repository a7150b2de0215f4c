"""Who an LTI launch signs in: LTI roles to portal roles, and the LMS user (issuer + `sub`)
to a portal account, made on the first launch.

An LMS user met for the first time is tied to a roster account when the launch names one
(the LIS person sourcedid equal to the roster's `sis_id`, else the same e-mail address);
otherwise a new account is made, with a login from the e-mail address or the name (letters,
digits, `.`, `_`, `-`; a number added when it is taken) and no password: it signs in only
through the LMS. Name, e-mail and role follow the LMS at every launch.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from grader.portal.lti.models import LtiUser
from grader.portal.models import Account
from grader.store import Store

ROLES_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/roles"
LIS_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/lis"
INSTRUCTOR_ROLES = {"Instructor", "TeachingAssistant", "Administrator", "ContentDeveloper"}
STUDENT_ROLES = {"Learner", "Student"}


class NoAccess(Exception):
    """The launch's roles give no access to the portal."""


def portal_role(roles: list) -> str:
    """`instructor` for Instructor, TeachingAssistant or Administrator (of the course, the
    institution or the system), `student` for Learner; NoAccess otherwise (e.g. Mentor)."""
    names: set[str] = set()
    for role in roles if isinstance(roles, list) else []:
        if isinstance(role, str):
            # http://purl.imsglobal.org/vocab/lis/v2/membership#Learner,
            # ...membership/Instructor#TeachingAssistant, or the short form "Learner"
            names.update(part for part in re.split(r"[#/]", role) if part)
    if names & INSTRUCTOR_ROLES:
        return "instructor"
    if names & STUDENT_ROLES:
        return "student"
    shown = ", ".join(r.rsplit("#", 1)[-1] for r in roles if isinstance(r, str)) or "none"
    raise NoAccess(
        f"Your role in this course ({shown[:200]}) has no access to the grader: "
        "it is for learners, instructors and teaching assistants."
    )


def _clean(text: object, limit: int = 200) -> str:
    return text.strip()[:limit] if isinstance(text, str) else ""


def _login_base(claims: dict) -> str:
    email = _clean(claims.get("email"))
    for raw in (
        email.split("@")[0] if "@" in email else "",
        f"{_clean(claims.get('given_name'))}.{_clean(claims.get('family_name'))}",
        _clean(claims.get("name")),
    ):
        login = re.sub(r"[^A-Za-z0-9._-]+", "", raw.replace(" ", ".")).strip("._-")[:56]
        if login:
            return login.lower()
    return "lms-user"


def account_for(store: Store, issuer: str, claims: dict) -> tuple[Account, bool]:
    """The account of the launch's user, tied or made on the first launch; (account, new)."""
    sub = _clean(claims.get("sub"), 255)
    role = portal_role(claims.get(ROLES_CLAIM) or [])
    name = _clean(claims.get("name")) or " ".join(
        x for x in (_clean(claims.get("given_name")), _clean(claims.get("family_name"))) if x
    )
    email = _clean(claims.get("email"))
    lis = claims.get(LIS_CLAIM)
    lis = lis if isinstance(lis, dict) else {}
    sis_id = _clean(lis.get("person_sourcedid"), 100)
    for _ in range(3):  # two first launches of one user at once: the loser finds the winner's
        try:
            with store._tx() as s:
                linked = s.scalar(
                    select(LtiUser).where(LtiUser.issuer == issuer, LtiUser.sub == sub)
                )
                acc = s.get(Account, linked.account_id) if linked else None
                new = acc is None
                how = ""
                if acc is None and sis_id:
                    acc, how = s.scalar(select(Account).where(Account.sis_id == sis_id)), "sis_id"
                if acc is None and email:
                    acc, how = (
                        s.scalar(select(Account).where(func.lower(Account.email) == email.lower())),
                        "e-mail",
                    )
                if (
                    acc is not None
                    and new
                    and s.scalar(
                        select(LtiUser.id).where(
                            LtiUser.account_id == acc.id, LtiUser.issuer == issuer
                        )
                    )
                ):
                    acc = None  # that roster account is already another LMS user of this issuer
                if acc is None:
                    base = _login_base(claims)
                    login, n = base, 1
                    while s.scalar(select(Account.id).where(Account.login == login)):
                        n += 1
                        login = f"{base}-{n}"
                    acc = Account(login=login, password_hash="", sis_id=sis_id)
                    s.add(acc)
                    how = "new account"
                acc.role = role
                acc.name = name or acc.name
                acc.email = email or acc.email
                s.flush()
                if new:
                    s.add(LtiUser(issuer=issuer, sub=sub, account_id=acc.id))
                    store._audit(
                        s,
                        "lti-account-linked",
                        student=acc.login,
                        detail=f"{issuer} user {sub} ({how}), role {role}",
                    )
                return acc, new
        except IntegrityError:
            continue
    raise RuntimeError("could not link the LMS user to an account")
