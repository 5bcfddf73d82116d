// Counts what one request costs the store side, for the exchange and its client_credentials
// baseline: the commands this process sends (each costs Node CPU), the round trips they take
// (commands sent in the same turn of the event loop go out in one auto-pipelined write), and the
// operations Redis runs (INFO commandstats, commands inside scripts included).
// Usage: npm run build && node bench/commands-per-request.mjs [N=200]
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { setImmediate } from 'node:timers';
import { createReferenceServer } from '../dist/server/app.js';
import { loadFixtures } from '../dist/server/fixtures.js';
import { createStore } from '../dist/store/index.js';
import { connectRedis } from '../dist/store/redis.js';
import { BILLING, ORDERS, deleteKeys, impersonationBody, signInSupport } from './lib.mjs';

const N = Number(process.argv[2] ?? 200);
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const prefix = `bench:${randomUUID()}:`;
const stats = () => {
  const out = execFileSync('redis-cli', ['-u', url, 'info', 'commandstats']).toString();
  return Object.fromEntries([...out.matchAll(/cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/g)].map(([, name, calls]) => [name, Number(calls)]));
};
const diff = (a, b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]).filter(([, v]) => v > 0));

// Every command the server's client sends; a round trip is a turn of the event loop that sent some.
const sent = { commands: 0, roundTrips: 0 };
let turnOpen = false;
function instrument(client) {
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, ...rest) => {
    sent.commands += 1;
    if (!turnOpen) {
      turnOpen = true;
      sent.roundTrips += 1;
      setImmediate(() => (turnOpen = false));
    }
    return send(command, ...rest);
  };
}

const http = createServer();
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${http.address().port}`;
const backend = await connectRedis(url);
instrument(backend.redisClient);
const server = await createReferenceServer({ issuer, fixtures: await loadFixtures('config', issuer), store: createStore(backend, prefix), auditLog: backend.auditLog(prefix), policy: { rateLimit: false } });
http.on('request', server.provider.callback());
const actor = await signInSupport(issuer);

async function run(auth, body, path = '/token') {
  const before = stats();
  sent.commands = 0;
  sent.roundTrips = 0;
  for (let i = 0; i < N; i += 1) {
    const res = await fetch(`${issuer}${path}`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body });
    if (res.status !== 200) throw new Error(await res.text());
  }
  const per = diff(before, stats());
  return {
    'commands sent': +(sent.commands / N).toFixed(2),
    'round trips': +(sent.roundTrips / N).toFixed(2),
    'operations in Redis': Object.fromEntries(Object.entries(per).map(([k, v]) => [k, +(v / N).toFixed(2)]).filter(([k]) => k !== 'info')),
  };
}

async function token(auth, body) {
  const res = await fetch(`${issuer}/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body });
  return (await res.json()).access_token;
}
const ccToken = await token('plain-client:plain-client-secret', new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://api.example.test/billing' }).toString());
const impToken = await token('support-console:support-console-secret', impersonationBody(actor, BILLING));
const impJwt = await token('support-console:support-console-secret', impersonationBody(actor, ORDERS));

console.log(JSON.stringify({
  'client_credentials opaque': await run('plain-client:plain-client-secret', new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://api.example.test/billing' }).toString()),
  'exchange opaque': await run('support-console:support-console-secret', impersonationBody(actor, BILLING)),
  'exchange jwt': await run('support-console:support-console-secret', impersonationBody(actor, ORDERS)),
  'introspect client_credentials': await run('orders-api:orders-api-secret', new URLSearchParams({ token: ccToken }).toString(), '/token/introspection'),
  'introspect impersonation opaque': await run('orders-api:orders-api-secret', new URLSearchParams({ token: impToken }).toString(), '/token/introspection'),
  'introspect impersonation jwt': await run('orders-api:orders-api-secret', new URLSearchParams({ token: impJwt }).toString(), '/token/introspection'),
}, null, 1));
deleteKeys(url, prefix);
await server.close();
await backend.close();
http.close();
process.exit(0);
