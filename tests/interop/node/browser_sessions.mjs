// The account sessions page in a real browser: the same user signs in
// from three browser contexts (three devices, each with its own cookies):
// Firefox on Windows, Safari on macOS, and this Chromium. This device's
// /account/sessions must list all three with "This device" on its own;
// "Sign out" on the Firefox session ends that one alone (Firefox is sent
// back to the sign-in page, Safari is not); "Sign out everywhere else"
// leaves only this device, with its notice, and signs Safari out; "Sign
// out of this device" ends the last one. No JavaScript runs, under the
// pages' CSP. Prints one JSON line; exits non-zero on any failure, with
// screenshots (browser_support.mjs).
//
// Environment: ISSUER, USERNAME, PASSWORD, CHROMIUM, LATCHKEY_SCREENSHOTS.
import { at, browserRun, checkAccessibility, env, newPage, pathOf, submitSignIn } from './browser_support.mjs';

const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0';
const SAFARI_MACOS = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15';

const device = async (userAgent) => {
  const page = await newPage({ userAgent });
  await page.goto(at('/login'));
  await submitSignIn(page, env('USERNAME'), env('PASSWORD'));
  await page.waitForURL(/\/account\/sessions$/);
  return page;
};

/** Where `page` ends up when it asks for /account/sessions now. */
const sessionsPageOf = async (page) => {
  await page.goto(at('/account/sessions'));
  return pathOf(page);
};

const devices = async (page) => (await page.locator('li.session .device').allTextContents()).map((d) => d.trim());

await browserRun('sessions', async () => {
  const firefox = await device(FIREFOX_WINDOWS);
  const safari = await device(SAFARI_MACOS);
  const page = await device();
  await checkAccessibility(page, 'sessions');
  const before = await devices(page);
  const thisDevice = await page.locator('li.session .this-device').count();
  const deviceName = (await page.locator('li.session.current .device').textContent())?.trim();
  const times = await page.locator('li.session time[datetime]').count();

  // One other session, by its own button.
  // Back on the same URL: wait for the new document, not for the URL.
  await Promise.all([
    page.waitForEvent('framenavigated'),
    page
      .locator('li.session', { has: page.locator('.device', { hasText: 'Firefox on Windows' }) })
      .getByRole('button', { name: 'Sign out' })
      .click(),
  ]);
  await page.waitForLoadState();
  const afterOne = await devices(page);
  const firefoxAfterOne = await sessionsPageOf(firefox);
  const safariAfterOne = await sessionsPageOf(safari);

  // Every other one.
  await page.click('button:has-text("Sign out everywhere else")');
  await page.waitForURL(/\/account\/sessions\?done=others$/);
  await checkAccessibility(page, 'sessions with a notice');
  const afterOthers = await devices(page);
  const currentAfter = await page.locator('li.session.current').count();
  const notice = (await page.textContent('.notice'))?.trim();
  const safariAfterOthers = await sessionsPageOf(safari);

  // This one.
  await page.getByRole('button', { name: 'Sign out of this device' }).click();
  await page.waitForURL(/\/login/);
  const afterOwn = await sessionsPageOf(page);

  return {
    before,
    this_device: thisDevice,
    device: deviceName,
    times,
    after_one: afterOne,
    firefox_after_one: firefoxAfterOne,
    safari_after_one: safariAfterOne,
    after_others: afterOthers,
    current_after: currentAfter,
    notice,
    safari_after_others: safariAfterOthers,
    after_own: afterOwn,
  };
});
