import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import pino from 'pino';
import { REDACT_PATHS } from '../src/observability/logger.js';
import { signInThroughLoginPage } from '../src/server/demo-login.js';
import { BILLING, METRICS_TOKEN, ORDERS, ORDERS_API, PASSWORD, REASON, SUPPORT_CONSOLE, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
const logLines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
  server = await startTestServer({ logger, policy: { rateLimit: { points: 40, durationSeconds: 60 } } });
});
afterAll(() => server.close());

describe('/metrics (prom-client)', () => {
  it('counts exchanges by outcome and rule, times them, and reports live impersonations', async () => {
    const actor = (await server.signIn('support')).access_token;
    await server.exchange(impersonate(actor, 'alice', { resource: BILLING }));
    await server.exchange(impersonate(actor, 'root'));
    const response = await fetch(`${server.issuer}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(/^token_exchange_requests_total\{outcome="granted",rule=""\} \d+$/m);
    expect(text).toMatch(/^token_exchange_requests_total\{outcome="denied",rule="subject_protected"\} 1$/m);
    expect(text).toMatch(/^token_exchange_duration_seconds_count\{outcome="granted"\} \d+$/m);
    expect(text).toMatch(/^impersonations_live [1-9]\d*$/m);
    expect(text).toContain('webhook_delivery_failures_total 0');
  });

  it('refuses a scrape without a credential: 401, a Bearer challenge, no metric', async () => {
    const response = await fetch(`${server.issuer}/metrics`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect(await response.json()).toEqual({ error: 'invalid_token', error_description: '/metrics needs the metrics bearer token' });
  });

  it('refuses a scrape with a wrong token, or a token in another scheme', async () => {
    for (const authorization of [`Bearer ${METRICS_TOKEN}x`, `Basic ${Buffer.from(`metrics:${METRICS_TOKEN}`).toString('base64')}`, 'Bearer ']) {
      const response = await fetch(`${server.issuer}/metrics`, { headers: { authorization } });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="metrics", error="invalid_token"');
      const body = await response.text();
      expect(JSON.parse(body)).toEqual({ error: 'invalid_token', error_description: '/metrics needs the metrics bearer token' });
      expect(body).not.toContain('impersonations_live');
    }
  });
});

describe('logs and audit records never hold a credential (docs/audit.md)', () => {
  it('keeps every token, secret and password out of logs and audit records along every error path', async () => {
    const secrets = new Set<string>([PASSWORD, SUPPORT_CONSOLE.secret, ORDERS_API.secret]);
    const keep = (value: unknown) => {
      if (typeof value === 'string' && value.length >= 8) secrets.add(value);
      return value as string;
    };
    const signedIn = await server.signIn('support');
    const actor = keep(signedIn.access_token);
    keep(signedIn.id_token);
    const opaque = keep((await server.exchange(impersonate(actor, 'alice', { resource: BILLING }))).body.access_token);
    const jwt = keep((await server.exchange(impersonate(actor, 'alice', { resource: ORDERS }))).body.access_token);
    const chained = keep((await server.exchange({ subject_token: jwt, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API)).body.access_token);

    // every refusal family, with real tokens in the request
    await server.exchange(impersonate(actor, 'root'));
    await server.exchange(impersonate(actor, 'carol'));
    await server.exchange(impersonate(actor, 'nobody'));
    await server.exchange(impersonate(opaque, 'bob'));
    await server.exchange(impersonate(`${actor}tampered`, 'alice'));
    await server.exchange(impersonate(actor, 'alice', { reason: 'short' }));
    await server.exchange(impersonate(actor, 'alice', { scope: 'orders:write', resource: ORDERS }));
    await server.exchange(impersonate(actor, 'alice', { resource: 'https://unknown.example' }));
    await server.exchange(impersonate(actor, 'alice', { requested_token_type: TokenType.refreshToken }));
    await server.exchange({ ...impersonate(actor, 'alice'), subject_token: ['alice', 'bob'] });
    await server.exchange(impersonate(actor, 'alice'), { id: SUPPORT_CONSOLE.id, secret: 'wrong-secret-value' });
    await server.exchange(impersonate(actor, 'alice'), { id: 'plain-client', secret: 'plain-client-secret' });
    secrets.add('plain-client-secret');
    await server.exchange(impersonate(actor, 'alice'), SUPPORT_CONSOLE, { dpop: 'not.a.proof' });
    await server.exchange({ subject_token: chained, subject_token_type: TokenType.accessToken }, SUPPORT_CONSOLE);
    // introspection, revocation, admin API, login failure
    await server.post('/token/introspection', { token: opaque }, ORDERS_API);
    await server.post('/token/introspection', { token: jwt }, { id: 'service-x', secret: 'service-x-secret' });
    secrets.add('service-x-secret');
    await server.post('/token/revocation', { token: jwt }, SUPPORT_CONSOLE);
    await server.post('/token/revocation', { token: opaque }, SUPPORT_CONSOLE);
    await fetch(`${server.issuer}/admin/api/impersonations`, { headers: { authorization: `Bearer ${actor}` } });
    await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${opaque}` } });
    const start = await fetch(`${server.issuer}/admin/login`, { redirect: 'manual' });
    const wrong = 'wrong-password-value';
    secrets.add(wrong);
    await expect(signInThroughLoginPage({ authorizationUrl: start.headers.get('location')!, redirectUri: `${server.issuer}/admin/callback`, login: 'support', password: wrong })).rejects.toThrow('sign-in refused');
    await fetch(`${server.issuer}/admin/callback?code=some-authorization-code-value&state=x`);
    secrets.add('some-authorization-code-value');
    await server.reference.exchange.revoke({ all: true });

    const logs = logLines.join('');
    const audit = JSON.stringify(server.audit.records());
    expect(logLines.length).toBeGreaterThan(20);
    for (const secret of secrets) {
      expect(logs.includes(secret) ? `log holds ${secret.slice(0, 12)}…` : 'clean').toBe('clean');
      expect(audit.includes(secret) ? `audit holds ${secret.slice(0, 12)}…` : 'clean').toBe('clean');
    }
    expect(logs).not.toContain(REASON);
  });
});
