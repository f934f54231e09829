// A relying party built on node openid-client in its default configuration
// (authorization code flow with PKCE S256, state and nonce), driven through
// Latchkey's sign-in and consent pages by a scripted browser
// (scripted_browser.mjs). Prints one JSON line describing what it saw;
// exits non-zero on any failure.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
// POST_LOGOUT_REDIRECT_URI, USERNAME, PASSWORD.
import * as client from 'openid-client';
import { Browser } from './scripted_browser.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const issuer = env('ISSUER');
const redirectUri = env('REDIRECT_URI');

const browser = new Browser(issuer);

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
const callback = await browser.signIn(authUrl.href, {
  until: redirectUri, username: env('USERNAME'), password: env('PASSWORD'),
});
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
const back = new URL(await browser.redirected(await browser.browse(endUrl.href), 'logout'));
if (!back.href.startsWith(env('POST_LOGOUT_REDIRECT_URI')) || back.searchParams.get('state') !== logoutState) {
  throw new Error(`logout came back to ${back.href}`);
}
// Signed out: a silent request now needs a sign-in.
const silent = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri, scope: 'openid', prompt: 'none',
  code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
  code_challenge_method: 'S256', state: client.randomState(), nonce: client.randomNonce(),
});
const after = new URL(await browser.redirected(await browser.browse(silent.href), 'prompt=none'));

console.log(JSON.stringify({
  library: 'openid-client',
  sub: claims.sub,
  iss: claims.iss,
  userinfo_sub: userinfo.sub,
  userinfo_email: userinfo.email,
  refreshed: true,
  logged_out: true,
  after_logout: after.searchParams.get('error'),
}));
