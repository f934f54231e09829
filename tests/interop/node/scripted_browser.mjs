// A scripted browser for the relying-party scripts: cookies kept by name
// (everything here is on one loopback host, and cookies ignore ports),
// redirects followed by hand, and Latchkey's sign-in and consent pages
// filled in from their hidden fields.

const decode = (s) =>
  s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCharCode(parseInt(n, 16)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The value of the hidden input `name` in an HTML page. */
export function hidden(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no hidden input ${name} in page`);
  return decode(m[1]);
}

export class Browser {
  /** `base` resolves relative locations (Latchkey's issuer). */
  constructor(base) {
    this.base = base;
    this.jar = new Map();
  }

  absolute(location) {
    return new URL(location, this.base).href;
  }

  async browse(url, init = {}) {
    const headers = new Headers(init.headers || {});
    if (this.jar.size) {
      headers.set('cookie', [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const resp = await fetch(this.absolute(url), { ...init, headers, redirect: 'manual' });
    for (const c of resp.headers.getSetCookie()) {
      const [pair, ...attributes] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const gone = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (gone || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return resp;
  }

  async post(url, fields) {
    return this.browse(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /**
   * The absolute target of a redirect; throws on anything else, with what
   * the page or the JSON error said.
   */
  async redirected(resp, what) {
    if (resp.status < 300 || resp.status > 399) {
      const said = (await resp.text()).replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
      throw new Error(`${what}: expected a redirect, got ${resp.status}: ${said.slice(0, 500)}`);
    }
    return this.absolute(resp.headers.get('location'));
  }

  /**
   * From Latchkey's authorization endpoint (or a redirect to it), signs in
   * and consents on its pages until the browser is sent to a URL starting
   * with `until`; returns that URL.
   */
  async signIn(authUrl, { until, username, password }) {
    let next = await this.redirected(await this.browse(authUrl), 'authorize');
    for (let step = 0; step < 4 && !next.startsWith(until); step++) {
      const page = await (await this.browse(next)).text();
      const path = new URL(next).pathname;
      if (path === '/login') {
        next = await this.redirected(await this.post('/login', {
          req: hidden(page, 'req'), csrf: hidden(page, 'csrf'), username, password,
        }), 'login');
      } else if (path === '/consent') {
        next = await this.redirected(await this.post('/consent', {
          req: hidden(page, 'req'), csrf: hidden(page, 'csrf'), decision: 'approve',
        }), 'consent');
      } else {
        throw new Error(`unexpected page ${next}`);
      }
    }
    if (!next.startsWith(until)) throw new Error(`never returned to the client: ${next}`);
    return new URL(next);
  }
}
