// Second factors in a real browser, JavaScript off, for openid-client
// relying parties whose redirect URI is http://127.0.0.1:$REDIRECT_PORT/cb:
// - USERNAME signs in at /account/security, sets up an authenticator app
//   (the code computed here from the key the page shows, RFC 6238) and is
//   shown ten recovery codes;
// - another device signs in to the client with the password and a
//   recovery code; the same code is refused on a third device;
// - SECOND_USERNAME, with no factor, signs in to STRICT_CLIENT_ID (made
//   with --require-mfa): the sign-in sets up an app, shows the recovery
//   codes, and "continue" goes on to the client;
// - the first device, signed out, signs in to the client with the
//   password and the app's code;
// - /login?reauth=1 asks SECOND_USERNAME's device for the password and a
//   code again and returns to /account/security with the same session
//   cookie.
// Each app code is the one an app shows at the time; a code counts once
// per 30-second step, so a second code of the same app waits for the
// next step. Each app's second code is asked for last, so that both
// wait for the same step. Prints
// one JSON line; exits non-zero on any failure, with screenshots
// (browser_support.mjs).
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, STRICT_CLIENT_ID,
// STRICT_CLIENT_SECRET, REDIRECT_PORT, USERNAME, SECOND_USERNAME,
// PASSWORD (both users'), CHROMIUM, LATCHKEY_SCREENSHOTS.
import { createServer } from 'node:http';
import * as client from 'openid-client';
import {
  at,
  authenticator,
  browserRun,
  checkAccessibility,
  env,
  newPage,
  pathOf,
  submitSignIn,
} from './browser_support.mjs';

const redirectUri = `http://127.0.0.1:${env('REDIRECT_PORT')}/cb`;
const relyingParty = (id, secret) => client.discovery(
  new URL(env('ISSUER')),
  id,
  undefined,
  client.ClientSecretBasic(secret),
  { execute: [client.allowInsecureRequests] },
);
const plain = await relyingParty(env('CLIENT_ID'), env('CLIENT_SECRET'));
const strict = await relyingParty(env('STRICT_CLIENT_ID'), env('STRICT_CLIENT_SECRET'));

// The clients' pages: the browser only has to land somewhere.
const rp = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('client'));
await new Promise((r) => rp.listen(Number(env('REDIRECT_PORT')), '127.0.0.1', r));

let waitedMs = 0;
const counted = (ms) => {
  waitedMs += ms;
};

/** A fresh authorization request of `config`: its URL and its checks. */
const authorization = async (config) => {
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
  return { config, url: url.href, state, nonce, verifier };
};

const onPath = (path) => (u) => u.pathname === path;

/** Starts `config`'s sign-in on `page` as `username`, up to the second step. */
const passwordStep = async (page, config, username) => {
  const request = await authorization(config);
  await page.goto(request.url);
  await page.waitForURL(onPath('/login'));
  await submitSignIn(page, username, env('PASSWORD'));
  await page.waitForURL(onPath('/login/factor'));
  return request;
};

/** Submits `code` on the second-factor page `page` shows. */
const submitCode = async (page, code) => {
  await page.fill('input[name="code"]', code);
  await page.click('form[action="/login/factor"] button[type="submit"]');
};

/**
 * Follows the sign-in of `request` back to its client (allowing consent
 * when asked); returns the ID token's claims the client validated.
 */
const backAtClient = async (page, request) => {
  await page.waitForURL((u) => u.href.startsWith(redirectUri) || u.pathname === '/consent');
  if (pathOf(page) === '/consent') {
    await page.click('button[name="decision"][value="approve"]');
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
  }
  const tokens = await client.authorizationCodeGrant(request.config, new URL(page.url()), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
  });
  const { sub, amr, acr } = tokens.claims();
  return { sub, amr, acr };
};

const text = async (page, selector) => (await page.locator(selector).first().textContent())?.trim() ?? null;

const sessionCookie = async (page) => (await page.context().cookies())
  .find((c) => c.name.endsWith('latchkey_session'))?.value ?? null;

