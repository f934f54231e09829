// The account profile page in a real browser: headless Chromium (Debian's
// package) driven by playwright-core signs in at the sign-in page, opens
// /account/profile from the account pages' link, changes the name, saves,
// and must see the saved name and the notice, under the pages' CSP and
// without any script. Prints one JSON line; exits non-zero on any failure,
// with a screenshot in $SCREENSHOT_DIR.
//
// Environment: ISSUER, USERNAME, PASSWORD, NEW_NAME, CHROMIUM (default
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
// No JavaScript at all: the page must work without it.
const context = await browser.newContext({ javaScriptEnabled: false });
const page = await context.newPage();
const cspErrors = [];
page.on('console', (m) => {
  if (m.type() === 'error') cspErrors.push(m.text());
});
try {
  await page.goto(new URL('/login', env('ISSUER')).href);
  await page.fill('input[name="username"]', env('USERNAME'));
  await page.fill('input[name="password"]', env('PASSWORD'));
  await page.click('button[type="submit"]');
  await page.waitForURL(/\/account\/sessions$/);
  await page.click('a[href="/account/profile"]');
  await page.waitForURL(/\/account\/profile$/);
  const before = await page.inputValue('input[name="name"]');
  await page.fill('input[name="name"]', env('NEW_NAME'));
  await page.click('button[type="submit"]');
  await page.waitForURL(/\/account\/profile\?done=saved$/);
  console.log(JSON.stringify({
    before,
    name: await page.inputValue('input[name="name"]'),
    notice: (await page.textContent('.notice'))?.trim(),
    csp_errors: cspErrors,
  }));
} catch (e) {
  const dir = process.env.SCREENSHOT_DIR;
  if (dir) await page.screenshot({ path: `${dir}/profile_failure.png`, fullPage: true });
  throw e;
} finally {
  await browser.close();
}
