// The operator console in a real browser, JavaScript off: USERNAME (an
// admin with no second factor yet) opens /admin, is sent to sign in and
// back, then told to set up a second factor; sets up an authenticator app (the code
// computed here from the key the page shows, RFC 6238); signs in again
// with password and code; then, in the console: registers a client and
// sees its secret once, turns PKCE optional (a warning appears), rotates
// the secret, filters the audit log to the client (each change made by
// console:USERNAME), deletes it; creates
// user bob and disables him. Prints one JSON line; exits non-zero on any
// failure, with screenshots (browser_support.mjs).
//
// Environment: ISSUER, USERNAME, PASSWORD, CHROMIUM, LATCHKEY_SCREENSHOTS.
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

const onPath = (path) => (u) => u.pathname === path;
const text = async (page, selector) => (await page.locator(selector).first().textContent())?.trim() ?? null;

await browserRun('console', async () => {
  // 1. Not signed in: to the sign-in page; signed in with a password
  // only: told to set up a second factor.
  const page = await newPage();
  await page.goto(at('/admin'));
  await page.waitForURL(onPath('/login'));
  await submitSignIn(page, env('USERNAME'), env('PASSWORD'));
  await page.waitForURL(onPath('/admin'));
  const door = await page.reload();
  const doorStatus = door.status();
  const doorHeading = await text(page, 'h1');
  await checkAccessibility(page, 'console door');
  await page.click('#security');
  await page.waitForURL(onPath('/account/security'));
  await page.click('#setup-totp');
  await page.waitForURL(onPath('/account/security/totp'));
  const app = authenticator(await text(page, '[data-totp-secret]'));
  await page.fill('input[name="code"]', await app.code());
  await page.click('form[action="/account/security/totp/confirm"] button[type="submit"]');
  await page.waitForURL(onPath('/account/security/totp/confirm'));

  // 2. A sign-in with password and code opens the console.
  const admin = await newPage();
  await admin.goto(at('/login'));
  await submitSignIn(admin, env('USERNAME'), env('PASSWORD'));
  await admin.waitForURL(onPath('/login/factor'));
  await admin.fill('input[name="code"]', await app.code());
  await admin.click('form[action="/login/factor"] button[type="submit"]');
  await admin.waitForURL(onPath('/account/sessions'));
  const home = await admin.goto(at('/admin'));
  const homeStatus = home.status();
  const homeHeading = await text(admin, 'h1');
  await checkAccessibility(admin, 'console');

  // 3. A client: registered, its secret shown once.
  await admin.click('a[href="/admin/console/clients"] >> nth=0');
  await admin.waitForURL(onPath('/admin/console/clients'));
  await admin.click('#new-client');
  await admin.waitForURL(onPath('/admin/console/clients/new'));
  await checkAccessibility(admin, 'new client');
  await admin.fill('#name', 'Payroll');
  await admin.fill('#redirect_uris', 'https://payroll.example.com/cb');
  await admin.check('#grant-refresh_token');
  await admin.click('#create-client');
  await admin.waitForURL(onPath('/admin/console/clients'));
  await checkAccessibility(admin, 'client secret');
  const secret = await text(admin, '#secret');
  const clientId = await text(admin, 'table code');
  await admin.click('#continue');
  await admin.waitForURL(onPath(`/admin/console/clients/${clientId}`));
  await checkAccessibility(admin, 'client');
  const secretShownAgain = (await admin.content()).includes(secret);
  const warningsBefore = await admin.locator('.warning').count();

  // 4. A setting changed: PKCE optional, shown as a warning.
  await admin.selectOption('#pkce', 'optional');
  await admin.click('#save-client');
  await admin.waitForURL((u) => u.pathname === `/admin/console/clients/${clientId}` && u.search === '?done=saved');
  const warning = await text(admin, '.warning');
  const saved = await text(admin, '.notice');

  // 5. The secret rotated: a new one, shown once.
  await admin.click('#rotate-secret');
  await admin.waitForURL(onPath(`/admin/console/clients/${clientId}/secret`));
  const rotated = await text(admin, '#secret');

  // 6. The audit log, filtered to the client.
  await admin.goto(at('/admin/console/audit'));
  await admin.fill('#client', clientId);
  await admin.click('#filter');
  await admin.waitForURL((u) => u.pathname === '/admin/console/audit' && u.search.includes('client='));
  await checkAccessibility(admin, 'audit log');
  const kinds = (await admin.locator('#events td.kind').allTextContents()).map((k) => k.trim());
  const clients = [...new Set((await admin.locator('#events td.client').allTextContents()).map((c) => c.trim()))];
  const actors = [...new Set((await admin.locator('#events td.actor').allTextContents()).map((a) => a.trim()))];

  // 7. The client deleted.
  await admin.goto(at(`/admin/console/clients/${clientId}`));
  await admin.click('#delete-client');
  await admin.waitForURL((u) => u.pathname === '/admin/console/clients' && u.search === '?done=deleted');
  const deleted = await text(admin, '.notice');
  const gone = await admin.goto(at(`/admin/console/clients/${clientId}`));
  const goneStatus = gone.status();

  // 8. The keys and tokens pages.
  await admin.goto(at('/admin/console/keys'));
  await checkAccessibility(admin, 'signing keys');
  const keyStates = (await admin.locator('td.state').allTextContents()).map((k) => k.trim());
  await admin.goto(at('/admin/console/tokens'));
  await checkAccessibility(admin, 'tokens');

  // 9. A user: created, then disabled.
  await admin.goto(at('/admin/console/users'));
  await checkAccessibility(admin, 'users');
  await admin.fill('#new-username', 'bob');
  await admin.fill('#new-password', 'a long enough password');
  await admin.fill('#new-name', 'Bob');
  await admin.click('#create-user');
  await admin.waitForURL(onPath('/admin/console/users/bob'));
  await checkAccessibility(admin, 'user');
  await admin.click('#disable-user');
  await admin.waitForURL((u) => u.pathname === '/admin/console/users/bob' && u.search === '?done=disabled');
  const status = await text(admin, 'tr:has(th:text("Status")) td');
  const enableOffered = await admin.locator('#enable-user').count();

  return {
    door: { status: doorStatus, heading: doorHeading },
    home: { status: homeStatus, heading: homeHeading, path: pathOf(admin) },
    client: {
      id: clientId,
      secret_length: secret.length,
      secret_shown_again: secretShownAgain,
      warnings_before: warningsBefore,
      warning,
      saved,
      rotated_differs: rotated !== secret && rotated.length === secret.length,
      deleted,
      gone_status: goneStatus,
    },
    audit: { kinds, clients, actors },
    key_states: keyStates,
    user: { status, enable_offered: enableOffered },
  };
});
