import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { BILLING, ORDERS, TokenType, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let actor: string;

beforeAll(async () => {
  server = await startTestServer({ policy: { rateLimit: false } });
  actor = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

const tokenTypes = fc.constantFrom(...Object.values(TokenType), 'urn:x', '', ' ');
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom('a.b.c', 'eyJ.eyJ.', '%00', '__proto__'));
const param = (value: fc.Arbitrary<string>) => fc.option(fc.oneof(value, fc.array(value, { minLength: 2, maxLength: 3 })), { nil: undefined });

describe('anything a client can send (no 500 for anything a client can send)', () => {
  it('never answers 5xx and never issues a token for malformed requests', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          subject_token: param(fc.oneof(text, fc.constantFrom('alice', 'root', 'carol', 'nobody'))),
          subject_token_type: param(tokenTypes),
          actor_token: param(fc.oneof(text, fc.constant('ACTOR'))),
          actor_token_type: param(tokenTypes),
          requested_token_type: param(tokenTypes),
          requested_expires_in: param(fc.oneof(text, fc.integer().map(String))),
          reason: param(text),
          scope: param(fc.oneof(text, fc.constantFrom('openid', 'orders:read offline_access', 'orders:write'))),
          resource: param(fc.oneof(text, fc.constantFrom(ORDERS, BILLING))),
          audience: param(fc.oneof(text, fc.constantFrom(ORDERS))),
        }),
        async (record) => {
          const params: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(record)) {
            if (value === undefined) continue;
            const swap = (v: string) => (v === 'ACTOR' ? actor : v);
            params[name] = Array.isArray(value) ? value.map(swap) : swap(value);
          }
          const result = await server.exchange(params);
          expect(result.status).toBeLessThan(500);
          if (result.status !== 200) {
            expect(typeof result.body.error).toBe('string');
            expect(result.body.access_token).toBeUndefined();
          } else {
            expect(params.actor_token).toBe(actor);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
