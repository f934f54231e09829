// What every browser script shares: the one way to launch headless
// Chromium (Debian's package, driven by playwright-core), pages that log
// Content-Security-Policy violations, full-page screenshots of every open
// page when a step fails, and the accessibility check each page calls.
//
// A script is `await browserRun('name', async () => ({ ...report }))`: the
// report is printed as one JSON line with `accessibility` (the pages
// checked, in order) and `csp_errors` added; on a failure the error goes
// to stderr with one `screenshot: <file>` line per page, and the script
// exits non-zero.
//
// Environment: CHROMIUM (default /usr/bin/chromium), LATCHKEY_SCREENSHOTS
// (default target/browser-screenshots at the repository's root).
import { createHmac } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** RFC 4648 base32 (padding optional) to bytes. */
const base32 = (text) => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${text}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
};

const STEP_SECS = 30;
const stepNow = () => Math.floor(Date.now() / 1000 / STEP_SECS);

/**
 * An authenticator app holding `secret` (base32): SHA-1, six digits,
 * 30-second steps (RFC 6238). `code()` is what it shows now; when this
 * step's code was already used, it first waits for the next step, and
 * tells `onWait` how many milliseconds.
 */
export const authenticator = (secret, onWait = () => {}) => {
  const key = base32(secret);
  let used = -1;
  return {
    async code() {
      while (stepNow() <= used) {
        const wait = (used + 1) * STEP_SECS * 1000 - Date.now() + 200;
        onWait(wait);
        await new Promise((r) => setTimeout(r, wait));
      }
      used = stepNow();
      const counter = Buffer.alloc(8);
      counter.writeBigUInt64BE(BigInt(used));
      const mac = createHmac('sha1', key).update(counter).digest();
      const offset = mac[mac.length - 1] & 0x0f;
      return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
    },
  };
};

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

/** `path` on Latchkey (ISSUER). */
export const at = (path) => new URL(path, env('ISSUER')).href;

/** The path of the page `page` shows. */
export const pathOf = (page) => new URL(page.url()).pathname;

// Each step waits this long at most: long enough for a loaded machine,
// short enough that a failure shows up within a minute.
const STEP_TIMEOUT_MS = 30_000;

let browser;
const pages = [];
const checked = [];
const cspErrors = [];
let checker;

/**
 * A page in a browser context of its own (a device with its own cookies).
 * JavaScript is off unless asked for: Latchkey's pages must work without
 * it. `userAgent` makes the device another browser.
 */
export async function newPage({ javaScript = false, userAgent } = {}) {
  const context = await browser.newContext({ javaScriptEnabled: javaScript, userAgent });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) cspErrors.push(m.text());
  });
  pages.push(page);
  return page;
}

/** Signs in on the sign-in page `page` shows. */
export async function submitSignIn(page, username, password) {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('button[type="submit"]');
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// WCAG 2.x levels A and AA, every rule: labels, contrast (4.5:1, 3:1 for
// large text), names, language, duplicate ids, list and table structure.
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
// Of axe's best practices (landmarks, headings, regions), those it rates
// serious or critical.
const SERIOUS = ['serious', 'critical'];

// The width WCAG 2.1's reflow criterion (1.4.10) asks content to fit
// without scrolling sideways: 320 CSS pixels (1280 at 400% zoom).
const REFLOW_WIDTH = 320;

/**
 * Checks the page `page` shows, as it is now: axe-core's WCAG A and AA
 * rules and its serious best practices, exactly one h1, a label for
 * every visible form control (`label[for]`, a wrapping label,
 * `aria-label` or `aria-labelledby`; a title or placeholder is not
 * enough), and no sideways scrolling at 320 CSS pixels wide. Throws with
 * every failure.
 *
 * axe runs on a copy of the page's document in a page of its own, with
 * JavaScript on and no CSP: the page under test keeps both as served, and
 * the copy is laid out at the same size, so contrast is measured on what
 * the user sees.
 */
export async function checkAccessibility(page, name) {
  const html = await page.content();
  if (!checker) {
    const context = await browser.newContext({ viewport: page.viewportSize() });
    checker = await context.newPage();
  }
  await checker.setContent(html, { waitUntil: 'load' });
  await checker.evaluate(AXE_SOURCE);
  const problems = await checker.evaluate(async ({ wcag, serious }) => {
    const found = [];
    const r = await globalThis.axe.run(document, {
      runOnly: { type: 'tag', values: [...wcag, 'best-practice'] },
      resultTypes: ['violations'],
    });
    for (const v of r.violations) {
      if (!v.tags.some((t) => wcag.includes(t)) && !serious.includes(v.impact)) continue;
      for (const n of v.nodes) {
        found.push(`${v.id} (${v.impact}) at ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`);
      }
    }
    const h1 = document.querySelectorAll('h1').length;
    if (h1 !== 1) found.push(`${h1} h1 elements, not exactly one`);
    const text = (el) => (el?.textContent ?? '').trim();
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (el.matches('input[type=hidden], input[type=submit], input[type=button], input[type=reset], input[type=image]')) continue;
      if (el.getClientRects().length === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      const byIds = (el.getAttribute('aria-labelledby') ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .map((id) => text(document.getElementById(id)))
        .join('');
      const labelled = [...el.labels].some((l) => text(l))
        || (el.getAttribute('aria-label') ?? '').trim()
        || byIds;
      if (!labelled) found.push(`no label: ${el.outerHTML}`);
    }
    return found;
  }, { wcag: WCAG_TAGS, serious: SERIOUS });
  const size = checker.viewportSize();
  await checker.setViewportSize({ width: REFLOW_WIDTH, height: size.height });
  const overflow = await checker.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await checker.setViewportSize(size);
  if (overflow > 0) {
    problems.push(`scrolls sideways by ${overflow}px at ${REFLOW_WIDTH}px wide (WCAG 1.4.10 reflow)`);
  }
  checked.push(name);
  if (problems.length) {
    throw new Error(`accessibility of the ${name} page (${page.url()}):\n  ${problems.join('\n  ')}`);
  }
}

const screenshotDir = () => process.env.LATCHKEY_SCREENSHOTS
  || fileURLToPath(new URL('../../../target/browser-screenshots', import.meta.url));

/** A full-page screenshot of every open page, each named on stderr. */
async function screenshotAll(script) {
  const dir = screenshotDir();
  mkdirSync(dir, { recursive: true });
  let n = 0;
  for (const page of pages) {
    if (page.isClosed()) continue;
    n += 1;
    const slug = page.url().replace(/^https?:\/\/[^/]*/, '').replace(/[^A-Za-z0-9]+/g, '_').slice(0, 40);
    const file = join(dir, `${script}-${n}${slug}.png`);
    try {
      await page.screenshot({ path: file, fullPage: true, timeout: 5_000 });
      console.error(`screenshot: ${file}`);
    } catch (e) {
      console.error(`no screenshot of ${page.url()}: ${e.message}`);
    }
  }
}

/**
 * Launches Chromium, runs `steps`, prints its report; on a failure,
 * screenshots every open page and sets a non-zero exit code.
 */
export async function browserRun(script, steps) {
  // Earlier runs' screenshots of this script would only mislead.
  const dir = screenshotDir();
  try {
    for (const f of readdirSync(dir)) {
      if (f.startsWith(`${script}-`) && f.endsWith('.png')) rmSync(join(dir, f));
    }
  } catch {
    // No directory yet.
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const report = await steps();
    console.log(JSON.stringify({ ...report, accessibility: checked, csp_errors: cspErrors }));
  } catch (e) {
    console.error(e?.stack ?? String(e));
    await screenshotAll(script);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
