"""Portal accounts: roster import, scrypt password hashes, sign-in sessions.

Logins are the student names the store records submissions under, so they are restricted
to letters, digits, `.`, `_` and `-`. Passwords are hashed with scrypt (werkzeug.security, a
fresh salt each; older hashes are rehashed at their owner's next sign-in); a session cookie
carries a random token of which only the sha256 is stored.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from grader.errors import GraderError
from grader.portal.models import Account, WebSession
from grader.store import Store
from grader.store.models import utcnow

LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ROLES = ("student", "instructor")
LEGACY = "scrypt$"  # hashes written by pgrader before werkzeug's (hashlib scrypt, n=2**14)
MIN_PASSWORD = 8


class AccountError(GraderError):
    """A roster or account problem, explained."""


def hash_password(password: str) -> str:
    """werkzeug's scrypt (n=2**15, r=8, p=1, a fresh salt each): "scrypt:32768:8:1$salt$hex"."""
    return generate_password_hash(password, method="scrypt")


def check_password(password: str, stored: str) -> bool:
    """Does `password` match `stored`: a werkzeug hash, or the portal's own scrypt format of
    before (`"scrypt$n$r$p$salthex$digesthex"`, rehashed at the next sign-in)?"""
    if stored.startswith(LEGACY):
        return _check_legacy(password, stored)
    try:
        return check_password_hash(stored, password)
    except (ValueError, TypeError):
        return False


