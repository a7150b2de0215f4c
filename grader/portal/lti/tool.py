"""The tool's side of LTI 1.3 that is not a web page: its key pair, the registered
platforms (a `pylti1p3` tool configuration read from the store), and the launch state
storage (nonces, launch data, hand-offs) in the store, so several portal processes share it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from pylti1p3.deployment import Deployment
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from grader.errors import GraderError
from grader.portal.lti.models import LtiKey, LtiPlatform, LtiState
from grader.store import Store
from grader.store.models import utcnow

KEY_BITS = 2048


class LtiError(GraderError):
    """A registration problem, explained."""


# ------------------------------------------------------------------ the tool's key pair


@dataclass(frozen=True)
class ToolKey:
    kid: str
    private_pem: str
    public_pem: str

    def jwk(self) -> dict:
        jwk = dict(Registration.get_jwk(self.public_pem))
        jwk["kid"] = self.kid
        return jwk


def tool_key(store: Store) -> ToolKey:
    """The tool's RSA key pair, generated and stored the first time (the oldest if several
    processes raced to make one)."""
    with store._read() as s:
        row = s.scalar(select(LtiKey).order_by(LtiKey.created_at, LtiKey.kid).limit(1))
    if row is None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        kid = hashlib.sha256(public.encode()).hexdigest()[:32]
        try:
            with store._tx() as s:
                if s.scalar(select(LtiKey.kid).limit(1)) is None:
                    s.add(LtiKey(kid=kid, private_pem=private, public_pem=public))
                    store._audit(s, "lti-key-created", detail=f"kid {kid}")
        except IntegrityError:
            pass
        with store._read() as s:
            row = s.scalars(select(LtiKey).order_by(LtiKey.created_at, LtiKey.kid).limit(1)).one()
    return ToolKey(row.kid, row.private_pem, row.public_pem)


def jwks(store: Store) -> dict:
    return {"keys": [tool_key(store).jwk()]}


# ------------------------------------------------------------------ registered platforms


def _url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise LtiError(f"{what} must be an http(s) URL, not {value!r}.")
    return value


def register(
    store: Store,
    issuer: str,
    client_id: str,
    deployment_id: str,
    auth_login_url: str,
    auth_token_url: str,
    keyset_url: str,
    auth_audience: str = "",
) -> tuple[LtiPlatform, bool]:
    """Register a platform (or add a deployment to / update the URLs of one already
    registered for this issuer and client id); (the platform, created)."""
    for value, what in (
        (issuer, "--issuer"),
        (client_id, "--client-id"),
        (deployment_id, "--deployment-id"),
    ):
        if not value.strip() or len(value) > 500:
            raise LtiError(f"{what} must be given (at most 500 characters).")
    _url(issuer, "--issuer")
    urls = {
        "auth_login_url": _url(auth_login_url, "--auth-login-url"),
        "auth_token_url": _url(auth_token_url, "--auth-token-url"),
        "keyset_url": _url(keyset_url, "--keyset-url"),
        "auth_audience": auth_audience,
    }
    with store._tx() as s:
        row = s.scalar(
            select(LtiPlatform).where(
                LtiPlatform.issuer == issuer, LtiPlatform.client_id == client_id
            )
        )
        created = row is None
        if row is None:
            row = LtiPlatform(issuer=issuer, client_id=client_id, deployment_ids=[])
            s.add(row)
        for key, value in urls.items():
            setattr(row, key, value)
        if deployment_id not in row.deployment_ids:
            row.deployment_ids = [*row.deployment_ids, deployment_id]
        s.flush()
        store._audit(
            s,
            "lti-platform-registered" if created else "lti-platform-updated",
            detail=f"{issuer} client {client_id} deployment {deployment_id}",
        )
    return row, created


def platforms(store: Store) -> list[LtiPlatform]:
    with store._read() as s:
        return list(s.scalars(select(LtiPlatform).order_by(LtiPlatform.id)))


def any_platform(store: Store) -> bool:
    with store._read() as s:
        return s.scalar(select(LtiPlatform.id).limit(1)) is not None


def registration(platform: LtiPlatform, key: ToolKey) -> Registration:
    """The `pylti1p3` registration of a platform, signing with the tool's key."""
    reg = _Registration(key.kid)
    reg.set_issuer(platform.issuer).set_client_id(platform.client_id).set_key_set_url(
        platform.keyset_url
    ).set_auth_token_url(platform.auth_token_url).set_auth_login_url(
        platform.auth_login_url
    ).set_tool_private_key(key.private_pem).set_tool_public_key(key.public_pem)
    if platform.auth_audience:
        reg.set_auth_audience(platform.auth_audience)
    return reg


