// A relying party built on Auth.js (@auth/core) with its generic OIDC
// provider: `Auth(request, config)` behind a node:http server on
// loopback, at Auth.js's default routes (basePath /auth, callback
// /auth/callback/<provider id>). A scripted browser (scripted_browser.mjs)
// starts a sign-in through Auth.js's sign-in endpoint (with its CSRF
// token), signs in and consents on Latchkey's pages, returns to Auth.js's
// callback, reads the session Auth.js established, and signs out of
// Auth.js. Prints one JSON line describing what it saw; exits non-zero on
// any failure (a refused authorization request included).
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI (Auth.js's
// callback URL: the server listens on its port), USERNAME, PASSWORD, and
// AUTHJS_CHECKS: the provider's `checks`, comma-separated, or `default`
// to leave them to Auth.js.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Auth } from '@auth/core';
import { Browser } from './scripted_browser.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const issuer = env('ISSUER');
const callbackUrl = new URL(env('REDIRECT_URI'));
const origin = callbackUrl.origin;
const basePath = '/auth';
const provider = {
  id: 'latchkey',
  name: 'Latchkey',
  type: 'oidc',
  issuer,
  clientId: env('CLIENT_ID'),
  clientSecret: env('CLIENT_SECRET'),
  // Auth.js's default: the user's profile from the ID token's claims.
};
if (env('AUTHJS_CHECKS') !== 'default') provider.checks = env('AUTHJS_CHECKS').split(',');
if (callbackUrl.pathname !== `${basePath}/callback/${provider.id}`) {
  throw new Error(`REDIRECT_URI must be Auth.js's callback, ${basePath}/callback/${provider.id}`);
}
const config = {
  providers: [provider],
  basePath,
  secret: randomBytes(32).toString('hex'),
  trustHost: true,
};

// The application: every request goes to Auth.js.
const server = createServer(async (req, res) => {
  try {
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const response = await Auth(new Request(new URL(req.url, origin), {
      method: req.method,
      headers,
      body: hasBody ? Buffer.concat(chunks) : undefined,
    }), config);
    for (const [k, v] of response.headers) {
      if (k !== 'set-cookie') res.setHeader(k, v);
    }
    res.setHeader('set-cookie', response.headers.getSetCookie());
    res.writeHead(response.status);
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(e?.stack ?? e));
  }
});
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(callbackUrl.port), callbackUrl.hostname, resolve);
});

const browser = new Browser(issuer);
const csrfToken = async () => (await (await browser.browse(`${origin}${basePath}/csrf`)).json()).csrfToken;
const session = async () => (await browser.browse(`${origin}${basePath}/session`)).json();
const home = `${origin}/home`;

// Sign in: Auth.js's sign-in endpoint takes a POST with its CSRF token and
// sends the browser to Latchkey.
const start = await browser.post(`${origin}${basePath}/signin/${provider.id}`, {
  csrfToken: await csrfToken(),
  callbackUrl: home,
});
const authUrl = new URL(await browser.redirected(start, 'Auth.js sign-in'));
if (!authUrl.href.startsWith(`${issuer}/authorize`)) {
  throw new Error(`Auth.js did not send the browser to Latchkey: ${authUrl.href}`);
}
const sent = (p) => authUrl.searchParams.has(p);
const callback = await browser.signIn(authUrl.href, {
  until: callbackUrl.href, username: env('USERNAME'), password: env('PASSWORD'),
});
if (!callback.searchParams.get('code')) {
  throw new Error(`the authorization request was refused: ${callback.searchParams.get('error')}: ${callback.searchParams.get('error_description')}`);
}
const landed = await browser.redirected(await browser.browse(callback.href), 'Auth.js callback');
if (landed !== home) throw new Error(`Auth.js did not sign the user in: it sent the browser to ${landed}`);
const signedIn = await session();

// Sign out of Auth.js: its own session ends; it has no RP-initiated logout.
const bye = await browser.post(`${origin}${basePath}/signout`, {
  csrfToken: await csrfToken(),
  callbackUrl: `${origin}/bye`,
});
await browser.redirected(bye, 'Auth.js sign-out');
const afterSignOut = await session();

server.close();
console.log(JSON.stringify({
  library: 'authjs',
  sent: {
    state: sent('state'),
    nonce: sent('nonce'),
    code_challenge_method: authUrl.searchParams.get('code_challenge_method'),
    scope: authUrl.searchParams.get('scope'),
  },
  session_user: signedIn?.user ?? null,
  session_after_sign_out: afterSignOut,
}));
