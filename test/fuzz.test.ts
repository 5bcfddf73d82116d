import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { AUDIT_RECORD_MAX_BYTES, containsToken, LOG_LINE_MAX_BYTES } from '../src/audit/bounds.js';
import type { AuditEvent } from '../src/audit/events.js';
import type { AuditLog } from '../src/audit/log.js';
import { MemoryAuditLog } from '../src/store/audit-memory.js';
import { captureLogs } from './helpers/logs.js';
import { BILLING, ORDERS, ORDERS_API, REASON, SUPPORT_CONSOLE, TOKEN_EXCHANGE_GRANT, TokenType, impersonate, startTestServer, type HttpResult, type TestServer } from './helpers/server.js';

/*
 * Property-based fuzzing of every endpoint a caller can reach (issue 8, "prove it stays shut"):
 * the token endpoint (token exchange), introspection, revocation and the admin API. For every
 * request: never a 5xx; never a token for a request that cannot be valid; every refused exchange
 * and every refused revocation of an exchanged token audited, once; no audit record and no log
 * line beyond its bound; no token value in either. FUZZ_RUNS sets the number of cases (10,000 in
 * `npm test`, 100,000 with `npm run fuzz`).
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const REVOCATION_NOT_ALLOWED = 'client is not authorized to revoke the presented token';

const CLIENTS = {
  console: { id: SUPPORT_CONSOLE.id, secret: SUPPORT_CONSOLE.secret },
  orders: { id: ORDERS_API.id, secret: ORDERS_API.secret },
  serviceX: { id: 'service-x', secret: 'service-x-secret' },
  plain: { id: 'plain-client', secret: 'plain-client-secret' },
  demo: { id: 'demo-app', secret: 'demo-app-secret' },
  wrongSecret: { id: SUPPORT_CONSOLE.id, secret: 'not-the-secret' },
  unknown: { id: 'no-such-client', secret: 'whatever' },
} as const;
type ClientName = keyof typeof CLIENTS | 'public' | 'none';

/** Placeholders the generators use for the real tokens, swapped in at request time. */
const REAL = ['ACTOR', 'ALICE', 'ALICE_ID', 'IMP_JWT', 'IMP_OPAQUE', 'IMP_ID', 'ADMIN'] as const;
type Real = (typeof REAL)[number];

let server: TestServer;
const logs = captureLogs();
/** Answers by endpoint and status, printed with FUZZ_STATS=1. */
const stats = new Map<string, number>();
/** Records written during the current case (the chained log in memory, seen as it appends). */
const written: AuditEvent[] = [];
const real = {} as Record<Real, string>;
/** Live exchanged tokens for introspection and revocation, and whether they were revoked. */
const pool: Array<{ value: string; revoked: boolean }> = [];
const secrets = new Set<string>();

