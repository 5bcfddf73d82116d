import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AuditEvent, AuditSink } from '../src/audit/events.js';
import { expectRefusal } from './helpers/refusal.js';
import { ORDERS, ORDERS_API, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/** A sink that can be told to fail, as a full disk or a lost connection would. */
class FlakySink implements AuditSink {
  readonly records: AuditEvent[] = [];
  failing = false;
  async write(event: AuditEvent): Promise<void> {
    if (this.failing) throw new Error('audit store unavailable');
    this.records.push(event);
  }
}

let server: TestServer;
let sink: FlakySink;
let support: string;

beforeAll(async () => {
  sink = new FlakySink();
  server = await startTestServer({ audit: sink });
  support = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

describe('no audit, no token (docs/audit.md)', () => {
  it('issues nothing and answers server_error when the audit record cannot be written', async () => {
    sink.failing = true;
    const before = server.issuedCount();
    try {
      const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }));
      expect({ status: result.status, body: result.body }).toEqual({ status: 500, body: { error: 'server_error', error_description: 'oops! something went wrong' } });
    } finally {
      sink.failing = false;
    }
    expect(server.issuedCount()).toBe(before);
  });

  it('still refuses with the refusal itself when a denial cannot be audited', async () => {
    sink.failing = true;
    try {
      const result = await server.exchange(impersonate(support, 'root'));
      expect({ status: result.status, body: result.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'subject cannot be impersonated by this actor' } });
    } finally {
      sink.failing = false;
    }
  });

  it('issues again once the audit store is back', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }));
    expect(result.status).toBe(200);
    expect(sink.records.at(-1)).toMatchObject({ event: 'exchange.granted', outcome: 'granted' });
  });
});

describe('no token value in any audit record (docs/audit.md)', () => {
  it('keeps every presented and issued token out of the records of granted and refused exchanges', async () => {
    const secrets = [support];
    const granted = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }));
    secrets.push(granted.body.access_token as string);
    const opaque = await server.exchange(impersonate(support, 'alice', { scope: 'openid' }));
    secrets.push(opaque.body.access_token as string);
    await server.exchange(impersonate(granted.body.access_token as string, 'bob'));
    await server.exchange({ subject_token: opaque.body.access_token as string, subject_token_type: TokenType.accessToken }, ORDERS_API);
    await server.exchange(impersonate(support, 'carol'));
    await server.exchange(impersonate(`${support}x`, 'alice'));
    await server.exchange({ ...impersonate(support, 'alice'), subject_token: ['alice', 'bob'] });
    await server.exchange(impersonate(support, 'alice'), { id: 'support-console', secret: 'wrong' });
    const text = JSON.stringify(sink.records);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain('support-console-secret');
  });

  it('records an opaque token by the SHA-256 of its value, never the value', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { scope: 'openid' }));
    const value = result.body.access_token as string;
    expect(sink.records.at(-1)?.token_id).toBe(`sha256:${createHash('sha256').update(value).digest('base64url')}`);
  });

  it('audits a refusal oidc-provider makes before the grant runs', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice'), { id: 'support-console', secret: 'wrong' }), {
      status: 401,
      error: 'invalid_client',
      description: 'client authentication failed',
      rule: 'client_authentication_failed',
    });
  });
});
