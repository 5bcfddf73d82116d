import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPublicKey } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { SignJWT, type JWK } from 'jose';
import Koa from 'koa';
import {
  AccessDenied,
  createResourceServer,
  denyWhenImpersonated,
  requireScopes,
  type Guard,
  type ResourceServer,
  type VerifiedAccess,
} from '../src/resource-server/index.js';
import { now, testKeys } from './helpers/keys.js';
import { ath, forge, proof, proofKey, realTokens, unsigned, type ProofKey, type RealTokens } from './helpers/resource-tokens.js';
import { BILLING, ORDERS, startTestServer, type TestServer } from './helpers/server.js';

/** One request as a case sends it, built for the base URL of the target (DPoP proofs name it). */
interface Call {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** What a client sees, plus the denial code the resource server logged. */
interface Answer {
  status: number;
  body: unknown;
  challenge: string | null;
  code: string | undefined;
}

/** The routes every target serves, with the same guards. */
const ROUTES: Record<string, Guard[]> = {
  'GET /orders': [requireScopes('orders:read')],
  'POST /orders': [requireScopes('orders:write')],
  'POST /account/password': [denyWhenImpersonated()],
};

/** The success body every target answers: who is calling. */
function present(access: VerifiedAccess): Record<string, unknown> {
  return {
    subject: access.subject,
    actor: access.actor ?? null,
    actor_chain: access.actorChain.map((a) => a.sub),
    scopes: access.scopes,
    impersonated: access.impersonation !== undefined,
    verified_by: access.token.verifiedBy,
  };
}

interface Target {
  readonly name: string;
  readonly base: string;
  send(call: Call): Promise<Answer>;
  close(): Promise<void>;
}

const logged: Array<Record<string, unknown>> = [];

function capturingServer(issuer: string, publicOrigin: string): { api: ResourceServer; lastCode: () => string | undefined; reset: () => void } {
  let code: string | undefined;
  const record = (fields: Record<string, unknown>) => {
    logged.push(fields);
    code = fields.code as string;
  };
  const api = createResourceServer({ issuer, audience: ORDERS, publicOrigin, logger: { info: record, warn: record, error: record } });
  return { api, lastCode: () => code, reset: () => (code = undefined) };
}

async function listen(handler: RequestListener): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function overHttp(base: string, call: Call): Promise<Omit<Answer, 'code'>> {
  const response = await fetch(`${base}${call.path}`, { method: call.method, headers: call.headers, ...(call.body ? { body: call.body } : {}) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, challenge: response.headers.get('www-authenticate') };
}

/** The bare function: a web-standard Request in, AccessDenied.toResponse() out. */
async function bareTarget(issuer: string): Promise<Target> {
  const base = 'http://api.example.test';
  const { api, lastCode, reset } = capturingServer(issuer, base);
  return {
    name: 'verifyRequest',
    base,
    async send(call) {
      reset();
      const request = new Request(`${base}${call.path}`, { method: call.method, headers: call.headers, ...(call.body ? { body: call.body } : {}) });
      let response: Response;
      try {
        const access = await api.verifyRequest(request, ...ROUTES[`${call.method} ${new URL(request.url).pathname}`]!);
        response = call.method === 'GET' ? Response.json(present(access)) : new Response(null, { status: 204 });
      } catch (err) {
        if (!(err instanceof AccessDenied)) throw err;
        response = err.toResponse();
      }
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null, challenge: response.headers.get('www-authenticate'), code: lastCode() };
    },
    close: async () => undefined,
  };
}

async function koaTarget(issuer: string): Promise<Target> {
  let handler: RequestListener = () => undefined;
  const { server, base } = await listen((req, res) => handler(req, res));
  const { api, lastCode, reset } = capturingServer(issuer, base);
  const app = new Koa();
  const routes = Object.fromEntries(Object.entries(ROUTES).map(([route, guards]) => [route, api.koa(...guards)]));
  app.use(async (ctx) => {
    await routes[`${ctx.method} ${ctx.path}`]!(ctx, async () => {
      if (ctx.method === 'GET') ctx.body = present(ctx.state.access as VerifiedAccess);
      else ctx.status = 204;
    });
  });
  handler = app.callback();
  return {
    name: 'koa',
    base,
    send: async (call) => {
      reset();
      return { ...(await overHttp(base, call)), code: lastCode() };
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function expressTarget(issuer: string): Promise<Target> {
  let handler: RequestListener = () => undefined;
  const { server, base } = await listen((req, res) => handler(req, res));
  const { api, lastCode, reset } = capturingServer(issuer, base);
  const app = express();
  app.get('/orders', api.express(...ROUTES['GET /orders']!), (_req, res) => {
    res.json(present(res.locals.access!));
  });
  app.post('/orders', api.express(...ROUTES['POST /orders']!), (_req, res) => {
    res.sendStatus(204);
  });
  app.post('/account/password', api.express(...ROUTES['POST /account/password']!), (_req, res) => {
    res.sendStatus(204);
  });
  handler = app;
  return {
    name: 'express',
    base,
    send: async (call) => {
      reset();
      const answer = await overHttp(base, call);
      // Express answers sendStatus(204) with no body, like the others.
      return { ...answer, code: lastCode() };
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let server: TestServer;
let providerKey: JWK;
let tokens: RealTokens;
let thief: ProofKey;
let targets: Target[];

beforeAll(async () => {
  providerKey = (await testKeys('provider-key', 'RS256')).privateJwk;
  server = await startTestServer({ jwks: { keys: [providerKey] } });
  tokens = await realTokens(server, BILLING);
  thief = await proofKey();
  targets = [await bareTarget(server.issuer), await koaTarget(server.issuer), await expressTarget(server.issuer)];
});
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
  await server.close();
});

const INVALID_TOKEN = 'the access token is invalid, expired or revoked';
const ALGS = 'ES256 ES384 PS256 RS256 EdDSA Ed25519';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A refusal as every target must answer it. */
function refused(status: number, error: string | undefined, description: string, challenge: string, code: string): Answer {
  return { status, body: error ? { error, error_description: description } : { error_description: description }, challenge, code };
}
const invalidToken = (code: string) => refused(401, 'invalid_token', INVALID_TOKEN, `Bearer error="invalid_token", error_description="${INVALID_TOKEN}"`, code);
const invalidProof = (code: string) =>
  refused(401, 'invalid_dpop_proof', 'invalid DPoP proof', `DPoP error="invalid_dpop_proof", error_description="invalid DPoP proof", algs="${ALGS}"`, code);
const accepted = (body: Record<string, unknown>): Answer => ({ status: 200, body, challenge: null, code: undefined });
const noContent: Answer = { status: 204, body: null, challenge: null, code: undefined };

/** A forged token: the impersonated token's claims, signed with the provider's own key, one thing changed. */
const forged = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => forge(providerKey, { ...tokens.claims, ...claims }, header);
/** A DPoP request for `tokens.bound`, with a proof a case may spoil. */
async function dpopCall(target: Target, options: { key?: ProofKey; htm?: string; htu?: string; claims?: Record<string, unknown>; typ?: string; token?: string } = {}): Promise<Call> {
  const token = options.token ?? tokens.bound;
  const proofJwt = await proof(options.key ?? tokens.dpopKey, options.htm ?? 'GET', options.htu ?? `${target.base}/orders`, { ath: ath(token), ...options.claims }, options.typ);
  return { method: 'GET', path: '/orders', headers: { authorization: `DPoP ${token}`, dpop: proofJwt } };
}

interface Case {
  name: string;
  call(target: Target): Promise<Call>;
  expected: () => Answer;
  /** Send the same request twice; the second answer is the one expected. */
  twice?: boolean;
}

const ALICE = { subject: 'alice', actor: null, actor_chain: [], scopes: ['orders:read'], impersonated: false, verified_by: 'jwt' };
const SUPPORT_AS_ALICE = { subject: 'alice', actor: 'support', actor_chain: ['support'], scopes: ['orders:read'], impersonated: true, verified_by: 'jwt' };

const CASES: Case[] = [
  // Who is calling (docs/resource-server.md)
  { name: "accepts alice's own JWT: subject alice, no actor", call: async () => ({ method: 'GET', path: '/orders', headers: bearer(tokens.alice) }), expected: () => accepted(ALICE) },
  { name: 'accepts support acting as alice: subject alice, actor support, impersonated', call: async () => ({ method: 'GET', path: '/orders', headers: bearer(tokens.impersonated) }), expected: () => accepted(SUPPORT_AS_ALICE) },
  {
    name: 'shows the whole chain of a token passed on by orders-api (RFC 8693 §4.1)',
    call: async () => ({ method: 'GET', path: '/orders', headers: bearer(tokens.chained) }),
    expected: () => accepted({ ...SUPPORT_AS_ALICE, actor: 'orders-api', actor_chain: ['orders-api', 'support'] }),
  },
  { name: 'accepts a DPoP-bound token with a proof of its key (RFC 9449 §7)', call: (t) => dpopCall(t), expected: () => accepted(SUPPORT_AS_ALICE) },
  {
    name: 'ignores the query string when matching htu (RFC 9449 §4.3)',
    call: async (t) => ({ ...(await dpopCall(t)), path: '/orders?page=2' }),
    expected: () => accepted(SUPPORT_AS_ALICE),
  },

  // Where the token is (RFC 6750 §2)
  {
    name: 'answers 401 without an error code when no token is sent, offering Bearer and DPoP (RFC 6750 §3.1)',
    call: async () => ({ method: 'GET', path: '/orders', headers: {} }),
    expected: () => refused(401, undefined, 'an access token is required', `Bearer, DPoP algs="${ALGS}"`, 'token_missing'),
  },
  {
    name: 'refuses a token in the query string (RFC 6750 §2.3)',
    call: async () => ({ method: 'GET', path: `/orders?access_token=${tokens.alice}`, headers: {} }),
    expected: () => {
      const text = 'send the access token in the Authorization header, never in the URL or body';
      const params = `error="invalid_request", error_description="${text}"`;
      return refused(400, 'invalid_request', text, `Bearer ${params}, DPoP ${params}, algs="${ALGS}"`, 'token_in_query');
    },
  },
  {
    name: 'never reads a token from a form body (RFC 6750 §2.2): no token',
    call: async () => ({ method: 'POST', path: '/account/password', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `access_token=${tokens.alice}` }),
    expected: () => refused(401, undefined, 'an access token is required', `Bearer, DPoP algs="${ALGS}"`, 'token_missing'),
  },
  {
    name: 'refuses a malformed Authorization header (invalid_request)',
    call: async () => ({ method: 'GET', path: '/orders', headers: { authorization: 'Bearer two words' } }),
    expected: () =>
      refused(400, 'invalid_request', 'the Authorization header is malformed', 'Bearer error="invalid_request", error_description="the Authorization header is malformed"', 'authorization_malformed'),
  },

  // The JWT (RFC 9068 §4)
  { name: 'refuses a JWT whose typ is not at+jwt', call: async () => ({ method: 'GET', path: '/orders', headers: bearer(await forged({}, { typ: 'JWT' })) }), expected: () => invalidToken('token_type') },
  { name: 'refuses a JWT from another issuer', call: async () => ({ method: 'GET', path: '/orders', headers: bearer(await forged({ iss: 'https://evil.example' })) }), expected: () => invalidToken('token_issuer') },
  {
    name: 'refuses a JWT for another audience',
    call: async () => ({ method: 'GET', path: '/orders', headers: bearer(await forged({ aud: 'https://api.example.test/billing' })) }),
    expected: () => invalidToken('token_audience'),
  },
  { name: 'refuses an unsigned JWT (alg none)', call: async () => ({ method: 'GET', path: '/orders', headers: bearer(unsigned(tokens.claims)) }), expected: () => invalidToken('token_algorithm') },
  {
    name: "refuses an HS256 JWT keyed with the provider's public key (algorithm confusion)",
    call: async () => {
      const publicPem = createPublicKey({ key: providerKey as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      const token = await new SignJWT(tokens.claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: providerKey.kid! }).sign(new TextEncoder().encode(String(publicPem)));
      return { method: 'GET', path: '/orders', headers: bearer(token) };
    },
    expected: () => invalidToken('token_algorithm'),
  },
  {
    name: 'refuses a JWT signed with an algorithm off the allow-list (RS512)',
    call: async () => ({ method: 'GET', path: '/orders', headers: bearer(await forge({ ...providerKey, alg: 'RS512' }, tokens.claims)) }),
    expected: () => invalidToken('token_algorithm'),
  },
  { name: 'refuses an expired JWT (beyond the clock tolerance)', call: async () => ({ method: 'GET', path: '/orders', headers: bearer(await forged({ exp: now() - 60 })) }), expected: () => invalidToken('token_expired') },
  { name: 'refuses a JWT whose nbf is in the future', call: async () => ({ method: 'GET', path: '/orders', headers: bearer(await forged({ nbf: now() + 600 })) }), expected: () => invalidToken('token_not_yet_valid') },
  {
    name: "refuses a JWT signed by a key that is not in the issuer's JWKS",
    call: async () => ({ method: 'GET', path: '/orders', headers: bearer(await forge((await testKeys('unknown-key', 'RS256')).privateJwk, tokens.claims)) }),
    expected: () => invalidToken('token_unknown_key'),
  },
  {
    name: "refuses a JWT that names the provider's key but is signed by another",
    call: async () => ({ method: 'GET', path: '/orders', headers: bearer(await forge({ ...(await testKeys('provider-key', 'RS256')).privateJwk }, tokens.claims)) }),
    expected: () => invalidToken('token_signature'),
  },
  {
    name: 'refuses a JWT whose act claim it cannot read, rather than take it for one without an actor',
    call: async () => ({ method: 'GET', path: '/orders', headers: bearer(await forged({ act: { client: 'support' } })) }),
    expected: () => {
      const text = 'the access token names who acts (act) in a form that cannot be read whole, or names too many actors';
      return refused(401, 'invalid_token', text, `Bearer error="invalid_token", error_description="${text}"`, 'token_act');
    },
  },
  { name: 'refuses an opaque token when it verifies JWTs only', call: async () => ({ method: 'GET', path: '/orders', headers: bearer(tokens.opaque) }), expected: () => invalidToken('token_opaque') },

  // Sender constraint (RFC 9449 §4.3, §7)
  {
    name: 'refuses a stolen DPoP-bound token presented as a bearer token',
    call: async () => ({ method: 'GET', path: '/orders', headers: bearer(tokens.bound) }),
    expected: () => {
      const text = 'this access token is DPoP-bound: present it with the DPoP scheme and a proof';
      return refused(401, 'invalid_token', text, `DPoP error="invalid_token", error_description="${text}", algs="${ALGS}"`, 'token_bound_presented_as_bearer');
    },
  },
  {
    name: "refuses a stolen DPoP-bound token with a proof of the thief's key",
    call: (t) => dpopCall(t, { key: thief }),
    expected: () => refused(401, 'invalid_token', 'invalid DPoP key binding', `DPoP error="invalid_token", error_description="invalid DPoP key binding", algs="${ALGS}"`, 'dpop_key_mismatch'),
  },
  {
    name: 'refuses the DPoP scheme without a proof',
    call: async () => ({ method: 'GET', path: '/orders', headers: { authorization: `DPoP ${tokens.bound}` } }),
    expected: () =>
      refused(401, 'invalid_dpop_proof', 'a DPoP proof is required', `DPoP error="invalid_dpop_proof", error_description="a DPoP proof is required", algs="${ALGS}"`, 'dpop_proof_missing'),
  },
  { name: 'refuses a proof made for another URI (htu)', call: (t) => dpopCall(t, { htu: `${t.base}/account/password` }), expected: () => invalidProof('dpop_proof_url') },
  { name: 'refuses a proof made for another method (htm)', call: (t) => dpopCall(t, { htm: 'POST' }), expected: () => invalidProof('dpop_proof_method') },
  { name: 'refuses a proof whose iat is outside the window', call: (t) => dpopCall(t, { claims: { iat: now() - 600 } }), expected: () => invalidProof('dpop_proof_iat') },
  { name: 'refuses a proof whose ath is not the hash of the presented token', call: (t) => dpopCall(t, { claims: { ath: ath(tokens.impersonated) } }), expected: () => invalidProof('dpop_proof_ath') },
  { name: 'refuses a proof whose typ is not dpop+jwt', call: (t) => dpopCall(t, { typ: 'JWT' }), expected: () => invalidProof('dpop_proof_invalid') },
  { name: 'refuses a replayed proof', call: (t) => dpopCall(t), twice: true, expected: () => invalidProof('dpop_proof_replayed') },
  {
    name: 'refuses a token that is not DPoP-bound under the DPoP scheme',
    call: (t) => dpopCall(t, { token: tokens.impersonated }),
    expected: () => {
      const text = 'this access token is not DPoP-bound: present it with the Bearer scheme';
      return refused(401, 'invalid_token', text, `DPoP error="invalid_token", error_description="${text}", algs="${ALGS}"`, 'token_not_bound');
    },
  },

  // Guards (RFC 6750 §3.1 insufficient_scope)
  { name: 'lets alice change her own password', call: async () => ({ method: 'POST', path: '/account/password', headers: bearer(tokens.alice) }), expected: () => noContent },
  ...(['impersonated', 'chained'] as const).map(
    (which): Case => ({
      name: `refuses a password change while someone acts for alice (${which} token)`,
      call: async () => ({ method: 'POST', path: '/account/password', headers: bearer(tokens[which]) }),
      expected: () => {
        const text = 'this action is not allowed while someone else acts for the user';
        return refused(403, 'insufficient_scope', text, `Bearer error="insufficient_scope", error_description="${text}"`, 'impersonated');
      },
    }),
  ),
  {
    name: 'refuses a token without the scope a route requires, naming it',
    call: async () => ({ method: 'POST', path: '/orders', headers: bearer(tokens.alice) }),
    expected: () => {
      const text = 'the access token lacks a required scope';
      return refused(403, 'insufficient_scope', text, `Bearer error="insufficient_scope", error_description="${text}", scope="orders:write"`, 'scope_missing');
    },
  },
];

describe('the resource-server toolkit: verifyRequest, Koa and Express give the same answers (docs/resource-server.md)', () => {
  it.each(CASES)('$name', async (testCase) => {
    const answers: Record<string, Answer> = {};
    for (const target of targets) {
      const call = await testCase.call(target);
      if (testCase.twice) expect((await target.send(call)).status).toBe(200);
      answers[target.name] = await target.send(call);
    }
    const expected = testCase.expected();
    expect(answers).toEqual({ verifyRequest: expected, koa: expected, express: expected });
  });

  it('never writes a token value into an answer, a challenge or a log line', async () => {
    const secrets = [tokens.alice, tokens.impersonated, tokens.chained, tokens.bound, tokens.opaque];
    const answers: unknown[] = [];
    for (const target of targets) {
      for (const token of secrets) {
        for (const headers of [bearer(token), { authorization: `DPoP ${token}` }]) {
          answers.push(await target.send({ method: 'POST', path: '/orders', headers }));
        }
        answers.push(await target.send({ method: 'GET', path: `/orders?access_token=${token}`, headers: {} }));
      }
    }
    const seen = JSON.stringify({ answers, logged });
    expect(logged.length).toBeGreaterThan(CASES.length);
    for (const token of secrets) {
      expect(seen).not.toContain(token);
      expect(seen).not.toContain(token.split('.')[2] ?? token);
    }
  });
});