beforeAll(async () => {
  const chained = new MemoryAuditLog();
  const auditLog: AuditLog = {
    append: async (event, jobs) => {
      const record = await chained.append(event, jobs);
      written.push(record);
      return record;
    },
    read: (after, count) => chained.read(after, count),
    readBackwards: (before, count) => chained.readBackwards(before, count),
    claimDue: (now, lease, max) => chained.claimDue(now, lease, max),
    settle: (id) => chained.settle(id),
    reschedule: (job, at) => chained.reschedule(job, at),
    bury: (job, reason) => chained.bury(job, reason),
    deadLetters: () => chained.deadLetters(),
  };
  server = await startTestServer({ auditLog, logger: logs.logger, policy: { rateLimit: false, clientRateLimit: false, unauthenticatedRateLimit: false } });
  const support = await server.signIn('support');
  const alice = await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid profile orders:read billing:read');
  real.ACTOR = support.access_token;
  real.ALICE = alice.access_token;
  real.ALICE_ID = alice.id_token!;
  real.ADMIN = (await server.signIn('admin', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
  const issue = async (extra: Record<string, string>) => (await server.exchange(impersonate(real.ACTOR, 'alice', extra))).body.access_token as string;
  real.IMP_JWT = await issue({ resource: ORDERS });
  real.IMP_OPAQUE = await issue({ resource: BILLING });
  real.IMP_ID = await issue({ requested_token_type: TokenType.idToken, scope: 'openid' });
  for (let i = 0; i < 8; i += 1) pool.push({ value: await issue({ resource: i % 2 ? ORDERS : BILLING }), revoked: false });
  for (const value of [...Object.values(real), ...pool.map((p) => p.value)]) secrets.add(value);
  for (const client of Object.values(CLIENTS)) secrets.add(client.secret);
}, 60_000);
afterAll(async () => {
  if (process.env.FUZZ_STATS) process.stderr.write(`${[...stats].sort().map(([key, n]) => `${key}: ${n}`).join('\n')}\n`);
  await server.close();
});

// ---- generators -------------------------------------------------------------------------------

const shortText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('a.b.c', 'eyJ.eyJ.', '%00', '__proto__', 'constructor', 'alice', 'bob', 'root', 'carol', 'nobody', 'support', ''),
);
const longText = fc.string({ minLength: 200, maxLength: 1200, unit: fc.constantFrom('a', 'Z', '9', '-', '.', ' ', 'é', '😀', '"', '\\', '\u202E') });
const text = fc.oneof({ weight: 6, arbitrary: shortText }, { weight: 1, arbitrary: longText });
const realToken = fc.constantFrom<Real>(...REAL);
const tokenValue = fc.oneof({ weight: 3, arbitrary: realToken as fc.Arbitrary<string> }, { weight: 2, arbitrary: text });
const tokenTypes = fc.constantFrom<string>(...Object.values(TokenType), 'urn:x', '', ' ');
const reasons = fc.oneof(
  text,
  fc.constantFrom(REASON, '0123456789', 'y'.repeat(500), 'x'.repeat(501), '   short   '),
  fc.tuple(fc.constantFrom('\u200B', '\u202E', '\u2066', '\uFEFF', '\n', '\u0000', '\u2028'), fc.nat(30)).map(([c, at]) => `${REASON.slice(0, at)}${c}${REASON.slice(at)}`),
);
const once = <T>(value: fc.Arbitrary<T>) => fc.option(value, { nil: undefined, freq: 3 });
const param = (value: fc.Arbitrary<string>) => fc.option(fc.oneof({ weight: 8, arbitrary: value }, { weight: 1, arbitrary: fc.array(value, { minLength: 2, maxLength: 3 }) }), { nil: undefined, freq: 3 });

const exchangeRequest = fc.record({
  kind: fc.constant('token' as const),
  client: fc.constantFrom<ClientName>('console', 'console', 'console', 'orders', 'orders', 'serviceX', 'plain', 'demo', 'wrongSecret', 'unknown', 'public', 'none'),
  encoding: fc.constantFrom('form', 'form', 'form', 'form', 'form', 'form', 'form', 'form', 'json', 'duplicateGrant'),
  userAgent: once(text),
  requestId: once(text),
  dpop: once(fc.constantFrom('not.a.proof', 'eyJhbGciOiJub25lIn0.e30.')),
  params: fc.record({
    subject_token: param(fc.oneof(tokenValue, fc.constantFrom('alice', 'bob', 'root', 'carol', 'nobody', 'support'))),
    subject_token_type: param(tokenTypes),
    actor_token: param(tokenValue),
    actor_token_type: param(tokenTypes),
    requested_token_type: param(tokenTypes),
    requested_expires_in: param(fc.oneof(text, fc.integer().map(String), fc.constantFrom('60', '3600', '99999'))),
    reason: param(reasons),
    scope: param(fc.oneof(text, fc.constantFrom('openid', 'openid profile', 'orders:read offline_access', 'orders:write', 'billing:read', 'impersonation:admin'))),
    resource: param(fc.oneof(text, fc.constantFrom(ORDERS, BILLING))),
    audience: param(fc.oneof(text, fc.constantFrom(ORDERS))),
  }),
});

/** Valid requests (impersonation, delegation, chain, ID token) with up to two parameters changed: near misses and grants. */
const TEMPLATES: Array<{ client: ClientName; params: Record<string, string> }> = [
  { client: 'console', params: { subject_token: 'alice', subject_token_type: TokenType.userId, actor_token: 'ACTOR', actor_token_type: TokenType.accessToken, reason: REASON, resource: BILLING } },
  { client: 'console', params: { subject_token: 'bob', subject_token_type: TokenType.userId, actor_token: 'ACTOR', actor_token_type: TokenType.accessToken, reason: REASON, resource: ORDERS } },
  { client: 'console', params: { subject_token: 'alice', subject_token_type: TokenType.userId, actor_token: 'ACTOR', actor_token_type: TokenType.accessToken, reason: REASON, requested_token_type: TokenType.idToken, scope: 'openid' } },
  { client: 'console', params: { subject_token: 'ALICE', subject_token_type: TokenType.accessToken, scope: 'openid' } },
  { client: 'orders', params: { subject_token: 'IMP_JWT', subject_token_type: TokenType.accessToken, resource: ORDERS, requested_expires_in: '300' } },
];
const nearValidExchange = fc
  .record({
    template: fc.nat(TEMPLATES.length - 1),
    changes: fc.oneof(fc.constant([]), fc.array(fc.tuple(fc.constantFrom('subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'reason', 'scope', 'resource', 'requested_token_type', 'requested_expires_in'), fc.option(fc.oneof(tokenValue, reasons, tokenTypes, fc.constantFrom(ORDERS, BILLING, 'impersonation:admin', 'offline_access openid')), { nil: undefined })), { minLength: 1, maxLength: 2 })),
    client: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom<ClientName>('serviceX', 'public', 'wrongSecret', 'none') }),
    encoding: fc.constantFrom('form', 'form', 'form', 'form', 'form', 'form', 'form', 'form', 'json', 'duplicateGrant'),
  })
  .map(({ template, changes, client, encoding }) => {
    const base = TEMPLATES[template]!;
    const params: Record<string, string | string[] | undefined> = { ...base.params };
    for (const [name, value] of changes) params[name] = value;
    return { kind: 'token' as const, client: client ?? base.client, encoding, userAgent: undefined, requestId: undefined, dpop: undefined, params };
  });

const tokenRequest = (kind: 'introspection' | 'revocation') =>
  fc.record({
    kind: fc.constant(kind),
    client: fc.constantFrom<ClientName>('orders', 'orders', 'console', 'console', 'serviceX', 'plain', 'wrongSecret', 'unknown', 'none'),
    // The tokens the other cases rely on (actor, admin, alice, the chained JWT) are never revoked here.
    token: fc.oneof(
      { weight: 3, arbitrary: fc.nat(7).map((i) => `POOL:${i}`) },
      { weight: 2, arbitrary: kind === 'introspection' ? tokenValue : fc.oneof(text, fc.constantFrom('IMP_OPAQUE', 'IMP_ID')) },
    ),
    hint: once(fc.constantFrom('access_token', 'refresh_token', 'garbage')),
    duplicate: fc.boolean().map((b) => b && Math.random() < 0.1),
  });

const adminRequest = fc.record({
  kind: fc.constant('admin' as const),
  token: fc.oneof({ weight: 4, arbitrary: fc.constant('ADMIN') }, { weight: 1, arbitrary: tokenValue }),
  route: fc.constantFrom('impersonations', 'audit', 'settings', 'revocations', 'tickets', 'nothing'),
  query: fc.array(fc.tuple(fc.constantFrom('actor', 'subject', 'event', 'outcome', 'since', 'until', 'cursor', 'limit', 'x'), fc.oneof(text, fc.constantFrom('abc', '0-0', '1-1', '99999999999999999999-1', '2026-01-01T00:00:00Z', '5', 'exchange.denied'))), { maxLength: 4 }),
  // Bulk revocation of anyone but the actor whose tokens the other cases use.
  body: fc.oneof(
    fc.constant('{not json'),
    fc.record({ actor: fc.oneof(text, fc.constantFrom('nobody', 'carol')).filter((a) => a !== 'support') }).map((b) => JSON.stringify(b)),
    fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"all"') && !JSON.stringify(v).includes('support') && !JSON.stringify(v).includes('alice')).map((v) => JSON.stringify(v)),
  ),
  // docs/browser-impersonation.md §1 tickets (the same rules as an impersonation).
  ticket: fc
    .record({
      subject: fc.oneof(fc.constantFrom('alice', 'bob', 'root', 'carol', 'nobody'), text),
      client_id: fc.oneof(fc.constantFrom('demo-app', 'support-console', 'plain-client'), text),
      reason: fc.option(reasons, { nil: undefined }),
    })
    .map((b) => JSON.stringify(b)),
});

const anyRequest = fc.oneof(
  { weight: 3, arbitrary: exchangeRequest },
  { weight: 3, arbitrary: nearValidExchange },
  { weight: 2, arbitrary: tokenRequest('introspection') },
  { weight: 2, arbitrary: tokenRequest('revocation') },
  { weight: 1, arbitrary: adminRequest },
);
type Case = typeof anyRequest extends fc.Arbitrary<infer C> ? C : never;

// ---- sending ------------------------------------------------------------------------------------

const swap = (value: string): string => (REAL as readonly string[]).includes(value) ? real[value as Real] : value.startsWith('POOL:') ? pool[Number(value.slice(5))]!.value : value;

/** HTTP header values are bytes: anything else is sent as '?'. */
const headerSafe = (value: string) => value.replace(/[^\x20-\x7e]/g, '?');

function basic(client: { id: string; secret: string }): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
}

async function send(path: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<HttpResult> {
  const response = await fetch(new URL(path, server.issuer), init);
  const text = await response.text();
  let body: Record<string, unknown> = {};
  if (text) {
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { unparsable: text.slice(0, 200) };
    }
  }
  return { status: response.status, headers: response.headers, body };
}

function authOf(client: ClientName, headers: Record<string, string>, form: URLSearchParams): void {
  if (client === 'none') return;
  if (client === 'public') {
    form.append('client_id', 'public-app');
    return;
  }
  headers.authorization = basic(CLIENTS[client]);
}

function formOf(params: Record<string, string | string[] | undefined>): URLSearchParams {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const v of [value].flat()) form.append(name, swap(v));
  }
  return form;
}

