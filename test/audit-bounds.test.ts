import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { AUDIT_RECORD_MAX_BYTES, boundFields, boundIdentity, boundString, containsToken, FIELD_BOUNDS, jsonBytes, LOG_LINE_MAX_BYTES, redactTokens } from '../src/audit/bounds.js';
import { boundedLogger, type Logger } from '../src/observability/logger.js';
import { captureLogs } from './helpers/logs.js';
import { expectRefusal } from './helpers/refusal.js';
import { REASON, SUPPORT_CONSOLE, TOKEN_EXCHANGE_GRANT, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/*
 * Issue 8, findings 1 and 7: nothing a caller sends is recorded or logged beyond its field's bound,
 * unauthenticated refusals stay cheap and are limited per address, and an id that looks like a
 * credential is recorded only as a digest.
 */

let server: TestServer;
let actor: string;
let idToken: string;
const logs = captureLogs();

beforeAll(async () => {
  server = await startTestServer({ logger: logs.logger, policy: { unauthenticatedRateLimit: { points: 3, durationSeconds: 60 } } });
  const signedIn = await server.signIn('support');
  actor = signedIn.access_token;
  idToken = signedIn.id_token!;
});
afterAll(() => server.close());

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('bounded fields (finding 1)', () => {
  it('cuts a field at its byte bound on a character boundary, with a marker and a digest of the whole', () => {
    const cut = boundString('é'.repeat(100), 64);
    expect(jsonBytes(cut)).toBeLessThanOrEqual(64);
    expect(cut).toMatch(/^(é)+…\[cut sha256:[\w-]{16}\]$/);
    expect(boundString('😀'.repeat(40), 64)).toMatch(/^(😀)+…\[cut sha256:[\w-]{16}\]$/);
    expect(boundString('same', 64)).toBe('same');
  });

  it('keeps a valid reason whole, even 500 characters of four bytes each', () => {
    const reason = '𝒜'.repeat(500);
    expect(boundFields({ reason }).reason).toBe(reason);
    expect(jsonBytes(reason)).toBeLessThanOrEqual(FIELD_BOUNDS.reason!);
  });

  it('bounds every field of a record built from hostile input below the record bound', () => {
    const hostile = '"\u0001'.repeat(40_000);
    const record = boundFields({
      id: hostile, time: hostile, event: hostile, outcome: hostile, rule: hostile, actor: hostile, subject: hostile, client_id: hostile,
      reason: hostile, scope: hostile, audience: Array.from({ length: 50 }, () => hostile), token_id: hostile, expires_at: hostile,
      ip: hostile, user_agent: hostile, request_id: hostile, prev_hash: 'f'.repeat(64), hash: 'f'.repeat(64),
    });
    expect(bytes(record)).toBeLessThanOrEqual(AUDIT_RECORD_MAX_BYTES);
  });

  it('records the client_id of an unauthenticated request cut to its bound, not at 50 KB', async () => {
    const clientId = 'client id '.repeat(5_000);
    const { record } = await expectRefusal(server, () => server.post('/token', { grant_type: TOKEN_EXCHANGE_GRANT, client_id: clientId, ...impersonate(actor, 'alice') }, null), {
      status: 401,
      error: 'invalid_client',
      description: 'client authentication failed',
      rule: 'client_authentication_failed',
    });
    expect(record.client_id).toMatch(/^(client id )+[a-z ]*…\[cut sha256:[\w-]{16}\]$/);
    expect(jsonBytes(record.client_id!)).toBeLessThanOrEqual(FIELD_BOUNDS.client_id!);
    expect(bytes(record)).toBeLessThanOrEqual(AUDIT_RECORD_MAX_BYTES);
  });

  it('keeps every log line within its bound, whatever the path, user agent or ids a request carries', async () => {
    const mark = logs.lines.length;
    await fetch(`${server.issuer}/${'p'.repeat(8_000)}`, { headers: { 'user-agent': 'u'.repeat(8_000) } });
    await server.exchange(impersonate(actor, 's'.repeat(30_000)), SUPPORT_CONSOLE, { 'user-agent': 'u'.repeat(8_000) });
    const lines = logs.lines.slice(mark);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(LOG_LINE_MAX_BYTES);
    expect(server.audit.records().every((r) => bytes(r) <= AUDIT_RECORD_MAX_BYTES)).toBe(true);
  });
});

/*
 * The quick checks that let most fields skip the work (a field that cannot hold a token skips the
 * scan of its words; printable ASCII is measured by its length), held against the full scan and
 * the byte count they stand in for.
 */
describe('quick checks agree with the full work', () => {
  const CANDIDATES = /eyJ[\w-]{8,}(?:\.[\w-]*){1,4}|[\w-]+(?:\.[\w-]+)*/g;
  const shaped = (run: string) => {
    if (run.startsWith('eyJ') && run.includes('.')) return true;
    const chars = run.replaceAll('.', '');
    return chars.length >= 32 && /[A-Z]/.test(chars) && /[a-z]/.test(chars) && /[0-9]/.test(chars);
  };
  const fullRedaction = (text: string) => text.replace(CANDIDATES, (run) => (shaped(run) ? `[redacted sha256:${createHash('sha256').update(run).digest('base64url').slice(0, 16)}]` : run));
  const fullFit = (value: string, max: number) => {
    let total = 0;
    for (const char of value) total += Buffer.byteLength(JSON.stringify(char).slice(1, -1));
    return total <= max;
  };
  // Runs of base64url of every length around 32, dots, "eyJ", words and JSON-escaped characters.
  const fragment = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/),
    fc.constantFrom('.', ' ', 'eyJ', 'eyJhbGciOiJIUzI1NiJ9', '"', '""""', '\\', '\n', 'é', '😀', ': ', '#4711', '/', '+', '=', '~'.repeat(40)),
  );
  const text = fc.array(fragment, { maxLength: 12 }).map((parts) => parts.join(''));

  it('redacts exactly what the full scan of every run redacts', () => {
    fc.assert(
      fc.property(text, (value) => {
        expect(redactTokens(value)).toBe(fullRedaction(value));
        expect(containsToken(value)).toBe(fullRedaction(value) !== value);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a string whole exactly when its JSON-escaped bytes fit the bound', () => {
    fc.assert(
      // Bounds near the string's length, where one escaped character decides.
      fc.property(text, fc.integer({ min: -12, max: 12 }), (value, delta) => {
        const max = Math.max(50, value.length + delta);
        const bounded = boundString(value, max);
        expect(bounded === value).toBe(fullFit(value, max));
        expect(jsonBytes(bounded)).toBeLessThanOrEqual(max);
      }),
      { numRuns: 2000 },
    );
  });

  it("bounds no log line the logger's level drops, and bounds every line it writes", () => {
    const written: Array<Record<string, unknown>> = [];
    let enabled = false;
    const inner: Logger = { info: (fields) => written.push(fields), warn: (fields) => written.push(fields), error: (fields) => written.push(fields), isLevelEnabled: () => enabled };
    const logger = boundedLogger(inner);
    logger.info({ reason: 'x'.repeat(10_000) }, 'dropped');
    expect(written).toEqual([]);
    enabled = true;
    logger.info({ reason: 'x'.repeat(10_000) }, 'written');
    expect(written).toHaveLength(1);
    expect(jsonBytes(written[0]!.reason as string)).toBeLessThanOrEqual(FIELD_BOUNDS.reason!);
  });
});

describe('unauthenticated refusals, per address (finding 1)', () => {
  it('answers 429 with Retry-After once an address spends its budget, recording one summary per window, and to every request from it until the window ends', async () => {
    const local = await startTestServer({ policy: { unauthenticatedRateLimit: { points: 2, durationSeconds: 60 } } });
    try {
      const token = (await local.signIn('support')).access_token;
      const wrong = { id: SUPPORT_CONSOLE.id, secret: 'wrong' };
      for (let i = 0; i < 2; i += 1) {
        await expectRefusal(local, () => local.exchange(impersonate(token, 'alice'), wrong), {
          status: 401,
          error: 'invalid_client',
          description: 'client authentication failed',
          rule: 'client_authentication_failed',
        });
      }
      const { result } = await expectRefusal(local, () => local.exchange(impersonate(token, 'alice'), wrong), {
        status: 429,
        error: 'invalid_request',
        description: 'too many unauthenticated requests from this address; retry later',
        rule: 'unauthenticated_rate_limited',
      });
      expect(Number(result.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(result.headers.get('www-authenticate')).toBeNull();

      const mark = local.auditMark();
      const again = await local.exchange(impersonate(token, 'alice'), null);
      expect({ status: again.status, body: again.body }).toEqual({
        status: 429,
        body: { error: 'invalid_request', error_description: 'too many unauthenticated requests from this address; retry later' },
      });
      expect(local.auditSince(mark)).toEqual([]);

      // The right secret from the same address waits too, so a guess over the budget learns nothing
      // (another address is unaffected: test/endpoint-refusals.test.ts); nothing is issued or audited.
      const issued = local.issuedCount();
      const right = await local.exchange(impersonate(token, 'alice', { scope: 'openid' }));
      expect({ status: right.status, body: right.body }).toEqual({
        status: 429,
        body: { error: 'invalid_request', error_description: 'too many unauthenticated requests from this address; retry later' },
      });
      expect(local.issuedCount()).toBe(issued);
      expect(local.auditSince(mark)).toEqual([]);
    } finally {
      await local.close();
    }
  });
});

describe('ids that look like credentials (finding 7)', () => {
  it('records and logs an access token offered as a user-id subject only as a digest', async () => {
    const mark = logs.lines.length;
    const { record } = await expectRefusal(server, () => server.exchange(impersonate(actor, actor)), {
      status: 400,
      error: 'invalid_request',
      description: 'subject cannot be impersonated by this actor',
      rule: 'subject_unknown',
    });
    expect(record.subject).toMatch(/^\[redacted sha256:[\w-]{16}\]$/);
    expect(JSON.stringify(server.audit.records())).not.toContain(actor);
    expect(logs.lines.slice(mark).join('\n')).not.toContain(actor);
  });

  it('records and logs a JWT offered as a user-id subject only as a digest', async () => {
    const mark = logs.lines.length;
    const { record } = await expectRefusal(server, () => server.exchange(impersonate(actor, idToken)), {
      status: 400,
      error: 'invalid_request',
      description: 'subject cannot be impersonated by this actor',
      rule: 'subject_unknown',
    });
    expect(record.subject).toMatch(/^\[redacted sha256:[\w-]{16}\]$/);
    expect(logs.lines.slice(mark).join('\n')).not.toContain(idToken.split('.')[1]!);
  });

  it('records and logs a token split by a dot, offered as a user-id subject, only as a digest', async () => {
    const dotted = 'Xq7LmN2pR9sT4vW1yZ3a.bC5dE8fG0hJ6kM2nP4qR7st';
    const mark = logs.lines.length;
    const auditMark = server.auditMark();
    const { record } = await expectRefusal(server, () => server.exchange(impersonate(actor, dotted)), {
      status: 400,
      error: 'invalid_request',
      description: 'subject cannot be impersonated by this actor',
      rule: 'subject_unknown',
    });
    expect(record.subject).toMatch(/^\[redacted sha256:[\w-]{16}\]$/);
    expect(JSON.stringify(server.auditSince(auditMark))).not.toContain(dotted);
    for (const part of dotted.split('.')) expect(logs.lines.slice(mark).join('\n')).not.toContain(part);
  });

  it('records plausible account and client ids as they are', () => {
    for (const id of ['alice', 'support-console', '8a3c2f1e-5b7d-4c9a-9e2f-1d3b5a7c9e0f', 'ann.lee@example.com', 'auth0|5f7c8ec7c33c6c004bbafe82', 'Kx9bQ2LmN4pR7sT1vW3yZ5aC', 'user.name@example.com', 'first.last.2024', 'svc.orders-api.prod-eu-west-1']) {
      expect(boundIdentity(id)).toBe(id);
    }
    expect(boundFields({ reason: REASON, subject: 'alice' })).toEqual({ reason: REASON, subject: 'alice' });
  });
});
