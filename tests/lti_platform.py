"""A real LTI 1.3 platform (an LMS's side) for the tests, served over HTTP on loopback.

It does what Canvas or Moodle do for a tool, with PyJWT and `cryptography`: starts a launch
(third-party initiated login to the tool's login URL), answers the OIDC authorisation
request with an RS256 id token (its JWKS published at /jwks), checks the tool's deep-linking
response against the tool's own key set, runs an OAuth2 token endpoint (client credentials
with a JWT bearer assertion, checked against the tool's key set) and a line item's score
endpoint (bearer token, score media type, timestamps), keeping every score it accepts.

Knobs for failure paths: `refuse_scores` (answer HTTP 500 to that many score posts),
`sign_with_other_key` (a forged id token: right kid, wrong key), `expired` (an id token
whose exp has passed), and per launch the issuer, deployment id and roles.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import threading
import time
import uuid
from urllib.parse import urlencode

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, abort, jsonify, redirect, request
from werkzeug.serving import make_server

from browser import free_port

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
ROLES = {
    "Learner": "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
    "Instructor": "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "TeachingAssistant": "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    "Mentor": "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor",
}
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"


def _b64(n: int) -> str:
    return (
        base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    )


def _key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key, pem


class Platform:
    def __init__(
        self,
        tool_url: str = "",
        client_id: str = "pgrader-client",
        deployment_id: str = "deployment-1",
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = self.url  # an LMS's issuer is its own address
        self.tool_url = tool_url  # the portal's address (set once it runs)
        self.client_id, self.deployment_id = client_id, deployment_id
        self.kid = "platform-key-1"
        self.key, self.pem = _key()
        self.other_key, self.other_pem = _key()
        self.launches: dict[str, dict] = {}  # lti_message_hint -> what to launch
        self.tokens: dict[str, set] = {}  # access token -> scopes
        self.used_jti: set[str] = set()
        self.scores: dict[str, list[dict]] = {}  # line item id -> scores accepted, in order
        self.score_posts: list[tuple[int, dict]] = []  # (HTTP status answered, body) of every post
        self.deep_links: list[dict] = []  # content items returned by the tool
        self.refuse_scores = 0
        self.sign_with_other_key = False
        self.expired = False
        self.lock = threading.Lock()
        self.app = self._make_app()
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()

    # ------------------------------------------------------------ what a test calls

    @property
    def urls(self) -> dict[str, str]:
        return {
            "--issuer": self.issuer,
            "--client-id": self.client_id,
            "--deployment-id": self.deployment_id,
            "--auth-login-url": self.url + "/auth",
            "--auth-token-url": self.url + "/token",
            "--keyset-url": self.url + "/jwks",
        }

    def start_url(
        self,
        user: str,
        role: str = "Learner",
        *,
        exercise: str | None = None,
        deep_link: bool = False,
        issuer: str | None = None,
        deployment_id: str | None = None,
        lineitem: str = "1",
        **claims,
    ) -> str:
        """Where a browser goes to launch the tool as `user` (the LMS's link)."""
        hint = uuid.uuid4().hex
        self.launches[hint] = {
            "user": user,
            "role": role,
            "exercise": exercise,
            "deep_link": deep_link,
            "issuer": issuer or self.issuer,
            "deployment_id": deployment_id or self.deployment_id,
            "lineitem": lineitem,
            "claims": claims,
        }
        return f"{self.url}/start/{hint}"

    # ------------------------------------------------------------ the platform

    def _tool_keys(self) -> jwt.PyJWKSet:
        return jwt.PyJWKSet.from_dict(
            requests.get(self.tool_url + "/lti/jwks.json", timeout=30).json()
        )

    def _verify_tool_jwt(self, token: str, audience: str) -> dict:
        kid = jwt.get_unverified_header(token)["kid"]
        key = next(k for k in self._tool_keys().keys if k.key_id == kid)
        return jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=audience,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )

    def _make_app(self) -> Flask:
        app = Flask("lti-platform")

        @app.get("/jwks")
        def jwks():
            numbers = self.key.public_key().public_numbers()
            return jsonify(
                keys=[
                    {
                        "kty": "RSA",
                        "alg": "RS256",
                        "use": "sig",
                        "kid": self.kid,
                        "n": _b64(numbers.n),
                        "e": _b64(numbers.e),
                    }
                ]
            )

        @app.get("/start/<hint>")
        def start(hint):
            launch = self.launches[hint]
            return redirect(
                self.tool_url
                + "/lti/login?"
                + urlencode(
                    {
                        "iss": launch["issuer"],
                        "login_hint": launch["user"],
                        "target_link_uri": self.tool_url + "/lti/launch",
                        "lti_message_hint": hint,
                        "client_id": self.client_id,
                        "lti_deployment_id": launch["deployment_id"],
                    }
                )
            )

        @app.get("/auth")
        def auth():
            q = request.args
            launch = self.launches.get(q.get("lti_message_hint", ""))
            if (
                launch is None
                or q.get("client_id") != self.client_id
                or q.get("redirect_uri") != self.tool_url + "/lti/launch"
                or q.get("response_type") != "id_token"
                or q.get("scope") != "openid"
                or q.get("response_mode") != "form_post"
                or not q.get("nonce")
                or q.get("login_hint") != launch["user"]
            ):
                abort(400, "bad authorisation request")
            now = int(time.time()) - (3600 if self.expired else 0)
            claims = {
                "iss": launch["issuer"],
                "aud": self.client_id,
                "azp": self.client_id,
                "sub": launch["user"],
                "iat": now,
                "exp": now + 300,
                "nonce": q["nonce"],
                "name": launch["claims"].get("name", launch["user"].title()),
                "email": launch["claims"].get("email", f"{launch['user']}@lms.example.edu"),
                LTI + "version": "1.3.0",
                LTI + "deployment_id": launch["deployment_id"],
                LTI + "roles": [ROLES.get(launch["role"], launch["role"])],
                LTI + "context": {
                    "id": "course-42",
                    "label": "PP101",
                    "title": "Parallel Programming 101",
                },
                LTI + "tool_platform": {"guid": "test-lms", "name": "Test LMS"},
                LTI + "target_link_uri": self.tool_url + "/lti/launch",
            }
            if launch["deep_link"]:
                claims[LTI + "message_type"] = "LtiDeepLinkingRequest"
                claims[DL + "deep_linking_settings"] = {
                    "deep_link_return_url": self.url + "/deep-link-return",
                    "accept_types": ["ltiResourceLink"],
                    "accept_presentation_document_targets": ["iframe", "window"],
                    "data": "opaque-123",
                }
            else:
                claims[LTI + "message_type"] = "LtiResourceLinkRequest"
                claims[LTI + "resource_link"] = {"id": "link-" + (launch["exercise"] or "none")}
                if launch["exercise"]:
                    claims[LTI + "custom"] = {"exercise": launch["exercise"]}
                claims[AGS + "claim/endpoint"] = {
                    "scope": [
                        AGS + "scope/lineitem",
                        AGS + "scope/score",
                        AGS + "scope/result.readonly",
                    ],
                    "lineitems": self.url + "/lineitems",
                    "lineitem": f"{self.url}/lineitems/{launch['lineitem']}",
                }
            key = self.other_pem if self.sign_with_other_key else self.pem
            token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})
            return (
                f'<!DOCTYPE html><html><body><form id="launch" method="post" '
                f'action="{html.escape(q["redirect_uri"])}">'
                f'<input type="hidden" name="id_token" value="{token}">'
                f'<input type="hidden" name="state" value="{html.escape(q.get("state", ""))}">'
                '<button type="submit">Launch</button></form>'
                '<script>document.getElementById("launch").submit()</script></body></html>'
            )

        @app.post("/token")
        def token():
            f = request.form
            if (
                f.get("grant_type") != "client_credentials"
                or f.get("client_assertion_type")
                != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            ):
                return jsonify(error="unsupported_grant_type"), 400
            try:
                claims = self._verify_tool_jwt(f.get("client_assertion", ""), self.url + "/token")
            except (jwt.PyJWTError, StopIteration, KeyError) as exc:
                return jsonify(error="invalid_client", error_description=str(exc)), 401
            if (
                claims["iss"] != self.client_id
                or claims.get("sub") != self.client_id
                or not claims.get("jti")
                or claims["jti"] in self.used_jti
            ):
                return jsonify(error="invalid_client"), 401
            self.used_jti.add(claims["jti"])
            access = secrets.token_urlsafe(24)
            self.tokens[access] = set(f.get("scope", "").split())
            return jsonify(
                access_token=access, token_type="Bearer", expires_in=3600, scope=f.get("scope", "")
            )

        @app.post("/lineitems/<item>/scores")
        def scores(item):
            bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if AGS + "scope/score" not in self.tokens.get(bearer, set()):
                return jsonify(error="unauthorized"), 401
            if request.mimetype != SCORE_TYPE:
                return jsonify(error="wrong content type"), 415
            body = json.loads(request.get_data())
            with self.lock:
                if self.refuse_scores > 0:
                    self.refuse_scores -= 1
                    self.score_posts.append((500, body))
                    return "gradebook temporarily unavailable", 500
                self.score_posts.append((200, body))
                for field in (
                    "userId",
                    "scoreGiven",
                    "scoreMaximum",
                    "timestamp",
                    "activityProgress",
                    "gradingProgress",
                ):
                    if field not in body:
                        return jsonify(error=f"missing {field}"), 400
                self.scores.setdefault(item, []).append(body)
            return jsonify({}), 200

        @app.post("/deep-link-return")
        def deep_link_return():
            try:
                claims = self._verify_tool_jwt(request.form["JWT"], self.issuer)
            except (jwt.PyJWTError, StopIteration, KeyError) as exc:
                abort(400, f"bad deep linking response: {exc}")
            assert claims["iss"] == self.client_id
            assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
            assert claims[LTI + "deployment_id"] == self.deployment_id
            assert claims[DL + "data"] == "opaque-123"
            items = claims[DL + "content_items"]
            self.deep_links.extend(items)
            return f"<p id='linked'>linked: {html.escape(items[0]['title'])}</p>"

        return app

    def latest(self, item: str = "1") -> dict[str, dict]:
        """The newest score of each user on a line item (by timestamp, as an LMS keeps it)."""
        out: dict[str, dict] = {}
        for body in self.scores.get(item, []):
            if body["userId"] not in out or body["timestamp"] >= out[body["userId"]]["timestamp"]:
                out[body["userId"]] = body
        return out
