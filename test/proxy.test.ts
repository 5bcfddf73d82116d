import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { HttpBrowser } from './helpers/http-browser.js';
import { PASSWORD, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/** TRUST_PROXY behind TLS termination (docs/security.md, "What an operator must do"). */
let behindProxy: TestServer;
let direct: TestServer;
beforeAll(async () => {
  [behindProxy, direct] = await Promise.all([startTestServer({ proxy: 1 }), startTestServer()]);
});
afterAll(async () => {
  await Promise.all([behindProxy?.close(), direct?.close()]);
});

const HTTPS = { 'x-forwarded-proto': 'https' };
const DEMO_ORIGIN = 'http://localhost:3001';

/** Signs alice in to demo-app as a browser behind the proxy would, and returns every cookie the provider set, by name. */
async function providerCookies(server: TestServer): Promise<Map<string, string>> {
  const browser = new HttpBrowser();
  const cookies = new Map<string, string>();
  const params = new URLSearchParams({
    client_id: 'demo-app',
    response_type: 'code',
    redirect_uri: `${DEMO_ORIGIN}/callback`,
    scope: 'openid',
    code_challenge: createHash('sha256').update('verifier').digest('base64url'),
    code_challenge_method: 'S256',
  });
  let url = new URL(`${server.issuer}/auth?${params.toString()}`);
  let form: Record<string, string> | undefined;
  for (let hop = 0; hop < 10 && url.origin !== DEMO_ORIGIN; hop += 1) {
    const response = await browser.request(url, { headers: HTTPS, ...(form ? { form } : {}) });
    for (const line of response.headers.getSetCookie()) cookies.set(line.slice(0, line.indexOf('=')), line);
    const location = response.headers.get('location');
    const action = /<form method="post" action="([^"]+)"/.exec(location ? '' : await response.text())?.[1];
    const next = location ?? action;
    if (!next) throw new Error(`stopped at ${url.pathname} with ${response.status}`);
    form = action ? (action.endsWith('/login') ? { login: 'alice', password: PASSWORD } : {}) : undefined;
    url = new URL(next, url);
    // The proxy terminates TLS: what the provider calls https://<its host> reaches it as http.
    if (url.protocol === 'https:' && url.host === new URL(server.issuer).host) url.protocol = 'http:';
  }
  return cookies;
}

const secure = (line: string | undefined) => /;\s*secure/i.test(line ?? '');

describe('TRUST_PROXY: a deployment behind TLS termination', () => {
  it("marks the provider's interaction and session cookies Secure when the trusted proxy says https", async () => {
    const cookies = await providerCookies(behindProxy);
    for (const name of ['_interaction', '_interaction_resume', '_session']) {
      expect([name, secure(cookies.get(name))]).toEqual([name, true]);
    }
  });

  it("marks the console's sign-in cookie Secure when the trusted proxy says https", async () => {
    const response = await fetch(`${behindProxy.issuer}/admin/login`, { redirect: 'manual', headers: HTTPS });
    const line = response.headers.getSetCookie().find((c) => c.startsWith('console.signin='));
    expect(secure(line)).toBe(true);
  });

  it('ignores X-Forwarded-Proto without the setting: no cookie is marked Secure', async () => {
    const cookies = await providerCookies(direct);
    for (const name of ['_interaction', '_interaction_resume', '_session']) {
      expect([name, secure(cookies.get(name))]).toEqual([name, false]);
    }
    const response = await fetch(`${direct.issuer}/admin/login`, { redirect: 'manual', headers: HTTPS });
    const line = response.headers.getSetCookie().find((c) => c.startsWith('console.signin='));
    expect([line?.startsWith('console.signin='), secure(line)]).toEqual([true, false]);
  });

  it('counts the address the trusted proxy appended to X-Forwarded-For, not what the client wrote before it', async () => {
    const mark = behindProxy.auditMark();
    const refused = await behindProxy.exchange(impersonate('not-a-token', 'alice'), null, { 'x-forwarded-for': '198.51.100.66, 203.0.113.9' });
    expect(refused.status).toBe(400);
    expect(behindProxy.auditSince(mark).map((record) => record.ip)).toEqual(['203.0.113.9']);
  });

  it('ignores X-Forwarded-For without the setting: the peer address counts', async () => {
    const mark = direct.auditMark();
    const refused = await direct.exchange(impersonate('not-a-token', 'alice'), null, { 'x-forwarded-for': '203.0.113.9' });
    expect(refused.status).toBe(400);
    expect(direct.auditSince(mark).map((record) => record.ip)).toEqual([expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/)]);
  });
});
