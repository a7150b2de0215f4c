"""`grader lti register | list | show-tool`: a course's LMS registrations, from the command line."""

from __future__ import annotations

import json

from grader.portal.lti import tool


def tool_urls(base: str) -> dict[str, str]:
    base = base.rstrip("/")
    return {
        "OIDC login initiation URL": f"{base}/lti/login",
        "Launch (redirect) URL": f"{base}/lti/launch",
        "Deep linking URL": f"{base}/lti/launch",
        "Public JWK set URL": f"{base}/lti/jwks.json",
    }


def run(args, store) -> int:
    if args.action == "register":
        platform, created = tool.register(
            store,
            args.issuer,
            args.client_id,
            args.deployment_id,
            args.auth_login_url,
            args.auth_token_url,
            args.keyset_url,
            args.auth_audience or "",
        )
        print(
            f"{'registered' if created else 'updated'}: {platform.issuer} client "
            f"{platform.client_id}, deployments {', '.join(platform.deployment_ids)}"
        )
    elif args.action == "list":
        rows = tool.platforms(store)
        if not rows:
            print("no LMS registered: grader lti register --issuer ... (docs/lti.md)")
        for p in rows:
            print(
                f"{p.issuer}\n  client id      {p.client_id}\n"
                f"  deployments    {', '.join(p.deployment_ids)}\n"
                f"  login URL      {p.auth_login_url}\n  token URL      {p.auth_token_url}\n"
                f"  key set URL    {p.keyset_url}"
                + (f"\n  token audience {p.auth_audience}" if p.auth_audience else "")
            )
    else:
        for what, url in tool_urls(args.url).items():
            print(f"{what + ':':28} {url}")
        print("Public key set (JWKS), to paste where the LMS asks for a public key:")
        print(json.dumps(tool.jwks(store), indent=2))
    return 0
