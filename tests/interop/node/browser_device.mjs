// The device authorization grant (RFC 8628) in a real browser, JavaScript
// off: a device (this script, with fetch) asks for codes; the browser
// opens verification_uri_complete, finds the code filled in, first types
// a wrong code (the page says so), then the right one, signs in, reads
// the consent page naming the client, allows, and lands on the page that
// says to return to the device; the device's next poll gets its tokens.
// Prints one JSON line; exits non-zero on any failure, with screenshots
// (browser_support.mjs).
//
// Environment: ISSUER, USERNAME, PASSWORD, CLIENT_ID, CHROMIUM,
// LATCHKEY_SCREENSHOTS.
import { at, browserRun, checkAccessibility, env, newPage, pathOf, submitSignIn } from './browser_support.mjs';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const text = async (page, selector) => (await page.locator(selector).first().textContent())?.trim() ?? null;

const form = (fields) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

const poll = async (deviceCode) => {
  const resp = await fetch(at('/token'), form({
    grant_type: DEVICE_GRANT,
    device_code: deviceCode,
    client_id: env('CLIENT_ID'),
  }));
  return { status: resp.status, body: await resp.json() };
};

await browserRun('device', async () => {
  const started = await fetch(at('/device_authorization'), form({
    client_id: env('CLIENT_ID'),
    scope: 'openid profile',
  }));
  if (started.status !== 200) throw new Error(`device authorization: ${started.status}`);
  const device = await started.json();
  const pending = await poll(device.device_code);

  const page = await newPage();
  await page.goto(device.verification_uri_complete);
  await checkAccessibility(page, 'device code');
  const prefilled = await page.inputValue('input[name="user_code"]');

  // A wrong code: the page says so and keeps what was typed.
  const wrong = device.user_code.startsWith('B') ? 'CCCC-CCCC' : 'BBBB-BBBB';
  await page.getByLabel('Code').fill(wrong);
  await page.click('button[type="submit"]');
  await page.locator('.message').waitFor();
  await checkAccessibility(page, 'device code with an error');
  const wrongMessage = await text(page, '.message');

  // The right code, typed in lower case with a space.
  await page.getByLabel('Code').fill(device.user_code.toLowerCase().replace('-', ' '));
  await page.click('button[type="submit"]');
  await page.waitForURL(/\/login\?req=/);
  await submitSignIn(page, env('USERNAME'), env('PASSWORD'));
  await page.waitForURL(/\/device\/consent\?req=/);
  await checkAccessibility(page, 'device consent');
  const consentHeading = await text(page, 'h1');
  await page.click('button[value="approve"]');
  await page.locator('h1', { hasText: 'Device connected' }).waitFor();
  await checkAccessibility(page, 'device done');
  const done = await text(page, '.notice');

  const tokens = await poll(device.device_code);
  return {
    user_code: device.user_code,
    prefilled,
    pending: pending.body.error,
    wrong_message: wrongMessage,
    consent_heading: consentHeading,
    done,
    done_path: pathOf(page),
    token_status: tokens.status,
    access_token: typeof tokens.body.access_token === 'string',
    id_token: typeof tokens.body.id_token === 'string',
  };
});