// ---- the oracle: could this exchange request be granted at all? -----------------------------------

const SUBJECT_IDS = new Set(['alice', 'bob']);
/** Access tokens of the two accounts holding the impersonator role. */
const ACTORS = new Set<Real>(['ACTOR', 'ADMIN']);
const ACCESS_TOKEN_SUBJECTS = new Set<Real>(['ALICE', 'ACTOR', 'ADMIN', 'IMP_JWT', 'IMP_OPAQUE']);

function validReason(placeholder: string | undefined): boolean {
  if (placeholder === undefined) return true;
  const trimmed = swap(placeholder).trim();
  if (trimmed === '') return true;
  const length = [...trimmed].length;
  return length >= 10 && length <= 500 && !/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(trimmed) && !containsToken(trimmed);
}

function mayBeGranted(request: Extract<Case, { kind: 'token' }>): boolean {
  const { client, encoding, params } = request;
  if (client !== 'console' && client !== 'orders') return false;
  if (encoding !== 'form') return false;
  for (const [name, value] of Object.entries(params)) {
    if (Array.isArray(value) && name !== 'resource' && name !== 'audience') return false;
  }
  const p = params as Record<string, string | undefined>;
  if (!validReason(p.reason)) return false;
  if (p.requested_expires_in !== undefined && p.requested_expires_in !== '' && !/^[1-9][0-9]{0,9}$/.test(p.requested_expires_in)) return false;
  if (p.requested_token_type && ![TokenType.accessToken, TokenType.jwt, TokenType.idToken].includes(p.requested_token_type as never)) return false;
  if (p.actor_token && (!ACTORS.has(p.actor_token as Real) || p.actor_token_type !== TokenType.accessToken)) return false;
  if (p.subject_token_type === TokenType.userId) {
    return ACTORS.has(p.actor_token as Real) && SUBJECT_IDS.has(p.subject_token ?? '') && validReason(p.reason) && (p.reason ?? '').trim() !== '';
  }
  if (p.subject_token_type === TokenType.accessToken) return ACCESS_TOKEN_SUBJECTS.has(p.subject_token as Real);
  if (p.subject_token_type === TokenType.idToken || p.subject_token_type === TokenType.jwt) {
    return p.subject_token === 'ALICE_ID' || (p.subject_token_type === TokenType.jwt && p.subject_token === 'IMP_JWT');
  }
  return false;
}

