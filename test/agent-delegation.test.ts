import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { createOrdersApi } from '../src/server/orders-api.js';
import { ORDERS, ORDERS_API, startTestServer, TokenType, type HttpResult, type TestServer } from './helpers/server.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const AGENT = { id: 'orders-assistant', secret: 'orders-assistant-secret' };
const facts = { ip: undefined, userAgent: undefined, requestId: undefined } as never;

let server: TestServer;
let orders: Server;
let ordersUrl: string;

beforeAll(async () => {
  server = await startTestServer();
  orders = createServer(createOrdersApi({ issuer: server.issuer, introspection: { clientId: ORDERS_API.id, clientSecret: ORDERS_API.secret } }).callback());
  await new Promise<void>((resolve) => orders.listen(0, '127.0.0.1', () => resolve()));
  ordersUrl = `http://127.0.0.1:${(orders.address() as AddressInfo).port}`;
});
afterAll(async () => {
  orders.closeAllConnections();
  await new Promise<void>((resolve) => orders.close(() => resolve()));
  await server.close();
});

async function agentToken(): Promise<string> {
  const cc = await server.post('/token', { grant_type: 'client_credentials', scope: 'orders:read' }, AGENT);
  return cc.body.access_token as string;
}

async function agentCall(token: string, method: 'GET' | 'POST', path: string, form?: Record<string, string>): Promise<HttpResult> {
  const response = await fetch(new URL(path, server.issuer), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    ...(form ? { body: new URLSearchParams(form) } : {}),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

const delegations = () => server.reference.exchange.delegations;

/** The agent asks, alice grants, the agent collects its subject token and exchanges it. */
async function granted(cc: string, choice: { durationSeconds?: number } = {}) {
  const asked = await agentCall(cc, 'POST', '/agent/delegations', { subject: 'alice', scope: 'orders:read', reason: 'Summarise your March orders' });
  expect(asked.status).toBe(201);
  const id = asked.body.id as string;
  await delegations().grant(id, 'alice', { scopes: ['orders:read'], durationSeconds: choice.durationSeconds ?? 900 }, facts);
  const collected = await agentCall(cc, 'GET', `/agent/delegations/${id}`);
  expect(collected.body).toMatchObject({ state: 'active', subject_token_type: TokenType.accessToken });
  const exchanged = await server.exchange(
    { subject_token: collected.body.subject_token as string, subject_token_type: TokenType.accessToken, actor_token: cc, actor_token_type: TokenType.accessToken, resource: ORDERS },
    AGENT,
  );
  return { id, subjectToken: collected.body.subject_token as string, exchanged };
}

describe('delegation to an agent, with the user’s consent', () => {
  it('issues the agent a token naming it as an AI agent actor, read-only, ending with the delegation', async () => {
    const cc = await agentToken();
    const { exchanged } = await granted(cc, { durationSeconds: 900 });
    expect(exchanged.status).toBe(200);
    const payload = decodeJwt(exchanged.body.access_token as string);
    expect(payload).toMatchObject({ sub: 'alice', act: { sub: 'orders-assistant', sub_profile: 'ai_agent' }, scope: 'orders:read', impersonation: { mode: 'read' } });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(900);
    const read = await fetch(`${ordersUrl}/orders`, { headers: { authorization: `Bearer ${exchanged.body.access_token as string}` } });
    expect(read.status).toBe(200);
  });

  it('hands the subject token out once', async () => {
    const cc = await agentToken();
    const { id } = await granted(cc);
    const again = await agentCall(cc, 'GET', `/agent/delegations/${id}`);
    expect(again.status).toBe(200);
    expect(again.body.subject_token).toBeUndefined();
  });

  it('refuses the agent’s next call once the user ends the delegation', async () => {
    const cc = await agentToken();
    const { id, subjectToken, exchanged } = await granted(cc);
    await delegations().end(id, 'alice', facts);
    expect((await server.post('/token/introspection', { token: exchanged.body.access_token as string }, ORDERS_API)).body).toEqual({ active: false });
    const again = await server.exchange({ subject_token: subjectToken, subject_token_type: TokenType.accessToken, actor_token: cc, actor_token_type: TokenType.accessToken, resource: ORDERS }, AGENT);
    expect({ status: again.status, body: again.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'subject_token is invalid, expired or revoked' } });
  });

  it('ends the agent’s tokens when the user pauses, and lets it collect a new one when resumed', async () => {
    const cc = await agentToken();
    const { id, exchanged } = await granted(cc);
    await delegations().pause(id, 'alice', facts);
    expect((await server.post('/token/introspection', { token: exchanged.body.access_token as string }, ORDERS_API)).body).toEqual({ active: false });
    expect((await agentCall(cc, 'GET', `/agent/delegations/${id}`)).body).toMatchObject({ state: 'paused' });
    await delegations().resume(id, 'alice', facts);
    expect((await agentCall(cc, 'GET', `/agent/delegations/${id}`)).body).toMatchObject({ state: 'active', subject_token: expect.any(String) });
  });

  it('refuses a duration beyond the policy maximum', async () => {
    const cc = await agentToken();
    const asked = await agentCall(cc, 'POST', '/agent/delegations', { subject: 'alice', scope: 'orders:read' });
    await expect(delegations().grant(asked.body.id as string, 'alice', { durationSeconds: 7200 }, facts)).rejects.toMatchObject({ status: 400, description: 'duration must be 60 to 3600 seconds' });
  });

  it('refuses a delegation to an agent for a protected account', async () => {
    const cc = await agentToken();
    const asked = await agentCall(cc, 'POST', '/agent/delegations', { subject: 'admin', scope: 'orders:read' });
    expect({ status: asked.status, body: asked.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'this user cannot delegate to this agent' } });
  });

  it('refuses an agent API call without the agent’s client-credentials token', async () => {
    const result = await agentCall('not-a-token', 'POST', '/agent/delegations', { subject: 'alice' });
    expect({ status: result.status, body: result.body, challenge: result.headers.get('www-authenticate') }).toEqual({
      status: 401,
      body: { error: 'invalid_token', error_description: "send the agent's client-credentials access token as a Bearer token" },
      challenge: 'Bearer error="invalid_token"',
    });
  });

  it('refuses a client that is not a declared agent', async () => {
    const cc = await server.post('/token', { grant_type: 'client_credentials', scope: 'orders:read' }, { id: 'service-x', secret: 'service-x-secret' });
    const result = await agentCall(cc.body.access_token as string, 'POST', '/agent/delegations', { subject: 'alice' });
    expect({ status: result.status, body: result.body }).toEqual({ status: 403, body: { error: 'unauthorized_client', error_description: 'this client may not ask for delegations' } });
  });

  it('audits each step with the delegation id', async () => {
    const mark = server.auditMark();
    const cc = await agentToken();
    const { id } = await granted(cc);
    await delegations().end(id, 'alice', facts);
    const events = server.auditSince(mark).map((r) => [r.event, r.delegation_id ?? r.rule]);
    expect(events).toEqual([
      ['delegation.requested', id],
      ['delegation.granted', id],
      ['delegation.collected', id],
      ['exchange.granted', id],
      ['delegation.ended', id],
      ['token.revoked', 'delegation_ended'],
    ]);
  });
});
