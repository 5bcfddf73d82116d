#!/usr/bin/env node
// An AI agent that acts for a user only with their consent (docs/beyond-impersonation.md,
// "Delegation to agents"): it asks, waits for the user to allow it on their account page, then
// reads the user's orders with a token naming it as the actor (act.sub_profile: ai_agent). It
// exchanges a fresh token before each read, so it stops as soon as the user pauses or ends it.
//
//   node examples/agent/orders-assistant.mjs            (with `npm start` running)
//
// Settings (environment): ISSUER (http://localhost:3000), ORDERS_API_URL (http://localhost:3002),
// AGENT_ID / AGENT_SECRET (the orders-assistant fixture), SUBJECT (alice), POLL_MS (2000),
// READS (how many reads before it stops; 0: until refused, the default).

import { URLSearchParams } from 'node:url';

const issuer = (process.env.ISSUER ?? 'http://localhost:3000').replace(/\/$/, '');
const ordersApi = (process.env.ORDERS_API_URL ?? 'http://localhost:3002').replace(/\/$/, '');
const agent = { id: process.env.AGENT_ID ?? 'orders-assistant', secret: process.env.AGENT_SECRET ?? 'orders-assistant-secret' };
const subject = process.env.SUBJECT ?? 'alice';
const pollMs = Number(process.env.POLL_MS ?? 2000);
const reads = Number(process.env.READS ?? 0);
const ORDERS = 'https://api.example.test/orders';
const basic = `Basic ${Buffer.from(`${encodeURIComponent(agent.id)}:${encodeURIComponent(agent.secret)}`).toString('base64')}`;
const say = (line) => process.stdout.write(`${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function token(params) {
  const response = await fetch(`${issuer}/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) });
  return { status: response.status, body: await response.json() };
}

// 1. Its own identity: a client-credentials token (RFC 6749 §4.4), later the actor_token.
const own = await token({ grant_type: 'client_credentials', scope: 'orders:read' });
if (own.status !== 200) throw new Error(`client credentials refused: ${JSON.stringify(own.body)}`);
const agentApi = (path, init = {}) =>
  fetch(`${issuer}/agent/delegations${path}`, { ...init, headers: { authorization: `Bearer ${own.body.access_token}`, ...init.headers } }).then(async (r) => ({ status: r.status, body: await r.json() }));

// 2. It asks the user.
const asked = await agentApi('', {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ subject, scope: 'orders:read', reason: 'Summarise your recent orders' }),
});
if (asked.status !== 201) throw new Error(`asking refused: ${JSON.stringify(asked.body)}`);
say(`asked ${subject} (request ${asked.body.id}); waiting for consent at ${issuer}/account/impersonations`);

// 3. It waits for the user's answer; the first read after consent carries the subject token, once.
let subjectToken;
for (;;) {
  const { body } = await agentApi(`/${asked.body.id}`);
  if (body.subject_token) {
    subjectToken = body.subject_token;
    say(`consent given: ${body.scope} until ${body.until}`);
    break;
  }
  if (['declined', 'expired', 'ended'].includes(body.state)) {
    say(`no consent: ${body.state}`);
    process.exit(1);
  }
  await sleep(pollMs);
}

// 4. It reads the user's orders, as itself acting for the user (RFC 8693 §2.1, §4.1).
for (let n = 1; reads === 0 || n <= reads; n += 1) {
  const exchanged = await token({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: subjectToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    actor_token: own.body.access_token,
    actor_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    resource: ORDERS,
  });
  if (exchanged.status !== 200) {
    say(`refused: ${exchanged.body.error_description} (the delegation was paused or ended)`);
    process.exit(0);
  }
  const response = await fetch(`${ordersApi}/orders`, { headers: { authorization: `Bearer ${exchanged.body.access_token}` } });
  const body = await response.json();
  say(response.ok ? `orders: ${body.orders.map((o) => o.id).join(', ')}` : `orders API refused: ${response.status} ${JSON.stringify(body)}`);
  await sleep(pollMs);
}
