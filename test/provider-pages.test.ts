import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { HttpBrowser } from './helpers/http-browser.js';
import { PASSWORD, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** A valid RFC 7636 S256 challenge (PKCE is required); the tests never redeem the code. */
const CHALLENGE = createHash('sha256').update('a-verifier-the-tests-never-use-0123456789').digest('base64url');
const DEMO_ORIGIN = 'http://localhost:3001';

function authorizationUrl(extra: Record<string, string> = {}): string {
  const params = new URLSearchParams({
    client_id: 'demo-app',
    response_type: 'code',
    redirect_uri: `${DEMO_ORIGIN}/callback`,
    scope: 'openid profile',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    state: 'st',
    ...extra,
  });
  return `${server.issuer}/auth?${params.toString()}`;
}

/** The directives of a Content-Security-Policy, by name. */
function directives(policy: string | null): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (policy ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name, values);
  }
  return map;
}

/** What every HTML page of the provider must carry (docs/security.md, "Promises"). */
function expectStrictPage(response: Response): Map<string, string[]> {
  expect(response.headers.get('content-type')).toContain('text/html');
  const csp = directives(response.headers.get('content-security-policy'));
  expect(csp.get('default-src')).toEqual(["'none'"]);
  expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
  expect(csp.get('base-uri')).toEqual(["'none'"]);
  expect(csp.get('script-src')?.some((source) => source === "'unsafe-inline'")).toBe(false);
  expect(csp.get('style-src')?.some((source) => source === "'unsafe-inline'")).toBe(false);
  expect(response.headers.get('x-frame-options')).toBe('DENY');
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  return csp;
}

/** The login page of a fresh authorization request, fetched as a browser would. */
async function loginPage(browser: HttpBrowser): Promise<Response> {
  const start = await browser.request(authorizationUrl());
  expect(start.status).toBe(303);
  return browser.request(new URL(start.headers.get('location')!, server.issuer));
}

describe("the provider's pages refuse framing and inline code (docs/security.md)", () => {
  it('sends a strict CSP, X-Frame-Options DENY, nosniff and no-referrer with the login page, whose form may end at the client', async () => {
    const page = await loginPage(new HttpBrowser());
    expect(page.status).toBe(200);
    const csp = expectStrictPage(page);
    // The sign-in ends with a redirect to the client's redirect URI, which form-action governs too.
    expect(csp.get('form-action')).toEqual(["'self'", DEMO_ORIGIN]);
    const html = await page.text();
    const nonce = /<style nonce="([^"]+)">/.exec(html)?.[1];
    expect(nonce).toBeDefined();
    expect(csp.get('style-src')).toEqual(["'self'", `'nonce-${nonce}'`]);
  });

  it('sends the same headers with a login page refused for a wrong password', async () => {
    const browser = new HttpBrowser();
    const page = await loginPage(browser);
    const action = /<form method="post" action="([^"]+)"/.exec(await page.text())![1]!;
    const refused = await browser.request(new URL(action, server.issuer), { form: { login: 'alice', password: 'wrong' } });
    expect(refused.status).toBe(401);
    expect(expectStrictPage(refused).get('form-action')).toEqual(["'self'", DEMO_ORIGIN]);
  });

  it('sends them with the consent page', async () => {
    const browser = new HttpBrowser();
    const stop = await browser.navigate(authorizationUrl(), { until: (url) => url.origin === DEMO_ORIGIN, login: { login: 'alice', password: PASSWORD } });
    expect(stop.html).toContain('<h1>Allow access</h1>');
    const consent = await browser.request(stop.url);
    expect(consent.status).toBe(200);
    expect(await consent.text()).toContain('<h1>Allow access</h1>');
    expect(expectStrictPage(consent).get('form-action')).toEqual(["'self'", DEMO_ORIGIN]);
  });

  it("sends them with the logout confirmation, whose form may end at the client's post-logout URI", async () => {
    const browser = new HttpBrowser();
    await browser.navigate(authorizationUrl(), { until: (url) => url.origin === DEMO_ORIGIN, login: { login: 'alice', password: PASSWORD }, consent: true });
    const logout = await browser.request(`${server.issuer}/session/end?client_id=demo-app&post_logout_redirect_uri=${encodeURIComponent(`${DEMO_ORIGIN}/signed-out`)}`);
    expect(logout.status).toBe(200);
    expect(await logout.text()).toContain('<h1>Sign out</h1>');
    expect(expectStrictPage(logout).get('form-action')).toEqual(["'self'", DEMO_ORIGIN]);
  });

  it('sends them with the signed-out page', async () => {
    const page = await fetch(`${server.issuer}/session/end/success`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1>Signed out</h1>');
    expect(expectStrictPage(page).get('form-action')).toEqual(["'self'"]);
  });

  it('sends them with the error page, and no form target from the request', async () => {
    const page = await fetch(`${server.issuer}/auth?client_id=nobody&response_type=code&redirect_uri=${encodeURIComponent('https://attacker.example/cb')}`);
    expect(page.status).toBe(400);
    const html = await page.text();
    expect(html).toContain('<h1>Sign-in failed</h1>');
    expect(html).toContain('invalid_client');
    expect(expectStrictPage(page).get('form-action')).toEqual(["'self'"]);
  });

  it("lets oidc-provider's own auto-submitting form_post page run its one script, and post to the client only", async () => {
    const browser = new HttpBrowser();
    await browser.navigate(authorizationUrl(), { until: (url) => url.origin === DEMO_ORIGIN, login: { login: 'alice', password: PASSWORD }, consent: true });
    const start = await browser.request(authorizationUrl({ response_mode: 'form_post' }));
    expect(start.status).toBe(200);
    const html = await start.text();
    expect(html).toContain('<title>Submitting Callback</title>');
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    const csp = expectStrictPage(start);
    expect(csp.get('script-src')).toContain(`'sha256-${createHash('sha256').update(script).digest('base64')}'`);
    expect(csp.get('form-action')).toEqual(["'self'", DEMO_ORIGIN]);
  });

  it("lets oidc-provider's auto-submitting logout, posted when another account signs in, run its one script and end at the client", async () => {
    const browser = new HttpBrowser();
    await browser.navigate(authorizationUrl(), { until: (url) => url.origin === DEMO_ORIGIN, login: { login: 'alice', password: PASSWORD }, consent: true });
    const stop = await browser.navigate(authorizationUrl({ prompt: 'login' }), { until: () => false });
    const action = /<form method="post" action="([^"]+)"/.exec(stop.html)![1]!;
    const signedIn = await browser.request(new URL(action, server.issuer), { form: { login: 'bob', password: PASSWORD } });
    const resume = await browser.request(new URL(signedIn.headers.get('location')!, server.issuer));
    expect(resume.status).toBe(200);
    const html = await resume.text();
    expect(html).toContain('<title>Submitting Callback</title>');
    expect(html).toContain('name="logout" value="yes"');
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    const csp = expectStrictPage(resume);
    expect(csp.get('script-src')).toContain(`'sha256-${createHash('sha256').update(script).digest('base64')}'`);
    // It posts here, and the sign-in it resumes ends at the client: form-action governs that redirect.
    expect(csp.get('form-action')).toEqual(["'self'", DEMO_ORIGIN]);
  });
});
