// Passkeys in a real browser, through Chromium's virtual authenticator
// (DevTools protocol), JavaScript on (the WebAuthn ceremonies need it):
// sign in with the password, add a passkey on /account/security (fresh
// sign-in), sign out, then sign in with the sign-in page's passkey button
// alone (the button, then the authenticator). Then, for a client asking
// for acr urn:latchkey:acr:phr: the password leads to a second step that
// offers only the passkey, and the ID token says hwk/swk, user, mfa and
// acr phr. Prints one JSON line; exits non-zero on any failure, with
// screenshots (browser_support.mjs).
//
// Environment: ISSUER (http://localhost:PORT), CLIENT_ID, CLIENT_SECRET,
// REDIRECT_PORT (redirect URI http://127.0.0.1:$REDIRECT_PORT/cb,
// answered by a listener of this script's), USERNAME, PASSWORD, CHROMIUM,
// LATCHKEY_SCREENSHOTS.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { at, browserRun, checkAccessibility, env, newPage, pathOf, submitSignIn } from './browser_support.mjs';

const b64url = (b) => Buffer.from(b).toString('base64url');
const redirectUri = `http://127.0.0.1:${env('REDIRECT_PORT')}/cb`;

await browserRun('passkeys', async () => {
  const page = await newPage({ javaScript: true });
  page.on('pageerror', (e) => console.error(`pageerror: ${e}`));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  // Password first, then a passkey on the security page.
  await page.goto(at('/login'));
  await checkAccessibility(page, 'login with passkeys');
  await submitSignIn(page, env('USERNAME'), env('PASSWORD'));
  await page.waitForURL(/\/account\/sessions$/);
  await page.goto(at('/account/security'));
  await checkAccessibility(page, 'security');
  await page.click('#add-passkey');
  await page.waitForURL(/\/account\/security\/passkeys\/start$/);
  await checkAccessibility(page, 'passkey setup');
  await page.fill('#name', 'Laptop');
  await page.click('#create-passkey');
  await page.waitForURL(/\/account\/security\?done=passkey-added$/);
  await checkAccessibility(page, 'security with a passkey');
  const names = await page.locator('section.passkey h3').allTextContents();
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });

  // Signed out (the cookies gone), then the passkey alone.
  await page.context().clearCookies();
  await page.goto(at('/login'));
  await page.click('#passkey-sign-in');
  await page.waitForURL(/\/account\/sessions$/);
  const passwordless = pathOf(page);
  await page.goto(at('/account/security'));
  const lastUsed = (await page.locator('section.passkey p').first().textContent()).trim();

  // A client's request: signed in by `signIn` on the sign-in page, the
  // code redeemed; returns the ID token's claims and what was seen. The
  // client's callback is a real listener: the browser's last hop (a
  // redirect, or a navigation by the page's script) lands on it whichever
  // way it comes.
  let landed;
  const callback = createServer((req, res) => {
    const url = new URL(req.url, redirectUri);
    // The callback only: the browser asks for a favicon too.
    if (url.pathname === '/cb') landed = url.href;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  await new Promise((ready) => callback.listen(Number(env('REDIRECT_PORT')), '127.0.0.1', ready));
  const viaClient = async (extra, signIn) => {
    await page.context().clearCookies();
    landed = undefined;
    const verifier = b64url(randomBytes(32));
    const challenge = b64url(createHash('sha256').update(verifier).digest());
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: env('CLIENT_ID'),
      redirect_uri: redirectUri,
      scope: 'openid',
      state: 'st-1',
      nonce: 'n-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...extra,
    });
    await page.goto(at(`/authorize?${query}`));
    await page.waitForURL(/\/login\?/);
    const seen = await signIn();
    // The client's redirect URI has no server behind it: the navigation
    // counts once it commits, never at a load that cannot come.
    await page.waitForURL(
      (u) => u.pathname === '/consent' || u.href.startsWith(redirectUri),
      { waitUntil: 'commit' },
    );
    if (pathOf(page) === '/consent') {
      await page.click('button[value="approve"]');
      await page.waitForURL((u) => u.href.startsWith(redirectUri), { waitUntil: 'commit' });
    }
    const back = new URL(landed);
    const token = await fetch(at('/token'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(env('CLIENT_ID'))}:${encodeURIComponent(env('CLIENT_SECRET'))}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: back.searchParams.get('code') ?? '',
        redirect_uri: redirectUri,
        code_verifier: verifier,
      }),
    }).then((r) => r.json());
    const claims = token.id_token
      ? JSON.parse(Buffer.from(token.id_token.split('.')[1], 'base64url').toString())
      : { error: token };
    return {
      ...seen,
      state: back.searchParams.get('state'),
      amr: claims.amr ?? null,
      acr: claims.acr ?? null,
      error: claims.error ?? null,
    };
  };

  // Demanding a phishing-resistant sign-in: the password, then only the
  // passkey.
  const stepUp = await viaClient({ acr_values: 'urn:latchkey:acr:phr' }, async () => {
    await submitSignIn(page, env('USERNAME'), env('PASSWORD'));
    await page.waitForURL(/\/login\/factor/);
    await checkAccessibility(page, 'passkey as second factor');
    const codeFields = await page.locator('#code').count();
    await page.click('#passkey-factor');
    return { code_fields: codeFields };
  });
  // The passkey button alone, for a client.
  const direct = await viaClient({}, async () => {
    await page.click('#passkey-sign-in');
    return {};
  });
  callback.close();

  return {
    passkey_names: names,
    resident: credentials.map((c) => c.isResidentCredential),
    passwordless_path: passwordless,
    last_used: lastUsed,
    step_up: stepUp,
    passwordless_client: direct,
  };
});
