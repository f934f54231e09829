"""A relying party built on Python Authlib as Flask and Django apps use it:
a confidential client with state and nonce, and PKCE only when asked for
(Authlib's `code_challenge_method`, off by default). It is driven through
Latchkey's sign-in and consent pages by a scripted browser and prints one
JSON line describing what it saw; any failure exits non-zero.

Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
POST_LOGOUT_REDIRECT_URI, USERNAME, PASSWORD, and optionally
CODE_CHALLENGE_METHOD (S256).
"""

import html
import json
import os
import re
import sys
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set")
    return value


ISSUER = env("ISSUER")
REDIRECT_URI = env("REDIRECT_URI")
browser = requests.Session()


def absolute(location):
    return urljoin(ISSUER + "/", location)


def redirect(resp, what):
    if not 300 <= resp.status_code < 400:
        raise SystemExit(f"{what}: expected a redirect, got {resp.status_code}: {resp.text[:300]}")
    return absolute(resp.headers["Location"])


def hidden(page, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    if not m:
        raise SystemExit(f"no hidden input {name} in page")
    return html.unescape(m.group(1))


def sign_in(auth_url):
    """Signs in (and consents) until the browser goes back to the client."""
    nxt = redirect(browser.get(auth_url, allow_redirects=False), "authorize")
    for _ in range(4):
        if nxt.startswith(REDIRECT_URI):
            return nxt
        page = browser.get(nxt, allow_redirects=False).text
        path = urlparse(nxt).path
        if path == "/login":
            form = {"req": hidden(page, "req"), "csrf": hidden(page, "csrf"),
                    "username": env("USERNAME"), "password": env("PASSWORD")}
            nxt = redirect(browser.post(absolute("/login"), data=form, allow_redirects=False), "login")
        elif path == "/consent":
            form = {"req": hidden(page, "req"), "csrf": hidden(page, "csrf"), "decision": "approve"}
            nxt = redirect(browser.post(absolute("/consent"), data=form, allow_redirects=False), "consent")
        else:
            raise SystemExit(f"unexpected page {nxt}")
    raise SystemExit(f"never returned to the client: {nxt}")


meta = requests.get(ISSUER + "/.well-known/openid-configuration").json()
client_id = env("CLIENT_ID")
method = os.environ.get("CODE_CHALLENGE_METHOD") or None
rp = OAuth2Session(client_id, env("CLIENT_SECRET"), code_challenge_method=method,
                   scope="openid profile email offline_access", redirect_uri=REDIRECT_URI)


def pkce():
    """The code_verifier argument Authlib takes when PKCE is on."""
    return {"code_verifier": generate_token(48)} if method else {}


nonce = generate_token(20)
verifier = pkce()
auth_url, state = rp.create_authorization_url(meta["authorization_endpoint"], nonce=nonce, **verifier)
if ("code_challenge" in auth_url) != bool(method):
    raise SystemExit(f"PKCE was expected {'on' if method else 'off'}: {auth_url}")

callback = sign_in(auth_url)
answer = parse_qs(urlparse(callback).query)
if "code" not in answer:
    raise SystemExit(f"the authorization request was refused: {answer}")
token = rp.fetch_token(meta["token_endpoint"], authorization_response=callback, **verifier)

keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())
claims = jwt.decode(
    token["id_token"], keys, claims_cls=CodeIDToken,
    claims_options={"iss": {"essential": True, "value": meta["issuer"]}},
    claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
)
claims.validate(leeway=5)

userinfo = rp.get(meta["userinfo_endpoint"]).json()
old_refresh = token["refresh_token"]
refreshed = rp.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
if not refreshed.get("access_token") or refreshed.get("refresh_token") == old_refresh:
    raise SystemExit("refresh did not rotate")

logout_state = generate_token(16)
end = meta["end_session_endpoint"] + "?" + urlencode({
    "id_token_hint": token["id_token"],
    "post_logout_redirect_uri": env("POST_LOGOUT_REDIRECT_URI"),
    "state": logout_state,
})
back = redirect(browser.get(end, allow_redirects=False), "logout")
if not back.startswith(env("POST_LOGOUT_REDIRECT_URI")) or parse_qs(urlparse(back).query).get("state") != [logout_state]:
    raise SystemExit(f"logout came back to {back}")

silent, _ = rp.create_authorization_url(meta["authorization_endpoint"], nonce=generate_token(20),
                                        prompt="none", **pkce())
after = redirect(browser.get(silent, allow_redirects=False), "prompt=none")

print(json.dumps({
    "library": "authlib",
    "sub": claims["sub"],
    "iss": claims["iss"],
    "userinfo_sub": userinfo.get("sub"),
    "userinfo_email": userinfo.get("email"),
    "pkce": method,
    "refreshed": True,
    "logged_out": True,
    "after_logout": parse_qs(urlparse(after).query).get("error", [None])[0],
}))
