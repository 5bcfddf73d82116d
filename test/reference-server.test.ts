import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { signInThroughLoginPage } from '../src/server/demo-login.js';
import { HttpBrowser } from './helpers/http-browser.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('the reference server (docs/reference-server.md)', () => {
  it('refuses a wrong password on the login page', async () => {
    const start = await fetch(`${server.issuer}/admin/login`, { redirect: 'manual' });
    await expect(
      signInThroughLoginPage({ authorizationUrl: start.headers.get('location')!, redirectUri: `${server.issuer}/admin/callback`, login: 'support', password: 'wrong' }),
    ).rejects.toThrow('sign-in refused: Invalid login or password.');
  });

  it('names the app by its client_name on the sign-in page, never its client id', async () => {
    const start = await fetch(`${server.issuer}/admin/login`, { redirect: 'manual' });
    const authorize = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const cookie = authorize.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const login = await fetch(new URL(authorize.headers.get('location')!, server.issuer), { headers: { cookie } });
    const html = await login.text();
    expect({ status: login.status, named: /<p>to continue to <strong>([^<]*)<\/strong><\/p>/.exec(html)?.[1] }).toEqual({ status: 200, named: 'Support console' });
  });

  it('answers /favicon.ico with an icon, not a 404', async () => {
    const response = await fetch(`${server.issuer}/favicon.ico`);
    expect({ status: response.status, type: response.headers.get('content-type') }).toEqual({ status: 200, type: 'image/svg+xml' });
    expect(await response.text()).toMatch(/^<svg /);
  });

  it('signs the support agent in to the console, keeping the tokens on the server', async () => {
    const browser = new HttpBrowser();
    const users = await browser.navigate(`${server.issuer}/admin/login`, { until: () => false, login: { login: 'support', password: 'demo-password' } });
    expect(users.status).toBe(200);
    expect(users.url.pathname).toBe('/admin/users');
    expect(users.html).toContain('<span class="who">Sam Support</span>');
    expect(users.html).not.toMatch(/eyJ|access_token/);
    expect(browser.cookies(server.issuer)).toContain('console.session');
    const page = await browser.request(`${server.issuer}/admin/users`);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('refuses a console callback it did not start', async () => {
    const page = await fetch(`${server.issuer}/admin/callback?code=abc&state=forged`);
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('Sign-in failed: the sign-in has expired or was started in another browser');
  });
});