def _check_legacy(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


_DUMMY = hash_password(secrets.token_hex(8))  # checked for unknown logins: same timing


@dataclass
class Imported:
    created: int
    updated: int
    generated: dict[str, str]  # login -> generated password


def _valid_login(login: str, where: str) -> str:
    if not LOGIN.fullmatch(login):
        raise AccountError(
            f"{where}: login {login!r} must be 1-64 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit."
        )
    return login


def _valid_password(password: str, where: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"{where}: a password needs at least {MIN_PASSWORD} characters.")
    return password


def read_roster(path: Path) -> list[dict]:
    """Rows of a roster CSV (student, name, email; optional role, password, sis_id, section),
    checked."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = {"student", "name", "email"} - set(reader.fieldnames or [])
            if missing:
                raise AccountError(
                    f"{path}: the roster needs the columns student, name, email "
                    f"(missing: {', '.join(sorted(missing))})."
                )
            rows = []
            for i, row in enumerate(reader, 2):
                where = f"{path} line {i}"
                login = _valid_login((row.get("student") or "").strip(), where)
                role = (row.get("role") or "").strip() or "student"
                if role not in ROLES:
                    raise AccountError(
                        f"{where}: role must be student or instructor, not {role!r}."
                    )
                password = (row.get("password") or "").strip()
                rows.append(
                    {
                        "login": login,
                        "name": (row.get("name") or "").strip(),
                        "email": (row.get("email") or "").strip(),
                        "role": role,
                        "password": _valid_password(password, where) if password else "",
                        "sis_id": (row.get("sis_id") or "").strip()[:100],
                        "section": (row.get("section") or "").strip()[:100],
                    }
                )
    except FileNotFoundError:
        raise AccountError(f"No roster at {path}.") from None
    except UnicodeDecodeError:
        raise AccountError(f"{path}: the roster must be UTF-8 text.") from None
    logins = [r["login"] for r in rows]
    if dupes := sorted({n for n in logins if logins.count(n) > 1}):
        raise AccountError(f"{path}: each student once, but listed twice: {', '.join(dupes)}.")
    return rows


def import_roster(store: Store, rows: list[dict], generate: bool = True) -> Imported:
    """Create or update accounts; a new account without a password gets a generated one.

    With `generate` False such an account is an error and nothing is written.
    """
    out = Imported(0, 0, {})
    with store._tx() as s:
        for row in rows:
            acc = s.scalar(select(Account).where(Account.login == row["login"]))
            if acc is None:
                acc = Account(login=row["login"])
                s.add(acc)
                out.created += 1
            else:
                out.updated += 1
            acc.name, acc.email, acc.role = row["name"], row["email"], row["role"]
            acc.sis_id, acc.section = row.get("sis_id", ""), row.get("section", "")
            password = row["password"]
            if not password and not acc.password_hash:
                if not generate:
                    raise AccountError(
                        f"{row['login']} has no password in the roster: give "
                        "--passwords-out FILE to generate one (nothing imported)."
                    )
                password = out.generated[row["login"]] = secrets.token_urlsafe(12)
            if password:
                acc.password_hash = hash_password(password)
                if acc.id:
                    s.execute(delete(WebSession).where(WebSession.account_id == acc.id))
        store._audit(s, "accounts-imported", detail=f"{out.created} new, {out.updated} updated")
    return out


def set_password(store: Store, login: str, password: str) -> None:
    """A new password for `login`; signs out all its browsers."""
    _valid_password(password, "set-password")
    with store._tx() as s:
        acc = s.scalar(select(Account).where(Account.login == login))
        if acc is None:
            raise AccountError(f"No account {login!r}: import it with `grader accounts import`.")
        acc.password_hash = hash_password(password)
        s.execute(delete(WebSession).where(WebSession.account_id == acc.id))
        store._audit(s, "password-set", student=login)


def change_password(
    store: Store, account: Account, current: str, new: str, repeat: str, keep_token: str
) -> None:
    """A student's own password change: the current one must be right; every other browser of
    the account is signed out (this one stays); audited."""
    if new != repeat:
        raise AccountError("The two new passwords differ: type the same one twice.")
    if len(new) < MIN_PASSWORD:
        raise AccountError(f"A password needs at least {MIN_PASSWORD} characters.")
    with store._tx() as s:
        acc = s.get(Account, account.id)
        if acc is None or not check_password(current, acc.password_hash):
            raise AccountError("Your current password is not right; nothing was changed.")
        acc.password_hash = hash_password(new)
        s.execute(
            delete(WebSession).where(
                WebSession.account_id == acc.id, WebSession.token_hash != _digest(keep_token)
            )
        )
        store._audit(s, "password-changed", student=acc.login, detail="by its owner in the portal")


def any_account(store: Store) -> bool:
    with store._read() as s:
        return s.scalar(select(Account.id).limit(1)) is not None


FAILED_SIGN_IN = "sign-in-failed"


def authenticate(store: Store, login: str, password: str) -> Account | None:
    with store._tx() as s:
        acc = (
            s.scalar(select(Account).where(Account.login == login))
            if LOGIN.fullmatch(login)
            else None
        )
    ok = check_password(password, acc.password_hash if acc and acc.password_hash else _DUMMY)
    if ok and acc is not None and acc.password_hash:
        if acc.password_hash.startswith(LEGACY):
            _rehash(store, acc, password)
        return acc
    store.audit(FAILED_SIGN_IN, student=login.lower()[:64])
    return None


def _rehash(store: Store, account: Account, password: str) -> None:
    """An old-format hash replaced by werkzeug's, now that the password is known."""
    with store._tx() as s:
        acc = s.get(Account, account.id)
        if acc is not None and acc.password_hash == account.password_hash:
            acc.password_hash = account.password_hash = hash_password(password)
            store._audit(s, "password-rehashed", student=acc.login, detail="werkzeug scrypt")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(store: Store, account: Account, hours: float) -> str:
    """A new session: its cookie token."""
    token = secrets.token_urlsafe(32)
    with store._tx() as s:
        s.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
        s.add(
            WebSession(
                token_hash=_digest(token),
                account_id=account.id,
                expires_at=utcnow() + dt.timedelta(hours=hours),
            )
        )
        store._audit(s, "signed-in", student=account.login)
    return token


def session_of(store: Store, token: str) -> Account | None:
    """The account of a live session, or None."""
    if not token or len(token) > 100:
        return None
    with store._tx() as s:
        ws = s.get(WebSession, _digest(token))
        if ws is None or ws.expires_at < utcnow():
            return None
        return s.get(Account, ws.account_id)


def close_session(store: Store, token: str) -> None:
    with store._tx() as s:
        s.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))


def accounts(store: Store, role: str | None = None) -> list[Account]:
    with store._tx() as s:
        q = select(Account).order_by(Account.login)
        return list(s.scalars(q.where(Account.role == role) if role else q))


def check_not_committed(path: Path) -> None:
    """Refuse a secrets file git would commit: inside a work tree and not ignored."""
    import subprocess

    folder = path.resolve().parent
    while not folder.exists():
        folder = folder.parent
    try:
        inside = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return
        ignored = subprocess.run(
            ["git", "-C", str(folder), "check-ignore", "-q", str(path.resolve())],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return  # no git here: nothing can commit it
    if ignored.returncode != 0:
        raise AccountError(
            f"{path} is inside a git repository and not ignored, so the passwords "
            "could be committed: write them outside the repository, or to a "
            "git-ignored folder such as private/ (nothing imported)."
        )


def write_passwords(path: Path, generated: dict[str, str]) -> None:
    """student,password lines in a file only its owner can read (its folder made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "password"])
        w.writerows(sorted(generated.items()))