class _Registration(Registration):
    """A registration that signs with the kid the JWKS publishes."""

    def __init__(self, kid: str):
        super().__init__()
        self._kid = kid

    def get_kid(self) -> str:
        return self._kid


class StoreToolConf(ToolConfAbstract):
    """`pylti1p3`'s tool configuration from the store's registered platforms (one issuer may
    have several client ids)."""

    def __init__(self, store: Store):
        super().__init__()
        self.store = store
        self.issuers_relation_types = {}

    def _find(self, iss: str, client_id: str | None) -> LtiPlatform | None:
        with self.store._read() as s:
            q = select(LtiPlatform).where(LtiPlatform.issuer == iss)
            rows = list(s.scalars(q.where(LtiPlatform.client_id == client_id) if client_id else q))
        return rows[0] if len(rows) == 1 else None  # no client id and several: ambiguous

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def platform(self, iss: str, client_id: str | None) -> LtiPlatform | None:
        return self._find(iss, client_id)

    def find_registration_by_issuer(self, iss, *args, **kwargs):
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(self, iss, client_id, *args, **kwargs):
        found = self._find(iss, client_id)
        return registration(found, tool_key(self.store)) if found else None

    def find_deployment(self, iss, deployment_id):
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss, deployment_id, client_id, *args, **kwargs):
        found = self._find(iss, client_id)
        if found is None or deployment_id not in found.deployment_ids:
            return None
        return Deployment().set_deployment_id(deployment_id)


# ------------------------------------------------------------------ launch state


class StoreLaunchStorage(LaunchDataStorage):
    """`pylti1p3` launch data kept in the store's `lti_states` with an expiry. A nonce is
    used up by the check that finds it, so a replayed id token is refused."""

    def __init__(self, store: Store):
        super().__init__()
        self.store = store

    def get_session_cookie_name(self):
        return None  # the OIDC state cookie already binds the browser

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str):
        return get_state(self.store, self._prepare_key(key))

    def set_value(self, key: str, value, exp: int | None = None) -> None:
        put_state(self.store, self._prepare_key(key), value, exp or 3600)

    def check_value(self, key: str) -> bool:
        key = self._prepare_key(key)
        if "-nonce-" in key:
            return take_state(self.store, key) is not None
        return get_state(self.store, key) is not None


def put_state(store: Store, key: str, value, seconds: float) -> None:
    json.dumps(value)  # only plain data
    with store._tx() as s:
        s.execute(delete(LtiState).where(LtiState.expires_at < utcnow()))
        s.merge(
            LtiState(
                key=key[:300], value=value, expires_at=utcnow() + dt.timedelta(seconds=seconds)
            )
        )


def get_state(store: Store, key: str):
    with store._read() as s:
        row = s.get(LtiState, key[:300])
        return row.value if row is not None and row.expires_at > utcnow() else None


def take_state(store: Store, key: str):
    """The value of `key` if it is there and fresh, removed (only one taker gets it)."""
    with store._tx() as s:
        row = s.get(LtiState, key[:300], with_for_update=True)
        if row is None:
            return None
        value, fresh = row.value, row.expires_at > utcnow()
        s.delete(row)
    return value if fresh else None
