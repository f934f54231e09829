// Latchkey's pages in a real browser: headless Chromium (Debian's package)
// driven by playwright-core signs a user in through the sign-in and consent
// pages of a `response_mode=form_post` request, and the form_post page,
// under its own Content-Security-Policy, must POST code, state and iss to
// the client's redirect URI by itself. Prints one JSON line; exits non-zero
// on any failure, with a screenshot in $SCREENSHOT_DIR.
//
// Environment: ISSUER, CLIENT_ID, REDIRECT_PORT (the client's redirect URI
// is http://127.0.0.1:$REDIRECT_PORT/cb), USERNAME, PASSWORD, CHROMIUM
// (default /usr/bin/chromium), SCREENSHOT_DIR.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const b64url = (buf) => buf.toString('base64url');
const redirectUri = `http://127.0.0.1:${env('REDIRECT_PORT')}/cb`;

// The relying party's callback: records the one POST the page sends.
let received;
const posted = new Promise((resolve) => {
  received = resolve;
});
const rp = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('signed in');
    if (req.method === 'POST') received(new URLSearchParams(body));
  });
});
await new Promise((r) => rp.listen(Number(env('REDIRECT_PORT')), '127.0.0.1', r));

const state = b64url(randomBytes(16));
const verifier = b64url(randomBytes(32));
const auth = new URL('/authorize', env('ISSUER'));
auth.search = new URLSearchParams({
  response_type: 'code',
  response_mode: 'form_post',
  client_id: env('CLIENT_ID'),
  redirect_uri: redirectUri,
  scope: 'openid profile',
  state,
  nonce: b64url(randomBytes(16)),
  code_challenge: b64url(createHash('sha256').update(verifier).digest()),
  code_challenge_method: 'S256',
}).toString();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const page = await browser.newPage();
const cspErrors = [];
page.on('console', (m) => {
  if (m.type() === 'error') cspErrors.push(m.text());
});
try {
  await page.goto(auth.href);
  await page.fill('input[name="username"]', env('USERNAME'));
  await page.fill('input[name="password"]', env('PASSWORD'));
  await page.click('button[type="submit"]');
  await page.waitForURL(/\/consent/);
  await page.click('button[name="decision"][value="approve"]');
  const answer = await Promise.race([
    posted,
    new Promise((_, reject) => setTimeout(() => reject(new Error('the form_post page never posted')), 15000)),
  ]);
  await page.waitForURL(redirectUri);
  console.log(JSON.stringify({
    code: Boolean(answer.get('code')),
    state_matches: answer.get('state') === state,
    iss: answer.get('iss'),
    csp_errors: cspErrors,
  }));
} catch (e) {
  const dir = process.env.SCREENSHOT_DIR;
  if (dir) await page.screenshot({ path: `${dir}/form_post_failure.png`, fullPage: true });
  throw e;
} finally {
  await browser.close();
  rp.close();
}
