// A relying party on node openid-client using what FAPI 2.0 builds on:
// pushed authorization requests (RFC 9126) and DPoP (RFC 9449), with the
// library's own handling of DPoP nonces. The client is registered with
// require_pushed_authorization_requests and dpop_bound_access_tokens, so
// every step must use them. Prints one JSON line describing what it saw;
// exits non-zero on any failure.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, USERNAME,
// PASSWORD.
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
if (!config.serverMetadata().pushed_authorization_request_endpoint) {
  throw new Error('discovery names no pushed_authorization_request_endpoint');
}
const keys = await client.randomDPoPKeyPair('ES256');
const DPoP = client.getDPoPHandle(config, keys);

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authUrl = await client.buildAuthorizationUrlWithPAR(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
}, { DPoP });
const params = [...authUrl.searchParams.keys()].sort().join(' ');
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
}, undefined, { DPoP });
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP });
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });

// The bound token without its key: refused.
let bearerRefused = false;
try {
  await client.fetchUserInfo(config, tokens.access_token, claims.sub);
} catch (e) {
  bearerRefused = true;
}
// A token for one resource server (RFC 8707).
const machine = await client.clientCredentialsGrant(config, {
  scope: 'api:read', resource: 'https://api.example.com',
}, { DPoP });

const payload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
console.log(JSON.stringify({
  library: 'openid-client',
  authorize_params: params,
  sub: claims.sub,
  token_type: tokens.token_type,
  jkt: payload(tokens.access_token).cnf?.jkt,
  userinfo_sub: userinfo.sub,
  refreshed_token_type: refreshed.token_type,
  refreshed_jkt: payload(refreshed.access_token).cnf?.jkt,
  bearer_refused: bearerRefused,
  machine_token_type: machine.token_type,
  machine_jkt: payload(machine.access_token).cnf?.jkt,
  machine_aud: payload(machine.access_token).aud,
}));