try {
  await browserRun('mfa', async () => {
    // 1. The security page: an authenticator app, then recovery codes.
    const page = await newPage();
    await page.goto(at('/login'));
    await submitSignIn(page, env('USERNAME'), env('PASSWORD'));
    await page.waitForURL(onPath('/account/sessions'));
    await page.goto(at('/account/security'));
    await checkAccessibility(page, 'security');
    const before = await text(page, 'h2 + p');
    await page.click('#setup-totp');
    await page.waitForURL(onPath('/account/security/totp'));
    await checkAccessibility(page, 'authenticator app setup');
    const qr = await page.locator('figure.qr svg').count();
    const app = authenticator(await text(page, '[data-totp-secret]'), counted);
    await page.fill('input[name="code"]', await app.code());
    await page.click('form[action="/account/security/totp/confirm"] button[type="submit"]');
    await page.waitForURL(onPath('/account/security/totp/confirm'));
    await checkAccessibility(page, 'recovery codes');
    const codes = (await page.locator('[data-recovery-code]').allTextContents()).map((c) => c.trim());
    await page.click('a[href="/account/security"]');
    await page.waitForURL(onPath('/account/security'));
    const after = await text(page, 'h2 + p');
    const codesLeft = await text(page, 'h2:has-text("Recovery codes") + p');
    await page.goto(at('/account/sessions'));
    await page.getByRole('button', { name: 'Sign out of this device' }).click();
    await page.waitForURL(onPath('/login'));

    // 2. A recovery code signs in once (while the app's code of this step
    // stays used).
    const second = await newPage();
    const byCode = await passwordStep(second, plain, env('USERNAME'));
    await checkAccessibility(second, 'second factor');
    const factorLabel = await text(second, 'label[for="code"]');
    await submitCode(second, codes[3]);
    const recovery = await backAtClient(second, byCode);
    const third = await newPage();
    await passwordStep(third, plain, env('USERNAME'));
    await submitCode(third, codes[3]);
    await third.locator('.message').waitFor();
    await checkAccessibility(third, 'second factor with an error');
    const reused = { path: pathOf(third), message: await text(third, '.message') };

    // 3. A client that requires a second factor, and a user without one:
    // the sign-in sets up an app.
    const bob = await newPage();
    const strictRequest = await passwordStep(bob, strict, env('SECOND_USERNAME'));
    await checkAccessibility(bob, 'authenticator app setup in sign-in');
    const enrolHeading = await text(bob, 'h1');
    const bobApp = authenticator(await text(bob, '[data-totp-secret]'), counted);
    await submitCode(bob, await bobApp.code());
    await bob.locator('[data-recovery-code]').first().waitFor();
    await checkAccessibility(bob, 'recovery codes in sign-in');
    const bobCodes = await bob.locator('[data-recovery-code]').count();
    await bob.getByRole('button', { name: /continue/ }).click();
    const enrolled = await backAtClient(bob, strictRequest);

    // 4. The signed-out device: the password, then the app's code.
    const withApp = await passwordStep(page, plain, env('USERNAME'));
    await submitCode(page, await app.code());
    const appSignIn = await backAtClient(page, withApp);

    // 5. Confirming who is signed in: the same session, raised.
    const cookieBefore = await sessionCookie(bob);
    await bob.goto(at('/login?reauth=1'));
    await checkAccessibility(bob, 'reauth');
    const reauthHeading = await text(bob, 'h1');
    const prefilled = await bob.inputValue('#username');
    await bob.fill('#password', env('PASSWORD'));
    await bob.click('form[action="/login"] button[type="submit"]');
    await bob.waitForURL(onPath('/login/factor'));
    await submitCode(bob, await bobApp.code());
    await bob.waitForURL(onPath('/account/security'));
    const cookieAfter = await sessionCookie(bob);
    const offersReauth = await bob.locator('#reauth').count();

    return {
      enrolment: { before, qr, codes: codes.length, distinct: new Set(codes).size, after, codes_left: codesLeft },
      recovery: { factor_label: factorLabel, claims: recovery, reused },
      required: { heading: enrolHeading, codes: bobCodes, claims: enrolled },
      app: appSignIn,
      reauth: {
        heading: reauthHeading,
        prefilled,
        path: pathOf(bob),
        same_cookie: cookieBefore !== null && cookieBefore === cookieAfter,
        offers_reauth: offersReauth,
      },
      waited_secs: Math.round(waitedMs / 1000),
    };
  });
} finally {
  rp.closeAllConnections();
  rp.close();
}
