// The account sessions page in a real browser: headless Chromium (Debian's
// package) driven by playwright-core signs the same user in from two
// browser contexts (two devices, each with its own cookies). The first
// one's /account/sessions must list both sessions with "This device" on
// one; "Sign out everywhere else" must leave only that one, with its
// notice, and send the second context back to the sign-in page. No
// JavaScript runs, under the pages' CSP. Prints one JSON line; exits
// non-zero on any failure, with a screenshot in $SCREENSHOT_DIR.
//
// Environment: ISSUER, USERNAME, PASSWORD, CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT_DIR.
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const cspErrors = [];
const device = async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') cspErrors.push(m.text());
  });
  await page.goto(new URL('/login', env('ISSUER')).href);
  await page.fill('input[name="username"]', env('USERNAME'));
  await page.fill('input[name="password"]', env('PASSWORD'));
  await page.click('button[type="submit"]');
  await page.waitForURL(/\/account\/sessions$/);
  return page;
};

let page;
try {
  const other = await device();
  page = await device();
  await page.reload();
  const before = await page.locator('li.session').count();
  const thisDevice = await page.locator('li.session .this-device').count();
  const device_name = (await page.locator('li.session.current .device').textContent())?.trim();
  const times = await page.locator('li.session time[datetime]').count();
  await page.click('button:has-text("Sign out everywhere else")');
  await page.waitForURL(/\/account\/sessions\?done=others$/);
  const after = await page.locator('li.session').count();
  const currentAfter = await page.locator('li.session.current').count();
  const notice = (await page.textContent('.notice'))?.trim();
  await other.goto(new URL('/account/sessions', env('ISSUER')).href);
  console.log(JSON.stringify({
    before,
    this_device: thisDevice,
    device: device_name,
    times,
    after,
    current_after: currentAfter,
    notice,
    other_url: new URL(other.url()).pathname,
    csp_errors: cspErrors,
  }));
} catch (e) {
  const dir = process.env.SCREENSHOT_DIR;
  if (dir && page) await page.screenshot({ path: `${dir}/sessions_failure.png`, fullPage: true });
  throw e;
} finally {
  await browser.close();
}
