// Latchkey's pages in a real browser: headless Chromium (Debian's package)
// driven by playwright-core signs a user in through the sign-in and consent
// pages of a `response_mode=form_post` request, and the form_post page,
// under its own Content-Security-Policy, must POST code, state and iss to
// the client's redirect URI by itself. The relying party behind that URI is
// openid-client: it takes the POSTed response as it comes (whatever Origin
// header the browser sends with it), checks state and iss, redeems the code
// and validates the ID token. Prints one JSON line; exits non-zero on any
// failure, with screenshots (browser_support.mjs).
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_PORT (the
// client's redirect URI is http://127.0.0.1:$REDIRECT_PORT/cb), USERNAME,
// PASSWORD, CHROMIUM, LATCHKEY_SCREENSHOTS.
import { createServer } from 'node:http';
import * as client from 'openid-client';
import { browserRun, checkAccessibility, env, newPage, submitSignIn } from './browser_support.mjs';

const redirectUri = `http://127.0.0.1:${env('REDIRECT_PORT')}/cb`;
const config = await client.discovery(
  new URL(env('ISSUER')),
  env('CLIENT_ID'),
  undefined,
  client.ClientSecretBasic(env('CLIENT_SECRET')),
  { execute: [client.allowInsecureRequests] },
);
const state = client.randomState();
const nonce = client.randomNonce();
const verifier = client.randomPKCECodeVerifier();

// The relying party's callback: hands the one POST the page sends to
// openid-client, as a form_post callback.
let received;
const posted = new Promise((resolve, reject) => {
  received = { resolve, reject };
});
const rp = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', async () => {
    if (req.method !== 'POST') {
      // The browser's own requests (a favicon): nothing to see here.
      res.writeHead(204).end();
      return;
    }
    try {
      const callback = new Request(new URL(req.url, redirectUri), {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? '' },
        body,
      });
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('signed in');
      received.resolve({
        params: new URLSearchParams(body),
        origin: req.headers.origin ?? null,
        sub: tokens.claims().sub,
      });
    } catch (e) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(String(e));
      received.reject(e);
    }
  });
});
await new Promise((r) => rp.listen(Number(env('REDIRECT_PORT')), '127.0.0.1', r));

const auth = client.buildAuthorizationUrl(config, {
  response_mode: 'form_post',
  redirect_uri: redirectUri,
  scope: 'openid profile',
  state,
  nonce,
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
});

try {
  await browserRun('form_post', async () => {
    // The form_post page submits itself with Latchkey's script: JavaScript on.
    const page = await newPage({ javaScript: true });
    await page.goto(auth.href);
    await checkAccessibility(page, 'login');
    await submitSignIn(page, env('USERNAME'), env('PASSWORD'));
    await page.waitForURL(/\/consent/);
    await checkAccessibility(page, 'consent');
    await page.click('button[name="decision"][value="approve"]');
    const answer = await Promise.race([
      posted,
      // unref: a timer left waiting must not keep the script alive.
      new Promise((_, reject) => setTimeout(() => reject(new Error('the form_post page never posted')), 15000).unref()),
    ]);
    await page.waitForURL(redirectUri);
    return {
      code: Boolean(answer.params.get('code')),
      state_matches: answer.params.get('state') === state,
      iss: answer.params.get('iss'),
      origin: answer.origin,
      sub: answer.sub,
    };
  });
} finally {
  rp.closeAllConnections();
  rp.close();
}
