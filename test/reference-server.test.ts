import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { signInThroughLoginPage } from '../src/server/demo-login.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('the reference server (SPEC §8)', () => {
  it('refuses a wrong password on the login page', async () => {
    const start = await fetch(`${server.issuer}/admin/login`, { redirect: 'manual' });
    await expect(
      signInThroughLoginPage({ authorizationUrl: start.headers.get('location')!, redirectUri: `${server.issuer}/admin/callback`, login: 'support', password: 'wrong' }),
    ).rejects.toThrow('sign-in refused: Invalid login or password.');
  });

  it('signs the support agent in to the console and shows the actor token', async () => {
    const start = await fetch(`${server.issuer}/admin/login`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const consoleCookies = start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const callback = await signInThroughLoginPage({
      authorizationUrl: new URL(start.headers.get('location')!, server.issuer).href,
      redirectUri: `${server.issuer}/admin/callback`,
      login: 'support',
      password: 'demo-password',
    });
    const page = await fetch(callback, { headers: { cookie: consoleCookies } });
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    const token = /<pre id="access-token">([^<]+)<\/pre>/.exec(await page.text())?.[1];
    const introspection = await server.post('/token/introspection', { token: token! }, { id: 'orders-api', secret: 'orders-api-secret' });
    expect(introspection.body).toMatchObject({ active: true, sub: 'support', client_id: 'support-console' });
  });

  it('refuses a console callback whose state does not match', async () => {
    const page = await fetch(`${server.issuer}/admin/callback?code=abc&state=forged`);
    expect(page.status).toBe(400);
    expect(await page.text()).toContain('state mismatch or missing code');
  });
});
