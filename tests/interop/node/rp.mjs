// A relying party built on node openid-client in its default configuration
// (authorization code flow with PKCE S256, state and nonce), driven through
// Latchkey's sign-in and consent pages by a scripted browser. Prints one
// JSON line describing what it saw; exits non-zero on any failure.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
// POST_LOGOUT_REDIRECT_URI, USERNAME, PASSWORD.
import * as client from 'openid-client';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const issuer = env('ISSUER');
const redirectUri = env('REDIRECT_URI');

// A browser: cookies by name, redirects followed by hand.
const jar = new Map();
async function browse(url, init = {}) {
  const headers = new Headers(init.headers || {});
  if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
  const resp = await fetch(url, { ...init, headers, redirect: 'manual' });
  for (const c of resp.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
  }
  return resp;
}
const absolute = (location) => new URL(location, issuer).href;
const decode = (s) =>
  s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCharCode(parseInt(n, 16)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
function hidden(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no hidden input ${name} in page`);
  return decode(m[1]);
}
async function post(path, fields) {
  return browse(absolute(path), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}
function expectRedirect(resp, what) {
  if (resp.status < 300 || resp.status > 399) throw new Error(`${what}: expected a redirect, got ${resp.status}`);
  return absolute(resp.headers.get('location'));
}

// Signs in (and consents) until the browser is sent back to the client.
async function signIn(authUrl) {
  let next = expectRedirect(await browse(authUrl), 'authorize');
  for (let step = 0; step < 4 && !next.startsWith(redirectUri); step++) {
    const page = await (await browse(next)).text();
    if (new URL(next).pathname === '/login') {
      next = expectRedirect(await post('/login', {
        req: hidden(page, 'req'), csrf: hidden(page, 'csrf'),
        username: env('USERNAME'), password: env('PASSWORD'),
      }), 'login');
    } else if (new URL(next).pathname === '/consent') {
      next = expectRedirect(await post('/consent', {
        req: hidden(page, 'req'), csrf: hidden(page, 'csrf'), decision: 'approve',
      }), 'consent');
    } else {
      throw new Error(`unexpected page ${next}`);
    }
  }
  if (!next.startsWith(redirectUri)) throw new Error(`never returned to the client: ${next}`);
  return new URL(next);
}

const config = await client.discovery(new URL(issuer), env('CLIENT_ID'), env('CLIENT_SECRET'), undefined, {
  execute: [client.allowInsecureRequests],
});

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});
const callback = await signIn(authUrl.href);
if (!callback.searchParams.get('code')) {
  throw new Error(`the authorization request was refused: ${callback.search}`);
}
const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
if (!refreshed.access_token || refreshed.refresh_token === tokens.refresh_token) {
  throw new Error('refresh did not rotate');
}

// RP-initiated logout with id_token_hint: back at the client with our state.
const logoutState = client.randomState();
const endUrl = client.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: env('POST_LOGOUT_REDIRECT_URI'),
  state: logoutState,
});
const back = new URL(expectRedirect(await browse(endUrl.href), 'logout'));
if (!back.href.startsWith(env('POST_LOGOUT_REDIRECT_URI')) || back.searchParams.get('state') !== logoutState) {
  throw new Error(`logout came back to ${back.href}`);
}
// Signed out: a silent request now needs a sign-in.
const silent = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri, scope: 'openid', prompt: 'none',
  code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
  code_challenge_method: 'S256', state: client.randomState(), nonce: client.randomNonce(),
});
const after = new URL(expectRedirect(await browse(silent.href), 'prompt=none'));

console.log(JSON.stringify({
  library: 'openid-client',
  sub: claims.sub,
  iss: claims.iss,
  userinfo_sub: userinfo.sub,
  refreshed: true,
  logged_out: true,
  after_logout: after.searchParams.get('error'),
}));