// ---- one case -----------------------------------------------------------------------------------

async function runCase(request: Case): Promise<void> {
  written.length = 0;
  logs.lines.length = 0;
  const issuedBefore = server.issuedCount();
  let result: HttpResult;

  if (request.kind === 'token') {
    const headers: Record<string, string> = { accept: 'application/json' };
    const form = formOf(request.params);
    authOf(request.client, headers, form);
    if (request.userAgent !== undefined) headers['user-agent'] = headerSafe(request.userAgent);
    if (request.requestId !== undefined) headers['x-request-id'] = headerSafe(request.requestId);
    if (request.dpop !== undefined) headers.dpop = request.dpop;
    let body: string;
    if (request.encoding === 'json') {
      headers['content-type'] = 'application/json';
      body = JSON.stringify({ grant_type: TOKEN_EXCHANGE_GRANT, ...Object.fromEntries(form) });
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      form.append('grant_type', TOKEN_EXCHANGE_GRANT);
      if (request.encoding === 'duplicateGrant') form.append('grant_type', TOKEN_EXCHANGE_GRANT);
      body = form.toString();
    }
    result = await send('/token', { method: 'POST', headers, body });
    const records = written;
    if (result.status === 200) {
      expect(mayBeGranted(request)).toBe(true);
      expect(result.body.refresh_token).toBeUndefined();
      expect(records.map((r) => r.event)).toEqual(['exchange.granted']);
    } else {
      expect(result.body.access_token).toBeUndefined();
      expect(server.issuedCount()).toBe(issuedBefore);
      expect(records.map((r) => [r.event, typeof r.rule])).toEqual([['exchange.denied', 'string']]);
    }
  } else if (request.kind === 'introspection' || request.kind === 'revocation') {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    const form = new URLSearchParams({ token: swap(request.token) });
    if (request.duplicate) form.append('token', 'again');
    if (request.hint !== undefined) form.append('token_type_hint', request.hint);
    authOf(request.client, headers, form);
    result = await send(`/token/${request.kind}`, { method: 'POST', headers, body: form.toString() });
    const pooled = request.token.startsWith('POOL:') && !request.duplicate ? pool[Number(request.token.slice(5))]! : undefined;
    const authenticated = request.client !== 'none' && request.client !== 'wrongSecret' && request.client !== 'unknown';
    if (request.kind === 'introspection') {
      if (result.body.active === true && pooled) {
        expect(pooled.revoked).toBe(false);
        expect(request.client).toBe('orders');
      }
    } else {
      const records = written;
      if (pooled && !pooled.revoked && authenticated) {
        const allowed = request.client === 'orders' || request.client === 'console';
        if (allowed) {
          expect(result.status).toBe(200);
          pooled.revoked = true;
        } else {
          expect({ status: result.status, body: result.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: REVOCATION_NOT_ALLOWED } });
        }
      }
      const exchanged = pooled !== undefined || request.token === 'IMP_JWT' || request.token === 'IMP_OPAQUE';
      if (exchanged && result.body.error_description === REVOCATION_NOT_ALLOWED) {
        expect(records.map((r) => [r.event, r.outcome, r.rule])).toEqual([['token.revoked', 'denied', 'revocation_not_allowed']]);
      }
    }
  } else if (request.kind === 'admin') {
    const headers: Record<string, string> = { authorization: `Bearer ${headerSafe(swap(request.token))}` };
    const query = new URLSearchParams(request.query.map(([k, v]): [string, string] => [k, v])).toString();
    const path = `/admin/api/${request.route}${query ? `?${query}` : ''}`;
    if (request.route === 'revocations' || request.route === 'tickets') {
      headers['content-type'] = 'application/json';
      result = await send(path, { method: 'POST', headers, body: request.route === 'tickets' ? request.ticket : request.body });
    } else {
      result = await send(path, { method: 'GET', headers });
    }
    expect(typeof result.body === 'object' && result.body !== null).toBe(true);
  } else {
    throw new Error('unknown case');
  }

  const key = `${request.kind} ${result.status}${written[0]?.rule ? ` ${written[0].rule}` : ''}`;
  stats.set(key, (stats.get(key) ?? 0) + 1);
  expect(result.status).toBeLessThan(500);
  for (const record of written) {
    const json = JSON.stringify(record);
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(AUDIT_RECORD_MAX_BYTES);
    for (const secret of secrets) if (json.includes(secret)) throw new Error(`audit record holds a credential: ${secret.slice(0, 8)}…`);
  }
  for (const line of logs.lines) {
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(LOG_LINE_MAX_BYTES);
    for (const secret of secrets) if (line.includes(secret)) throw new Error(`log line holds a credential: ${secret.slice(0, 8)}…`);
  }
}

describe(`fuzzing every endpoint (${RUNS} cases)`, () => {
  it(
    'never answers 5xx, never issues for an invalid request, audits every refusal, and keeps records and log lines within their bounds',
    async () => {
      await fc.assert(fc.asyncProperty(anyRequest, runCase), { numRuns: RUNS });
    },
    Math.max(120_000, RUNS * 30),
  );
});
