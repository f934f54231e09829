// The account pages in a real browser, JavaScript off: sign in at the
// sign-in page, open /account/profile from the account pages' link,
// change the name and save (the saved name and the notice must show);
// then /account/password from the profile page's link: a wrong current
// password is refused on the page, the right one changes it. Another
// device then finds the old password refused at the sign-in page and the
// new one accepted. Prints one JSON line; exits non-zero on any failure,
// with screenshots (browser_support.mjs).
//
// Environment: ISSUER, USERNAME, PASSWORD, NEW_NAME, NEW_PASSWORD,
// CHROMIUM, LATCHKEY_SCREENSHOTS.
import { at, browserRun, checkAccessibility, env, newPage, pathOf, submitSignIn } from './browser_support.mjs';

const text = async (page, selector) => (await page.locator(selector).first().textContent())?.trim() ?? null;

await browserRun('account', async () => {
  const page = await newPage();
  await page.goto(at('/login'));
  await submitSignIn(page, env('USERNAME'), env('PASSWORD'));
  await page.waitForURL(/\/account\/sessions$/);

  // The profile.
  await page.click('a[href="/account/profile"]');
  await page.waitForURL(/\/account\/profile$/);
  await checkAccessibility(page, 'profile');
  const before = await page.inputValue('input[name="name"]');
  await page.fill('input[name="name"]', env('NEW_NAME'));
  await page.click('button[type="submit"]');
  await page.waitForURL(/\/account\/profile\?done=saved$/);
  await checkAccessibility(page, 'profile with a notice');
  const name = await page.inputValue('input[name="name"]');
  const notice = await text(page, '.notice');

  // The password: a wrong current one first.
  await page.click('a[href="/account/password"]');
  await page.waitForURL(/\/account\/password$/);
  await checkAccessibility(page, 'password');
  await page.getByLabel('Current password').fill(`${env('PASSWORD')} (not)`);
  await page.getByLabel('New password').fill(env('NEW_PASSWORD'));
  await page.click('button[type="submit"]');
  await page.locator('.message').waitFor();
  await checkAccessibility(page, 'password with an error');
  const wrongCurrent = await text(page, '.message');
  await page.getByLabel('Current password').fill(env('PASSWORD'));
  await page.getByLabel('New password').fill(env('NEW_PASSWORD'));
  await page.click('button[type="submit"]');
  await page.locator('.message', { hasText: 'Password changed' }).waitFor();
  const changed = await text(page, '.message');

  // Another device: the old password no longer signs in, the new one does.
  const other = await newPage();
  await other.goto(at('/login'));
  await submitSignIn(other, env('USERNAME'), env('PASSWORD'));
  await other.locator('.message').waitFor();
  const oldRefused = await text(other, '.message');
  const oldPath = pathOf(other);
  await submitSignIn(other, env('USERNAME'), env('NEW_PASSWORD'));
  await other.waitForURL(/\/account\/sessions$/);

  return {
    before,
    name,
    notice,
    wrong_current: wrongCurrent,
    changed,
    old_password: { path: oldPath, message: oldRefused },
    new_password_path: pathOf(other),
    changed_on_path: pathOf(page),
  };
});
