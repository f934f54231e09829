// Consent denial and RP-initiated logout in a real browser, JavaScript
// off, for an openid-client relying party whose redirect URI is
// http://127.0.0.1:$REDIRECT_PORT/cb and post-logout redirect URI
// http://127.0.0.1:$REDIRECT_PORT/bye:
// - an unknown client gets Latchkey's error page, not a redirect;
// - the user signs in (after one wrong password) and denies consent: the
//   client receives error=access_denied with its state;
// - asked again, the user allows: the client redeems the code for an ID
//   token;
// - logout with that id_token_hint signs out with no confirmation page,
//   straight back to the client with its state, and the session is gone;
// - signed in again, logout without id_token_hint asks first, and "Sign
//   out" ends the session on the signed-out page.
// Prints one JSON line; exits non-zero on any failure, with screenshots
// (browser_support.mjs).
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_PORT, USERNAME,
// PASSWORD, CHROMIUM, LATCHKEY_SCREENSHOTS.
import { createServer } from 'node:http';
import * as client from 'openid-client';
import { at, browserRun, checkAccessibility, env, newPage, pathOf, submitSignIn } from './browser_support.mjs';

const base = `http://127.0.0.1:${env('REDIRECT_PORT')}`;
const redirectUri = `${base}/cb`;
const byeUri = `${base}/bye`;
const config = await client.discovery(
  new URL(env('ISSUER')),
  env('CLIENT_ID'),
  undefined,
  client.ClientSecretBasic(env('CLIENT_SECRET')),
  { execute: [client.allowInsecureRequests] },
);

// The client's pages: the browser only has to land somewhere.
const rp = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('client'));
await new Promise((r) => rp.listen(Number(env('REDIRECT_PORT')), '127.0.0.1', r));

/** A fresh authorization request: its URL and what checks the answer. */
const authorization = async () => {
  const state = client.randomState();
  const nonce = client.randomNonce();
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile',
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  return { url: url.href, state, nonce, verifier };
};

/** The first response of the navigation that ended on `response`. */
const firstResponse = async (response) => {
  let request = response.request();
  while (request.redirectedFrom()) request = request.redirectedFrom();
  return request.response();
};

try {
  await browserRun('consent_logout', async () => {
    const page = await newPage();

    // Not a client Latchkey knows: the error page, never a redirect.
    const refused = await page.goto(at(`/authorize?response_type=code&client_id=no-such-client&redirect_uri=${encodeURIComponent(redirectUri)}&state=s`));
    await checkAccessibility(page, 'error');
    const errorPage = { status: refused.status(), path: pathOf(page), heading: (await page.textContent('h1'))?.trim() };

    // Denied.
    const denied = await authorization();
    await page.goto(denied.url);
    await page.waitForURL(/\/login/);
    await checkAccessibility(page, 'login');
    await submitSignIn(page, env('USERNAME'), `${env('PASSWORD')} (not)`);
    await page.locator('.message').waitFor();
    await checkAccessibility(page, 'login with an error');
    const wrongPassword = (await page.textContent('.message'))?.trim();
    await submitSignIn(page, env('USERNAME'), env('PASSWORD'));
    await page.waitForURL(/\/consent/);
    await checkAccessibility(page, 'consent');
    await page.click('button[name="decision"][value="deny"]');
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
    const deniedAnswer = new URL(page.url()).searchParams;

    // Allowed, and the code redeemed for an ID token.
    const allowed = await authorization();
    await page.goto(allowed.url);
    await page.waitForURL(/\/consent/);
    await page.click('button[name="decision"][value="approve"]');
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), {
      pkceCodeVerifier: allowed.verifier,
      expectedState: allowed.state,
      expectedNonce: allowed.nonce,
      idTokenExpected: true,
    });

    // Logout with id_token_hint: no question asked.
    const logoutState = client.randomState();
    const hinted = await page.goto(client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: byeUri,
      state: logoutState,
    }).href);
    const hintedFirst = await firstResponse(hinted);
    const landed = new URL(page.url());
    const withHint = {
      logout_status: hintedFirst.status(),
      landed: `${landed.origin}${landed.pathname}`,
      state_matches: landed.searchParams.get('state') === logoutState,
      account_after: (await page.goto(at('/account/sessions')), pathOf(page)),
    };

    // Logout without id_token_hint: asked first.
    await page.goto(at('/login'));
    await submitSignIn(page, env('USERNAME'), env('PASSWORD'));
    await page.waitForURL(/\/account\/sessions$/);
    const asked = await page.goto(at('/logout'));
    await checkAccessibility(page, 'logout confirmation');
    const question = (await page.textContent('h1'))?.trim();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/logout\/confirm$/);
    await checkAccessibility(page, 'signed out');
    const withoutHint = {
      logout_status: asked.status(),
      question,
      after_confirm_path: pathOf(page),
      after_confirm: (await page.textContent('h1'))?.trim(),
      account_after: (await page.goto(at('/account/sessions')), pathOf(page)),
    };

    return {
      error_page: errorPage,
      wrong_password: wrongPassword,
      denied: {
        error: deniedAnswer.get('error'),
        state_matches: deniedAnswer.get('state') === denied.state,
        iss: deniedAnswer.get('iss'),
        code: deniedAnswer.has('code'),
      },
      id_token: Boolean(tokens.id_token),
      sub: tokens.claims()?.sub ?? null,
      logout_with_hint: withHint,
      logout_without_hint: withoutHint,
    };
  });
} finally {
  rp.closeAllConnections();
  rp.close();
}
